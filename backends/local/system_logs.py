"""``GET /system/logs`` on the engine: a function's log as OpenFaaS's gateway streams it, so
``faas-cli logs`` (and ``faastui logs`` through an openfaas context) work against the engine.

Parameters (faas-provider's ``logs.Request``): ``name`` (required), ``namespace``,
``instance`` (a container id), ``tail`` (the last N; 0 or less: all the engine keeps),
``follow`` (Go's ParseBool; anything else is false, as there), ``since`` (RFC 3339). The
answer is ``application/x-ndjson``, one ``{"name", "namespace", "instance", "timestamp",
"text"}`` a line, encoded as Go's ``json.Encoder`` writes a ``logs.Message`` (that field
order, ``<``, ``>`` and ``&`` escaped, the time in RFC 3339 with as many digits as it has,
Go's zero time where a line has none). With ``follow`` the stream goes on with each new
line (the log is read from a cursor every ``POLL_S``, through rotations) until the client
goes away or the engine stops. A request that cannot be parsed is 422 (faas-provider's
"could not parse the log request"); an unknown function 404.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

from ..errors import InvalidRequest
from . import logread
from .httpserver import Request, Response, Router, StreamResponse
from .system_routes import check_namespace, guarded

__all__ = ["add_routes", "go_time", "message_line", "POLL_S"]

#: seconds between two reads of a followed log
POLL_S = 0.2
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_ZERO = "0001-01-01T00:00:00Z"


def go_time(t: float | None) -> str:
    """``t`` as Go's ``time.Time`` marshals to JSON (RFC 3339, trailing zeros of the
    fraction dropped, UTC as ``Z``); Go's zero time for None."""
    if t is None:
        return _ZERO
    whole = int(t)
    micro = int(round((t - whole) * 1_000_000))
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    head = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    frac = f"{micro:06d}".rstrip("0")
    return f"{head}.{frac}Z" if frac else f"{head}Z"


def message_line(name: str, namespace: str, instance: str, t: float | None, text: str) -> bytes:
    """One ``logs.Message`` as ``json.Encoder.Encode`` writes it (with its newline)."""
    out = json.dumps({"name": name, "namespace": namespace, "instance": instance,
                      "timestamp": go_time(t), "text": text}, ensure_ascii=False,
                     separators=(",", ":"))
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                       ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        out = out.replace(char, code)
    return out.encode("utf-8") + b"\n"


def _since(text: str) -> float:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"could not parse the log request: since {text!r} is not an "
                             "RFC 3339 time") from None
    if t.tzinfo is None:
        raise InvalidRequest(f"could not parse the log request: since {text!r} has no zone")
    return t.astimezone(UTC).timestamp()


class _Unparsable(InvalidRequest):
    """faas-provider's answer to a log request it cannot parse."""

    http_status = 422


def _parse(req: Request) -> dict:
    q = req.query if req.query_string else {}
    name = q.get("name") or ""
    if not name:
        raise _Unparsable("could not parse the log request: 'name' is required",
                          hint="GET /system/logs?name=FUNCTION")
    tail_text = q.get("tail") or ""
    try:
        tail = int(tail_text) if tail_text else 0
    except ValueError:
        raise _Unparsable(f"could not parse the log request: tail {tail_text!r} is not an "
                          "integer") from None
    try:
        since = _since(q["since"]) if q.get("since") else None
    except InvalidRequest as exc:
        raise _Unparsable(exc.message) from None
    return {"name": name, "namespace": q.get("namespace"), "instance": q.get("instance") or None,
            "tail": tail if tail > 0 else None, "follow": q.get("follow", "") in _TRUE,
            "since": since}


def add_routes(router: Router, engine) -> None:
    async def logs(req: Request) -> Response:
        p = _parse(req)
        ns = check_namespace(p["namespace"])
        spec = engine.resolve(p["name"])
        fn, unit = spec.name, engine.unit_of(spec.name)
        path = engine.logs_dir / f"{unit}.log"
        member = fn if unit != fn else None
        entries, cursor = await asyncio.to_thread(logread.tail, path, p["tail"], since=p["since"],
                                                  instance=p["instance"], function=member)
        first = b"".join(message_line(fn, ns, e.instance, e.time, e.text) for e in entries)
        if not p["follow"]:
            return Response(200, first, "application/x-ndjson")

        async def stream():
            nonlocal cursor
            yield first
            while True:
                await asyncio.sleep(POLL_S)
                try:
                    got, cursor, _lost = await asyncio.to_thread(
                        logread.after, path, cursor, instance=p["instance"], function=member)
                except (OSError, ValueError):
                    return
                if p["since"] is not None:
                    got = [e for e in got if e.time is not None and e.time >= p["since"]]
                yield b"".join(message_line(fn, ns, e.instance, e.time, e.text) for e in got)
                if fn not in engine.functions:  # removed meanwhile: the stream ends
                    return
        return StreamResponse(stream(), 200, "application/x-ndjson")

    router.add("GET", "/system/logs", guarded(logs))
