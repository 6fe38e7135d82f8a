"""A small HTTP/1.1 server for the engine: asyncio protocol + httptools parser.

Why not a framework: the invoke path is the product's hot path, and a
framework layer costs 0.3-0.5 ms per request on this class of machine
(see PERF_FACTS). This serves keep-alive and pipelined requests in order,
with Content-Length bodies (chunked request bodies are accepted), and
routes by exact path or by ``/prefix/{name}``. Handlers are coroutines
``handler(request) -> Response``. Bodies are bounded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from http import HTTPStatus
from typing import Awaitable, Callable
from urllib.parse import parse_qsl

import httptools

__all__ = ["Request", "Response", "Router", "HttpServer", "json_response", "error_response"]

MAX_BODY = 64 * 1024 * 1024
_REASONS = {s.value: s.phrase for s in HTTPStatus}


class Request:
    __slots__ = ("method", "path", "query_string", "headers", "body", "params", "t0")

    def __init__(self, method: str, path: str, query_string: str, headers: dict, body: bytes,
                 t0: float):
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self.body = body
        self.params: dict[str, str] = {}
        self.t0 = t0

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string)) if self.query_string else {}

    def json(self):
        """The body as JSON; raises ValueError with a clear message."""
        if not self.body.strip():
            raise ValueError("the request body is empty; expected JSON")
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ValueError(f"the request body is not valid JSON: {exc}") from None


class Response:
    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(self, status: int = 200, body: bytes | str = b"",
                 content_type: str = "text/plain; charset=utf-8", headers: list | None = None):
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.content_type = content_type
        self.headers = headers or []


def json_response(data, status: int = 200, headers: list | None = None) -> Response:
    return Response(status, json.dumps(data, default=str).encode(), "application/json", headers)


def error_response(code: int, message: str, kind: str = "error", hint: str | None = None,
                   **extra) -> Response:
    """A JSON error answer; ``extra`` fields (e.g. ``status``) go into the body."""
    body = {"error": message, "kind": kind, **extra}
    if hint:
        body["hint"] = hint
    return json_response(body, code)


Handler = Callable[[Request], Awaitable[Response]]


class Router:
    def __init__(self):
        self.exact: dict[tuple[str, str], Handler] = {}
        self.prefix: list[tuple[str, str, str, Handler]] = []  # method, prefix, param, handler

    def add(self, method: str, path: str, handler: Handler) -> None:
        """``path`` is exact, or ends in ``/{param}`` (one trailing segment, may hold '/')."""
        if path.endswith("}") and "{" in path:
            prefix, _, param = path.rpartition("{")
            self.prefix.append((method, prefix, param[:-1], handler))
            self.prefix.sort(key=lambda r: -len(r[1]))
        else:
            self.exact[(method, path)] = handler

    def match(self, method: str, path: str) -> tuple[Handler | None, dict, bool]:
        """(handler, params, path_known)."""
        handler = self.exact.get((method, path))
        if handler is not None:
            return handler, {}, True
        known = False
        for m, prefix, param, handler in self.prefix:
            if path.startswith(prefix) and len(path) > len(prefix):
                if m == method:
                    return handler, {param: path[len(prefix):]}, True
                known = True
        return None, {}, known or any(p == path for (_, p) in self.exact)


class _Conn(asyncio.Protocol):
    __slots__ = ("server", "transport", "parser", "url", "headers", "body", "queue", "busy",
                 "closing", "_size")

    def __init__(self, server: "HttpServer"):
        self.server = server
        self.transport = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque = deque()
        self.busy = False
        self.closing = False
        self._reset()

    def _reset(self):
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self._size = 0

    # protocol
    def connection_made(self, transport):
        self.transport = transport
        self.server.conns.add(self)

    def connection_lost(self, exc):
        self.closing = True
        self.server.conns.discard(self)

    def data_received(self, data: bytes):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "upgrades are not supported")
        except httptools.HttpParserError as exc:
            self._fail(400, f"malformed HTTP request: {exc}")

    def _fail(self, status: int, message: str):
        body = json.dumps({"error": message, "kind": "invalid"}).encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, _REASONS.get(status, "").encode(), len(body), body))
        self.transport.close()
        self.closing = True

    # parser callbacks
    def on_message_begin(self):
        self._reset()

    def on_url(self, url: bytes):
        self.url += url

    def on_header(self, name: bytes, value: bytes):
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes):
        self._size += len(body)
        if self._size > MAX_BODY:
            self._fail(413, f"request body over {MAX_BODY // 1024 // 1024} MB")
            raise httptools.HttpParserError("too large")
        self.body.append(body)

    def on_message_complete(self):
        if self.closing:
            return
        t0 = time.perf_counter()
        raw = self.url.decode("latin-1")
        path, _, qs = raw.partition("?")
        method = self.parser.get_method().decode()
        keep = self.parser.should_keep_alive()
        req = Request(method, path, qs, self.headers, b"".join(self.body), t0)
        self.queue.append((req, keep))
        if not self.busy:
            self.busy = True
            self.server.spawn(self._serve())

    async def _serve(self):
        try:
            while self.queue and not self.closing:
                req, keep = self.queue.popleft()
                resp = await self.server.handle(req)
                if self.closing:  # the client went away while we worked
                    break
                self._write(resp, keep)
                if not keep:
                    self.transport.close()
                    self.closing = True
        finally:
            self.busy = False

    def _write(self, resp: Response, keep: bool):
        head = [b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
            resp.status, _REASONS.get(resp.status, "Unknown").encode(),
            resp.content_type.encode("latin-1"), len(resp.body))]
        for name, value in resp.headers:
            head.append(f"{name}: {value}\r\n".encode("latin-1"))
        if not keep:
            head.append(b"Connection: close\r\n")
        head.append(b"\r\n")
        head.append(resp.body)
        self.transport.write(b"".join(head))


class HttpServer:
    """Serves a Router. ``auth(request) -> Response | None`` may refuse a request."""

    def __init__(self, router: Router, auth=None, on_error=None):
        self.router = router
        self.auth = auth
        self.on_error = on_error
        self.conns: set[_Conn] = set()
        self.tasks: set[asyncio.Task] = set()
        self.server: asyncio.base_events.Server | None = None

    def spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)  # keep a strong reference until it is done
        task.add_done_callback(self.tasks.discard)
        return task

    async def handle(self, req: Request) -> Response:
        handler, params, known = self.router.match(req.method, req.path)
        if handler is None:
            if known:
                return error_response(405, f"method {req.method} is not allowed on {req.path}",
                                      "invalid")
            return error_response(404, f"no route {req.method} {req.path}", "not_found")
        if self.auth is not None:
            refused = self.auth(req)
            if refused is not None:
                return refused
        req.params = params
        try:
            return await handler(req)
        except Exception as exc:  # a bug in a route: report it, keep serving
            if self.on_error is not None:
                self.on_error(req, exc)
            return error_response(500, f"internal error: {type(exc).__name__}: {exc}")

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Conn(self), host, port, backlog=1024,
                                               reuse_address=True)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for conn in list(self.conns):
            if conn.transport is not None:
                conn.transport.close()
        if self.server is not None:
            await self.server.wait_closed()
