"""A small HTTP/1.1 server for the engine: asyncio protocol + httptools parser.

Why not a framework: the invoke path is the product's hot path, and a
framework layer costs 0.3-0.5 ms per request on this class of machine
(see PERF_FACTS). This serves keep-alive and pipelined requests in order,
with Content-Length bodies (chunked request bodies are accepted), and
routes by exact path or by ``/prefix/{name}``. Handlers are coroutines
``handler(request) -> Response``.

Hostile clients are bounded by ``HttpLimits`` (all settings, with defaults):
the headers must arrive within ``header_timeout_s`` of the request's first byte
(of the connection, for its first request), the body within ``body_timeout_s``
of the headers, and a keep-alive connection may sit idle ``idle_timeout_s``;
headers are at most ``max_header_bytes``, bodies ``max_body_bytes`` (a bigger
``Content-Length`` is refused with 413 before any of the body is read), and at
most ``max_connections`` are served at once (503 beyond). Auth is checked as
soon as the headers are in, so an unauthenticated body is never read in. A
request refused early is answered in order, then the connection is half-closed
and what the client still sends is dropped for up to ``linger_s`` (a client
that writes its whole body before reading still sees the answer; closing at
once would reset the connection and lose it). One sweeper task enforces the
timeouts for all connections, so the request path pays no timer per request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, fields
from http import HTTPStatus
from typing import Awaitable, Callable
from urllib.parse import parse_qsl

import httptools

__all__ = ["Request", "Response", "StreamResponse", "Router", "HttpServer", "HttpLimits",
           "json_response", "error_response"]

_REASONS = {s.value: s.phrase for s in HTTPStatus}
_now = time.monotonic


@dataclass(frozen=True)
class HttpLimits:
    """What one client may cost the server. Times in seconds, sizes in bytes."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    idle_timeout_s: float = 75.0
    max_header_bytes: int = 64 * 1024
    max_body_bytes: int = 64 * 1024 * 1024
    max_connections: int = 1000
    linger_s: float = 2.0

    @classmethod
    def from_settings(cls, settings: dict | None) -> "HttpLimits":
        """From a settings mapping (the cluster file's ``http:``); unknown keys are an error.

        Raises:
            ValueError: an unknown key, or a value that is not a positive number.
        """
        known = [f.name for f in fields(cls)]
        values = {}
        for key, value in (settings or {}).items():
            if key not in known:
                raise ValueError(f"unknown http setting {key!r}; known: {', '.join(known)}")
            try:
                number = float(value) if key.endswith("_s") else int(value)
            except (TypeError, ValueError):
                raise ValueError(f"http setting {key} must be a number, not {value!r}") from None
            if not number > 0:
                raise ValueError(f"http setting {key} must be above 0")
            values[key] = number
        return cls(**values)

    @property
    def sweep_s(self) -> float:
        """How often the sweeper looks: a quarter of the shortest timeout, 10 ms to 1 s."""
        shortest = min(self.header_timeout_s, self.body_timeout_s, self.idle_timeout_s,
                       self.linger_s)
        return max(0.01, min(1.0, shortest / 4))


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


class StreamResponse(Response):
    """An answer written as it is made (``Transfer-Encoding: chunked``): ``chunks`` is an
    async iterator of bytes. It ends when the iterator does, when the client goes away or
    when the server drains; an empty chunk writes nothing and only lets the server look
    (so a generator that waits for data yields ``b""`` now and then)."""

    __slots__ = ("chunks",)

    def __init__(self, chunks, status: int = 200,
                 content_type: str = "application/octet-stream", headers: list | None = None):
        super().__init__(status, b"", content_type, headers)
        self.chunks = chunks


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
    """One client connection. ``phase`` is what the client owes us next, since ``since``:
    ``idle`` (a next request, or nothing), ``head`` (the rest of the headers), ``body``,
    or ``linger`` (refused: its bytes are dropped until it closes or ``linger_s``)."""

    __slots__ = ("server", "transport", "parser", "url", "headers", "body", "queue", "busy",
                 "closing", "_size", "_head_size", "phase", "since", "refused")

    def __init__(self, server: "HttpServer"):
        self.server = server
        self.transport = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque = deque()
        self.busy = False
        self.closing = False
        self.refused = False
        self.phase = "head"  # a new connection owes its first request's headers
        self.since = _now()
        self._reset()

    def _reset(self):
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self._size = 0
        self._head_size = 0

    # protocol
    def connection_made(self, transport):
        self.transport = transport
        server = self.server
        server.conns.add(self)
        if len(server.conns) - server.lingering > server.limits.max_connections:
            self._refuse(503, f"too many connections (at most {server.limits.max_connections})",
                         "capacity")

    def connection_lost(self, exc):
        self.closing = True
        if self.phase == "linger":
            self.server.lingering -= 1
            self.phase = "gone"
        self.server.conns.discard(self)

    def data_received(self, data: bytes):
        if self.refused:
            return  # lingering: drop what the client still sends
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            if not self.refused:
                raise
        except httptools.HttpParserUpgrade:
            self._refuse(400, "upgrades are not supported")
        except httptools.HttpParserError as exc:
            if self.refused:
                return
            if "Content-Length overflow" in str(exc):
                self._refuse(413, f"request body over {_size(self.server.limits.max_body_bytes)}")
            else:
                self._refuse(400, f"malformed HTTP request: {exc}")

    def _refuse(self, status: int, message: str, kind: str = "invalid", hint: str | None = None,
                response: Response | None = None):
        """Answer ``status`` without reading more of the request; in order, then linger."""
        if self.refused:
            return
        self.refused = True
        resp = response or error_response(status, message, kind, hint)
        if self.busy or self.queue:
            self.queue.append((None, resp))  # after the answers already owed
        else:
            self._write(resp, False)
            self._linger()

    def _linger(self):
        if self.closing or self.phase == "linger":
            return
        self.phase, self.since = "linger", _now()
        self.server.lingering += 1
        transport = self.transport
        if transport.can_write_eof():
            try:
                transport.write_eof()
            except OSError:
                transport.close()
        else:
            transport.close()

    def check(self, now: float) -> None:
        """The sweeper's look at this connection: enforce the phase's timeout."""
        limits = self.server.limits
        phase, age = self.phase, now - self.since
        if phase == "idle":
            if age > limits.idle_timeout_s and not self.busy and not self.queue:
                self.closing = True
                self.transport.close()
        elif phase == "head":
            if age > limits.header_timeout_s:
                self._refuse(408, f"the request headers did not arrive within "
                             f"{limits.header_timeout_s:g}s", "timeout")
        elif phase == "body":
            if age > limits.body_timeout_s:
                self._refuse(408, f"the request body did not arrive within "
                             f"{limits.body_timeout_s:g}s", "timeout")
        elif phase == "linger" and age > limits.linger_s:
            self.transport.abort()

    # parser callbacks
    def on_message_begin(self):
        self._reset()
        if self.phase == "idle":
            self.phase, self.since = "head", _now()

    def on_url(self, url: bytes):
        self.url += url
        self._head_size += len(url)
        if self._head_size > self.server.limits.max_header_bytes:
            self._too_big_head()

    def on_header(self, name: bytes, value: bytes):
        self._head_size += len(name) + len(value) + 4
        if self._head_size > self.server.limits.max_header_bytes:
            self._too_big_head()
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def _too_big_head(self):
        self._refuse(431, f"request headers over {self.server.limits.max_header_bytes} bytes")
        raise _Refused()

    def on_headers_complete(self):
        server, headers = self.server, self.headers
        limit = server.limits.max_body_bytes
        length = headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                self._refuse(400, f"malformed Content-Length {length[:40]!r}")
                raise _Refused() from None
            if too_big:
                self._refuse(413, f"request body over {_size(limit)} (Content-Length {length})")
                raise _Refused()
        if server.auth is not None:  # before a byte of the body is read in
            path, _, qs = self.url.decode("latin-1").partition("?")
            refused = server.auth(Request(self.parser.get_method().decode(), path, qs, headers,
                                          b"", 0.0))
            if refused is not None:
                self._refuse(refused.status, "", response=refused)
                raise _Refused()
        self.phase, self.since = "body", _now()
        if headers.get("expect", "").lower() == "100-continue" and not self.busy and not self.queue:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes):
        self._size += len(body)
        if self._size > self.server.limits.max_body_bytes:
            self._refuse(413, f"request body over {_size(self.server.limits.max_body_bytes)}")
            raise _Refused()
        self.body.append(body)

    def on_message_complete(self):
        if self.closing or self.refused:
            return
        self.phase = "idle"  # the idle clock starts when the answer is written
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
                if req is None:  # a refusal queued behind earlier answers: (None, its Response)
                    self._write(keep, False)
                    self._linger()
                    break
                resp = await self.server.handle(req)
                if self.closing:  # the client went away while we worked
                    break
                keep = keep and not self.server.draining
                if isinstance(resp, StreamResponse):
                    keep = await self._stream(req, resp, keep)
                else:
                    self._write(resp, keep)
                if not keep:
                    self.transport.close()
                    self.closing = True
                elif self.phase == "idle":
                    self.since = _now()
        finally:
            self.busy = False

    async def _stream(self, req: Request, resp: StreamResponse, keep: bool) -> bool:
        """Write ``resp`` chunk by chunk; whether the connection can be kept after it."""
        head = [b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n" % (
            resp.status, _REASONS.get(resp.status, "Unknown").encode(),
            resp.content_type.encode("latin-1"))]
        for name, value in resp.headers:
            head.append(f"{name}: {value}\r\n".encode("latin-1"))
        if not keep:
            head.append(b"Connection: close\r\n")
        transport = self.transport
        transport.write(b"".join(head) + b"\r\n")
        chunks = resp.chunks
        ended = False
        try:
            async for chunk in chunks:
                if self.closing or self.server.draining:
                    break
                if chunk:
                    transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                while transport.get_write_buffer_size() > 1 << 20 and not self.closing:
                    await asyncio.sleep(0.01)  # a slow reader: wait, never buffer it all
            else:
                ended = True
        except Exception as exc:  # a broken stream: cut it (the client sees no terminator)
            if self.server.on_error is not None:
                self.server.on_error(req, exc)
            self.closing = True
            transport.close()
            return False
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        if self.closing:
            return False
        transport.write(b"0\r\n\r\n")
        return keep and ended and not self.server.draining

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


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a request that was refused."""


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 and not n % (1024 * 1024) else f"{n} bytes"


class HttpServer:
    """Serves a Router. ``auth(request) -> Response | None`` may refuse a request; it sees
    the method, path, query and headers only (it runs before the body is read)."""

    def __init__(self, router: Router, auth=None, on_error=None, limits: HttpLimits | None = None):
        self.router = router
        self.auth = auth
        self.on_error = on_error
        self.limits = limits or HttpLimits()
        self.conns: set[_Conn] = set()
        self.lingering = 0
        self.tasks: set[asyncio.Task] = set()
        self.server: asyncio.base_events.Server | None = None
        self._sweeper: asyncio.Task | None = None
        self.sweeps = 0  # sweeper rounds so far (tests wait on it)
        self.draining = False  # stopping: answer what is asked, keep no connection alive
        self._open: asyncio.Event | None = None  # requests wait for it (see open())

    def spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)  # keep a strong reference until it is done
        task.add_done_callback(self.tasks.discard)
        return task

    def hold(self) -> None:
        """Accept connections but hold their requests until ``open()`` (while starting)."""
        if self._open is None:
            self._open = asyncio.Event()

    def open(self) -> None:
        if self._open is not None:
            self._open.set()

    async def handle(self, req: Request) -> Response:
        if self._open is not None and not self._open.is_set():
            await self._open.wait()
        handler, params, known = self.router.match(req.method, req.path)
        if handler is None:
            if known:
                return error_response(405, f"method {req.method} is not allowed on {req.path}",
                                      "invalid")
            return error_response(404, f"no route {req.method} {req.path}", "not_found")
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
        self._sweeper = loop.create_task(self._sweep())
        return self.server.sockets[0].getsockname()[1]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of every socket the server listens on, as bound."""
        if self.server is None:
            return []
        return [sock.getsockname()[:2] for sock in self.server.sockets]

    async def _sweep(self) -> None:
        tick = self.limits.sweep_s
        while True:
            await asyncio.sleep(tick)
            now = _now()
            for conn in list(self.conns):
                conn.check(now)
            self.sweeps += 1

    async def stop_listening(self) -> None:
        """Accept no new connection; those open are served on."""
        if self.server is not None:
            self.server.close()

    async def drain(self, timeout: float) -> int:
        """Stop keeping connections alive, close the idle ones, and wait up to ``timeout``
        for the requests being served. Returns how many connections were still busy."""
        self.draining = True
        self.open()
        deadline = _now() + timeout
        while True:
            busy = 0
            for conn in list(self.conns):
                if conn.busy or conn.queue:
                    busy += 1
                elif conn.phase == "idle" and not conn.closing:
                    conn.closing = True
                    conn.transport.close()
            if not busy or _now() >= deadline:
                return busy
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.server is not None:
            self.server.close()
        for conn in list(self.conns):
            if conn.transport is not None:
                conn.transport.close()
        if self.server is not None:
            await self.server.wait_closed()
