"""How a wire API module registers its handlers, and what every handler gets.

A module of ``api/`` keeps one ``Routes`` table and registers module-level handlers on it::

    routes = Routes()

    @routes.route("GET", "/healthz")
    async def healthz(api: Api, req: Request) -> Response: ...

``mount`` adds a table's handlers to the engine's ``Router``, each guarded the same way:
a ``BackendError`` becomes its JSON answer and status, a ``ValueError`` a 400, and the
engine's durable state is on disk before the client hears a change is done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import BackendError, InvalidRequest
from ..httpserver import Request, Response, Router, error_response, json_response

if TYPE_CHECKING:  # the type only: routing needs nothing of the engine at run time
    from ..engine import Engine

__all__ = ["Api", "Routes", "mount", "body_json", "rfc3339", "check_namespace", "VERSION", "NAMESPACE"]

VERSION = "0.1.0"
#: the one namespace the engine's OpenFaaS routes name (``GET /system/namespaces``)
NAMESPACE = "local"


def check_namespace(given: str | None) -> str:
    """The namespace a request names: the engine's own, or none. Raises: InvalidRequest."""
    if given in (None, "", NAMESPACE):
        return NAMESPACE
    raise InvalidRequest(
        f"namespace {given!r} not found; the engine has one namespace, {NAMESPACE!r}",
        hint=f"leave the namespace out, or give {NAMESPACE}",
    )


@dataclass(frozen=True, slots=True)
class Api:
    """What every handler may use: the engine, how to stop the daemon, and where the
    OpenFaaS deploy route looks for a package named by its image."""

    engine: Engine
    shutdown: Callable[[], None]
    functions_dir: Path | None = None


Handler = Callable[[Api, Request], Awaitable[Response]]


class Routes:
    """One wire API's route table: (methods, path, handler) in registration order."""

    def __init__(self, name: str):
        self.name = name
        self.table: list[tuple[str, str, Handler]] = []

    def route(self, method: str, path: str):
        """Register a handler for ``method`` (``"GET"``, or several: ``"POST|GET"``) on
        ``path`` (exact, or ending in ``/{param}``; see ``Router.add``)."""

        def deco(fn: Handler) -> Handler:
            self.table.append((method, path, fn))
            return fn

        return deco


def mount(router: Router, api: Api, routes: Routes, taken: dict[tuple[str, str], str]) -> None:
    """Add ``routes`` to ``router``. ``taken`` maps (method, path) to the API that has it:
    two APIs registering one route is an error, not a silent override."""
    for method, path, fn in routes.table:
        handler = _guarded(api, fn)
        for m in method.split("|"):
            if (m, path) in taken:
                raise ValueError(f"{m} {path} is registered twice ({taken[m, path]}, {routes.name})")
            taken[m, path] = routes.name
            router.add(m, path, handler)


def _guarded(api: Api, fn: Handler):
    engine = api.engine

    async def route(req: Request) -> Response:
        try:
            return await fn(api, req)
        except BackendError as exc:
            return json_response(exc.to_dict(), exc.http_status)
        except ValueError as exc:
            return error_response(400, str(exc), "invalid")
        finally:
            if engine.dirty:  # on disk before the client hears it is done
                engine.persist()

    route.__name__ = route.__qualname__ = fn.__name__
    return route


def body_json(req: Request) -> dict:
    """The request's JSON body, which must be an object."""
    data = req.json()
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return data


def rfc3339(t: float) -> str:
    """An epoch time as RFC 3339 in UTC with microseconds (``...Z``), as OpenFaaS and the
    Invokers gateway write them."""
    return datetime.fromtimestamp(t or 0, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
