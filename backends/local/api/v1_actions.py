"""faastui's own API, the actions: invoke (sync and async) and results, prewarm,
dispatch (chain or fan-out), fuse and unfuse, scale, deploy (a zip, handler source or a
folder), remove, and stopping the daemon: ``/faastui/v1/...``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ...errors import InvalidRequest
from ..call_request import pseudo_headers
from ..httpserver import Request, Response, json_response
from ..params import field, query_number
from .invokers import input_bytes, parse_steps
from .routing import Api, Routes, body_json
from .v1_reads import V1, function_model

__all__ = ["routes"]

routes = Routes("faastui v1 (actions)")


def _fn_headers(req: Request) -> dict | None:
    """What a /faastui/v1 call hands the function: its content type, and the method,
    path, query and headers the caller gave as parameters (``LocalBackend._call``)."""
    ct = req.headers.get("content-type")
    out = {"content-type": ct} if ct else {}
    if not req.query_string:
        return out or None
    q = req.query
    if "method" in q or "path" in q or "headers" in q or "query" in q:
        try:
            extra = json.loads(q.get("headers") or "{}")
        except ValueError:
            raise InvalidRequest("'headers' must be a JSON object") from None
        if not isinstance(extra, dict):
            raise InvalidRequest("'headers' must be a JSON object")
        out.update({str(k).lower(): str(v) for k, v in extra.items()})
        out.update(pseudo_headers(q.get("method") or "POST", q.get("path") or "/", q.get("query") or ""))
    return out or None


@routes.route("POST", V1 + "/invoke/{name}")
async def invoke(api: Api, req: Request) -> Response:
    out = await api.engine.invoke(
        req.params["name"], req.body, node=req.query.get("node") or None, headers=_fn_headers(req), t0=req.t0
    )
    return json_response(out.to_dict())


@routes.route("POST", V1 + "/async/{name}")
async def invoke_async(api: Api, req: Request) -> Response:
    call_id = await api.engine.invoke_async(req.params["name"], req.body, _fn_headers(req))
    return json_response({"call_id": call_id}, 202, [("X-Call-Id", call_id)])


@routes.route("GET", V1 + "/results/{call_id}")
async def result(api: Api, req: Request) -> Response:
    q = req.query
    record = await api.engine.result(
        req.params["call_id"], query_number(req, "wait", 0.0, float, low=0), keep=q.get("keep") in ("1", "true")
    )
    return json_response(record, 202 if record.get("status") == "pending" else 200)


@routes.route("POST", V1 + "/prewarm")
async def prewarm(api: Api, req: Request) -> Response:
    data = body_json(req)
    count = field(data, "count", int, 1)
    fn = field(data, "function", str, required=True)
    started = await api.engine.prewarm(fn, field(data, "node", str) or None, count)
    return json_response(
        [
            {
                "call_id": c.id,
                "function": str(data["function"]),
                "node": c.node.name,
                "container_state": "prewarm",
                "cold_start_ms": round(c.cold_start_ms, 3),
                "status": "ok",
            }
            for c in started
        ]
    )


@routes.route("POST", V1 + "/dispatch")
async def dispatch(api: Api, req: Request) -> Response:
    data = body_json(req)
    mode = field(data, "mode", str, "chain")
    outs = await api.engine.dispatch(input_bytes(data.get("input")), parse_steps(data), mode)
    values = [o.result_value() for o in outs]  # each output decoded once, for both places
    if mode == "fanout":
        output = values
    else:
        output = values[-1] if outs and outs[-1].ok else None
    steps = [o.to_dict(result=v) for o, v in zip(outs, values)]
    return json_response({"output": output, "mode": mode, "steps": steps})


@routes.route("POST", V1 + "/fuse")
async def fuse(api: Api, req: Request) -> Response:
    data = body_json(req)
    fns = data.get("functions")
    if not isinstance(fns, list) or not all(isinstance(f, str) for f in fns):
        raise InvalidRequest("'functions' must be a list of names")
    group = await api.engine.fuse(fns, field(data, "name", str))
    return json_response(next(g.to_dict() for g in api.engine.fusion_groups() if g.name == group.name))


@routes.route("POST", V1 + "/unfuse")
async def unfuse(api: Api, req: Request) -> Response:
    data = body_json(req)
    return json_response({"functions": await api.engine.unfuse(field(data, "group", str, required=True))})


@routes.route("POST", V1 + "/scale")
async def scale(api: Api, req: Request) -> Response:
    data = body_json(req)
    replicas = field(data, "replicas", int, required=True)
    spec = await api.engine.scale(field(data, "function", str, required=True), replicas)
    return json_response(function_model(api.engine, spec.name).to_dict())


@routes.route("POST", V1 + "/deploy")
async def deploy(api: Api, req: Request) -> Response:
    engine = api.engine
    name = req.query.get("name") or None
    ctype = req.headers.get("content-type", "")
    if "json" in ctype:
        data = body_json(req)
        if "handler" in data:  # the agent style: handler source text
            source = field(data, "handler", str, required=True)
            reqs = field(data, "requirements", (list, str), [])
            if isinstance(reqs, str):
                reqs = reqs.split()
            elif not all(isinstance(r, str) for r in reqs):
                raise InvalidRequest("'requirements' must be an array of strings")
            extra = {
                k: field(data, k, (int, float)) for k in ("memory", "timeout", "deadline_ms") if data.get(k) is not None
            }
            spec = await engine.deploy_source(source, field(data, "id", str) or name, reqs, extra)
        elif "path" in data:
            spec = await engine.deploy_dir(
                Path(field(data, "path", str, required=True)), field(data, "name", str) or name
            )
        else:
            raise InvalidRequest("JSON deploys need 'handler' (source) or 'path' (a folder)")
    else:
        spec = await engine.deploy_zip(req.body, name, req.query.get("source") or None)
    return json_response(function_model(engine, spec.name).to_dict(), 201)


@routes.route("DELETE", V1 + "/functions/{name}")
async def remove(api: Api, req: Request) -> Response:
    await api.engine.remove(req.params["name"])
    return json_response({"removed": req.params["name"]})


@routes.route("POST", V1 + "/shutdown")
async def shutdown(api: Api, req: Request) -> Response:
    asyncio.get_running_loop().call_soon(api.shutdown)
    return json_response({"stopping": True}, 202)
