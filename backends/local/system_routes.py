"""OpenFaaS gateway routes the engine serves beyond its first subset: ``/system/secrets``
(``system_secrets.py``) and ``/system/logs`` (``system_logs.py``), so faas-cli's ``secret``
and ``logs`` commands work against the engine unchanged.

``add_routes(router, engine)`` is the one hook ``api.py`` calls. Each route answers a
``BackendError`` as the engine's other routes do (JSON ``{"error", "kind", "hint"}`` with
the error's status) and names the engine's one namespace where OpenFaaS names one.
"""

from __future__ import annotations

from ..errors import BackendError, InvalidRequest
from .httpserver import Request, Response, Router, json_response

__all__ = ["add_routes", "NAMESPACE", "check_namespace"]

#: the engine's one namespace (what ``GET /system/namespaces`` lists)
NAMESPACE = "local"


def check_namespace(given: str | None) -> str:
    """The namespace a request names: the engine's own, or none. Raises: InvalidRequest."""
    if given in (None, "", NAMESPACE):
        return NAMESPACE
    raise InvalidRequest(f"namespace {given!r} not found; the engine has one namespace, "
                         f"{NAMESPACE!r}", hint=f"leave the namespace out, or give {NAMESPACE}")


def guarded(fn):
    """A route whose BackendError is its answer (the status and text of the error)."""
    async def route(req: Request) -> Response:
        try:
            return await fn(req)
        except BackendError as exc:
            return json_response(exc.to_dict(), exc.http_status)
    return route


def add_routes(router: Router, engine) -> None:
    from . import system_logs, system_secrets

    system_secrets.add_routes(router, engine)
    system_logs.add_routes(router, engine)
