"""A Backend for code running inside the engine daemon: ``InProcessBackend``.

It is the ``LocalBackend`` with the HTTP hop taken out. Every method goes through the
engine's own routes (``api/``) as the HTTP client does, but a route is called directly
(``RouterTransport``: a request object in, the route's answer out, no socket, no HTTP
parsing), so errors, shapes and checks are exactly the HTTP API's. The hot path, ``invoke``,
calls ``Engine.invoke`` itself and skips the JSON round trip of the Invocation too.

What it is for: ``faastui serve NAME`` over the embedded engine asks the engine to host the
API (``hosting.py``); the API then calls these methods, still only Backend methods, one
hop from the function's worker instead of two (``bench/serve.py`` measures both).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from ..base import HttpRequest
from ..model import Invocation
from .call_request import pseudo_headers
from .client import LocalBackend, _call
from .httpserver import Request, Router
from .transport import Response

__all__ = ["InProcessBackend", "RouterTransport"]


class RouterTransport:
    """``HttpTransport``'s one method, answered by a Router's handler in this process."""

    def __init__(self, router: Router):
        self.router = router

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        content: bytes = b"",
        content_type: str | None = None,
    ) -> Response:
        query = urlencode({k: v for k, v in params.items() if v is not None}) if params else ""
        headers = {"content-type": content_type} if content_type else {}
        req = Request(method, path, query, headers, content, time.perf_counter())
        handler, req.params, known = self.router.match(method, path)
        if handler is None:
            status = 405 if known else 404
            return Response(status, {}, b'{"error": "no route %s %s"}' % (method.encode(), path.encode()))
        answer = await handler(req)
        return Response(answer.status, {"content-type": answer.content_type}, answer.body)

    async def aclose(self) -> None:
        """Nothing to release: the engine is not this backend's to close."""


class InProcessBackend(LocalBackend):
    """The embedded engine, called from inside its own daemon (see the module docstring)."""

    def __init__(self, engine, router: Router):
        super().__init__(engine.gateway_url or "http://127.0.0.1")
        self.engine = engine
        self._client = RouterTransport(router)

    def _http(self):
        return self._client

    async def aclose(self) -> None:
        """The engine outlives whatever used this backend: nothing to close."""

    async def invoke(
        self, fn: str, payload: Any, node: str | None = None, *, request: HttpRequest | None = None
    ) -> Invocation:
        body, ctype, _params = _call(payload, request)
        headers: dict[str, str] = {"content-type": ctype} if ctype else {}
        if request is not None:  # what /faastui/v1/invoke hands the function, as headers
            headers.update({k.lower(): v for k, v in request.headers.items() if k.lower() != "content-type"})
            headers.update(pseudo_headers(request.method, request.path, request.query))
        out = await self.engine.invoke(fn, body, node=node or None, headers=headers or None, t0=time.perf_counter())
        return out.invocation()
