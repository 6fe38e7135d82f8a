"""The request a function sees, as the engine hands it to a worker, and the headers of
its answer.

The OpenFaaS gateway passes a function everything about the request: its headers
(hop-by-hop ones left out), the method, the path below ``/function/NAME`` and the query.
The engine carries method, path and query to the worker as the pseudo-headers
``:method``, ``:path`` and ``:query`` beside the real ones (``runtime.Request`` reads
them). Functions whose calling convention shows them only the body get the content type
alone, which keeps the invoke path's cached frame header (``bench/engine.py``).
"""

from __future__ import annotations

from .httpserver import Request

__all__ = ["pseudo_headers", "split_function_path", "gateway_headers", "answer_headers"]

_HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
    )
)
_OWN_ANSWER_HEADERS = frozenset(("content-type", "content-length", "connection", "transfer-encoding"))


def pseudo_headers(method: str, path: str, query: str) -> dict:
    """Method, path and query as the pseudo-headers ``runtime.Request`` reads."""
    return {":method": method.upper(), ":path": "/" + path.lstrip("/"), ":query": query.lstrip("?")}


def split_function_path(rest: str) -> tuple[str, str]:
    """``hello/sub/path`` -> (``hello``, ``/sub/path``); the function sees ``/`` without one."""
    name, _, path = rest.partition("/")
    return name, "/" + path


#: calling conventions whose handlers see only the body: they get the content type alone,
#: which keeps the invoke path's cached frame header (bench/engine.py)
_BODY_ONLY = frozenset(("classic", "iluvatar", "iluvatar-main", "openfaas-flask"))


def gateway_headers(req: Request, path: str, signature: str = "") -> dict | None:
    """Everything the OpenFaaS gateway passes to a function: its headers (hop-by-hop ones
    left out), the method, the path below ``/function/NAME`` and the query."""
    if signature in _BODY_ONLY:
        ct = req.headers.get("content-type")
        return {"content-type": ct} if ct else None
    out = {k: v for k, v in req.headers.items() if k not in _HOP_BY_HOP}
    out.update(pseudo_headers(req.method, path, req.query_string))
    return out


def answer_headers(headers: list | None) -> list:
    """The handler's own answer headers (the engine writes type and length itself)."""
    if not headers:
        return []
    return [
        (str(k), str(v))
        for k, v in headers
        if str(k).lower() not in _OWN_ANSWER_HEADERS and "\n" not in f"{k}{v}" and "\r" not in f"{k}{v}"
    ]
