"""The Invokers gateway: ``/nodes``, ``/prewarm``, ``/dispatch``, with its field names,
durations in integer nanoseconds and times in RFC 3339."""

from __future__ import annotations

import json

from ...errors import InvalidRequest
from ..calls import CallOutcome
from ..httpserver import Request, Response, error_response, json_response
from ..params import field
from .routing import Api, Routes, body_json, rfc3339

__all__ = ["routes", "parse_steps", "input_bytes"]

routes = Routes("invokers")


@routes.route("GET", "/nodes")
async def nodes(api: Api, req: Request) -> Response:
    return json_response([{"NodeName": n, "ClusterIP": "127.0.0.1"} for n in api.engine.nodes])


@routes.route("POST", "/prewarm")
async def prewarm(api: Api, req: Request) -> Response:
    engine = api.engine
    data = body_json(req)
    entries = data.get("nodes")
    if not isinstance(entries, list) or not entries:
        raise InvalidRequest("'nodes' must be a non-empty list of {node, function, warm}")
    for e in entries:  # validate the whole request before acting on any of it
        if not isinstance(e, dict) or not e.get("node") or not e.get("function"):
            raise InvalidRequest("each entry needs 'node' and 'function'")
        field(e, "node", str), field(e, "function", str), field(e, "warm", bool)
        engine.node(str(e["node"]))
        engine.resolve(str(e["function"]))
    results = []
    for e in entries:
        if e.get("warm", True):
            started = await engine.prewarm(str(e["function"]), str(e["node"]), 1)
            results.append(
                {
                    "node": e["node"],
                    "function": e["function"],
                    "warm": True,
                    "coldStartDuration": int(started[0].cold_start_ms * 1e6),
                }
            )
        else:
            stopped = await engine.cool(str(e["function"]), str(e["node"]))
            results.append({"node": e["node"], "function": e["function"], "warm": False, "stopped": stopped})
    return json_response({"results": results})


def parse_steps(data: dict) -> list[tuple[str | None, str]]:
    """A dispatch's ``steps``: (node or None, function) each."""
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InvalidRequest("'steps' must be a non-empty list of {node, function}")
    out = []
    for s in steps:
        if not isinstance(s, dict) or not isinstance(s.get("function"), str) or not s["function"]:
            raise InvalidRequest(f"malformed step {s!r}: needs 'function' (and 'node')")
        node = s.get("node")
        if node is not None and not isinstance(node, str):
            raise InvalidRequest(f"malformed step {s!r}: 'node' must be a string")
        out.append((node or None, s["function"]))
    return out


def input_bytes(value) -> bytes:
    """A dispatch's ``input`` as the first step's body: text as is, anything else as JSON."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


@routes.route("POST", "/dispatch")
async def dispatch(api: Api, req: Request) -> Response:
    data = body_json(req)
    steps = parse_steps(data)
    outs = await api.engine.dispatch(input_bytes(data.get("input")), steps, "chain")
    failed = next((o for o in outs if not o.ok), None)
    if failed is not None:
        return error_response(
            502,
            f"step {len(outs)} ({failed.function}) failed: {failed.error}",
            "invocation_failed",
            results=[_step(o) for o in outs],
        )
    return json_response({"output": outs[-1].output.decode("utf-8", "replace"), "results": [_step(o) for o in outs]})


def _step(o: CallOutcome) -> dict:
    total_ms = o.duration_ms + o.cold_start_ms + o.overhead_ms
    return {
        "output": o.output.decode("utf-8", "replace") if o.ok else (o.error or ""),
        "coldStartDuration": int(round(o.cold_start_ms * 1e6)),
        "runningDuration": int(round(o.duration_ms * 1e6)),
        "startAt": rfc3339(o.started_at),
        "endAt": rfc3339(o.started_at + total_ms / 1000.0),
    }
