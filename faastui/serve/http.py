"""What the HTTP APIs share: the server, bearer-token checks, JSON bodies and answers.

The server is the engine's own (``backends/local/httpserver.py``: an asyncio protocol over
the httptools parser, keep-alive and pipelining, bounded bodies), chosen by measurement
(``bench/serve.py --servers``, one small JSON route, http.client keep-alive, p50 under
load): 0.077 ms, against 0.135 ms for the stdlib's ThreadingHTTPServer and 0.147 ms for
uvicorn + Starlette (p99 2.9 ms); the invoke path is each API's hot path. Serving HTTP to
clients is this face's job; everything behind a route is a Backend call.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

from backends.local.httpserver import HttpServer, Request, Response, Router

from .base import ServedApi, bearer_ok, bind_error

__all__ = ["HttpApi", "Request", "Response", "Router", "json_answer", "BadBody", "json_object"]

#: seconds calls in flight get to finish when the server stops
STOP_GRACE_S = 5.0


class BadBody(ValueError):
    """The request body is not what the route takes (the message says why)."""


def json_answer(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data, default=str).encode(), "application/json")


def json_object(req: Request) -> dict:
    """The body as a JSON object. Raises BadBody."""
    if not req.body.strip():
        raise BadBody("the request body is empty; expected a JSON object")
    try:
        data = json.loads(req.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadBody(f"the request body must be a JSON object, not {type(data).__name__}")
    return data


class HttpApi(ServedApi):
    """A ServedApi over HTTP: subclasses fill ``routes(router)``; ``public`` paths need no
    token (health checks)."""

    scheme = "http"
    event_loop = "uvloop"
    hostable = True  # an asyncio server: it shares the engine daemon's loop
    public: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, backend, options):
        super().__init__(backend, options)
        self._server: HttpServer | None = None

    def routes(self, router: Router) -> None:
        raise NotImplementedError

    def unauthorized(self) -> Response:
        return json_answer({"error": "missing or wrong bearer token"}, 401)

    def _auth(self, req: Request):
        if req.path in self.public or bearer_ok(req.headers.get("authorization"), self.options.token):
            return None
        return self.unauthorized()

    async def start(self) -> int:
        router = Router()
        self.routes(router)
        self._server = HttpServer(router, auth=self._auth if self.options.token else None)
        try:
            return await self._server.start(self.options.host, self.options.port)
        except OSError as exc:
            raise bind_error(self.name, self.options.host, self.options.port, exc) from None

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        if server.server is not None:
            server.server.close()  # no new connections; calls in flight go on
        busy = [t for t in server.tasks if not t.done()]
        if busy:
            await asyncio.wait(busy, timeout=STOP_GRACE_S)
        await server.close()
