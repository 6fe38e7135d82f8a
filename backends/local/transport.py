"""A small asyncio HTTP/1.1 client for the engine's API (stdlib only).

Why not httpx here: importing httpx costs ~0.2-0.3 s, more than a whole
one-shot ``faastui invoke`` may take, and the engine speaks plain HTTP/1.1 on
loopback. This keeps idle connections alive for reuse (one per concurrent
request), sends Content-Length bodies, reads Content-Length, chunked or
read-until-close responses. Errors are ``ConnectError``, ``TimeoutError`` and
``ProtocolError``; the client maps them.

No request runs twice: a request is re-sent on another connection only when
it was never written (the idle connection was already closed), or when it is
a safe method (GET, HEAD, OPTIONS) and no byte of an answer came back. A POST
whose connection closes without an answer fails with ``ProtocolError``: the
server may have run it. To make that rare, a non-safe request does not reuse
a connection that sat idle longer than ``reuse_idle_s`` (the server may be
closing it at that very moment).

Timeouts use ``asyncio.timeout``, not ``asyncio.wait_for``: on Python 3.11,
``wait_for`` swallows a cancellation that arrives as the inner call finishes,
so Ctrl-C (which cancels the main task) could be lost and a loop run on.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlencode, urlsplit

__all__ = ["HttpTransport", "Response", "TransportError", "ConnectError", "ProtocolError"]

_MAX_HEAD = 64 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TransportError(Exception):
    pass


class ConnectError(TransportError):
    pass


class ProtocolError(TransportError):
    pass


class Response:
    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes):
        self.status_code = status_code
        self.headers = headers
        self.content = content


class _Stale(Exception):
    """A reused connection was closed before any response byte arrived."""


_NOT_RESENT = "the server closed the connection without answering; the request was not re-sent, as it may have run"


class HttpTransport:
    def __init__(
        self,
        base_url: str,
        headers: dict[str, str] | None = None,
        timeout: float = 330.0,
        connect_timeout: float = 5.0,
        max_idle: int = 64,
        reuse_idle_s: float = 2.0,
    ):
        parts = urlsplit(base_url)
        if parts.scheme != "http":
            raise ValueError(f"only http:// URLs are supported, not {base_url!r}")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.host_header = parts.netloc
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self.reuse_idle_s = reuse_idle_s
        # (reader, writer, loop time it went idle)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _connect(self):
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await asyncio.open_connection(self.host, self.port)
        except TimeoutError:
            raise ConnectError(f"connect to {self.host}:{self.port} timed out") from None
        except OSError as exc:
            raise ConnectError(exc.strerror or str(exc)) from None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        content: bytes = b"",
        content_type: str | None = None,
    ) -> Response:
        target = self.prefix + quote(path, safe="/%:@!$&'()*+,;=-._~")
        if params:
            target += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}", f"Content-Length: {len(content)}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(method.upper() in SAFE_METHODS, head, content)
        except TimeoutError:
            raise TimeoutError(f"no answer within {self.timeout:g}s") from None

    async def _exchange(self, safe: bool, head: bytes, content: bytes) -> Response:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # idle connections of another (maybe closed) loop are unusable
            self._idle, stale = [], self._idle
            for _reader, writer, _t in stale:
                try:
                    writer.close()
                except RuntimeError:
                    pass
            self._loop = loop
        now = loop.time()
        while self._idle:
            reader, writer, idle_since = self._idle.pop()
            if reader.at_eof() or writer.is_closing():  # closed while idle: nothing written yet
                writer.close()
                continue
            if not safe and now - idle_since > self.reuse_idle_s:
                writer.close()  # it may be closing on the server's side right now
                continue
            try:
                return await self._send(reader, writer, head, content)
            except _Stale:
                if not safe:
                    raise ProtocolError(_NOT_RESENT) from None
                continue  # a safe request: take another connection / a new one
        reader, writer = await self._connect()
        try:
            return await self._send(reader, writer, head, content)
        except _Stale:
            raise ProtocolError(
                _NOT_RESENT if not safe else "the server closed the connection without answering"
            ) from None

    async def _send(self, reader, writer, head: bytes, content: bytes) -> Response:
        """One exchange; ``_Stale`` when the connection closed before any answer byte."""
        keep = False
        try:
            try:
                writer.write(head + content if len(content) < 65536 else head)
                if len(content) >= 65536:
                    writer.write(content)
                await writer.drain()
            except (ConnectionError, OSError):
                pass  # the server may have answered early (401, 413) and closed: read it
            try:
                status_line = await reader.readline()
            except (ConnectionError, OSError):
                status_line = b""
            if not status_line:
                raise _Stale()
            resp, keep = await self._read_rest(reader, status_line)
            return resp
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise ProtocolError(f"bad response: {exc}") from None
        finally:
            if keep and len(self._idle) < self.max_idle:
                self._idle.append((reader, writer, asyncio.get_running_loop().time()))
            else:
                writer.close()

    async def _read_rest(self, reader: asyncio.StreamReader, status_line: bytes):
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ProtocolError(f"not an HTTP response: {status_line[:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        size = 0
        while True:
            line = await reader.readline()
            size += len(line)
            if size > _MAX_HEAD:
                raise ProtocolError("response headers too large")
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        keep = headers.get("connection", "").lower() != "close" and parts[0] != "HTTP/1.0"
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                n = int((await reader.readline()).split(b";")[0].strip(), 16)
                if n == 0:
                    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(await reader.readexactly(n))
                await reader.readexactly(2)
            body = b"".join(chunks)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body = await reader.read()
            keep = False
        return Response(status, headers, body), keep

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        if self._loop is not asyncio.get_running_loop():
            idle = []  # they belong to another loop; it closed them or will
        for _reader, writer, _t in idle:
            writer.close()
        for _reader, writer, _t in idle:
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError):
                pass
