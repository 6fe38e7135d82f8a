"""A small asyncio HTTP/1.1 client for the engine's API (stdlib only).

Why not httpx here: importing httpx costs ~0.2-0.3 s, more than a whole
one-shot ``faastui invoke`` may take, and the engine speaks plain HTTP/1.1 on
loopback. This keeps idle connections alive for reuse (one per concurrent
request), sends Content-Length bodies, reads Content-Length, chunked or
read-until-close responses, and retries a request once when a reused idle
connection turns out to be closed by the server. Errors are ``ConnectError``,
``TimeoutError`` and ``ProtocolError``; the client maps them.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlencode, urlsplit

__all__ = ["HttpTransport", "Response", "TransportError", "ConnectError", "ProtocolError"]

_MAX_HEAD = 64 * 1024


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


class HttpTransport:
    def __init__(self, base_url: str, headers: dict[str, str] | None = None,
                 timeout: float = 330.0, connect_timeout: float = 5.0, max_idle: int = 64):
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
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _connect(self):
        try:
            return await asyncio.wait_for(asyncio.open_connection(self.host, self.port),
                                          self.connect_timeout)
        except asyncio.TimeoutError:
            raise ConnectError(f"connect to {self.host}:{self.port} timed out") from None
        except OSError as exc:
            raise ConnectError(exc.strerror or str(exc)) from None

    async def request(self, method: str, path: str, *, params: dict | None = None,
                      content: bytes = b"", content_type: str | None = None) -> Response:
        target = self.prefix + quote(path, safe="/%:@!$&'()*+,;=-._~")
        if params:
            target += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}",
                 f"Content-Length: {len(content)}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            return await asyncio.wait_for(self._exchange(head, content), self.timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no answer within {self.timeout:g}s") from None

    async def _exchange(self, head: bytes, content: bytes) -> Response:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # idle connections of another (maybe closed) loop are unusable
            self._idle, stale = [], self._idle
            for _reader, writer in stale:
                try:
                    writer.close()
                except RuntimeError:
                    pass
            self._loop = loop
        while self._idle:
            reader, writer = self._idle.pop()
            if reader.at_eof() or writer.is_closing():
                writer.close()
                continue
            try:
                return await self._send(reader, writer, head, content, reused=True)
            except _Stale:
                continue  # the server closed it while idle: take another / a new one
        reader, writer = await self._connect()
        try:
            return await self._send(reader, writer, head, content, reused=False)
        except _Stale:
            raise ProtocolError("the server closed the connection without answering") from None

    async def _send(self, reader, writer, head: bytes, content: bytes, reused: bool) -> Response:
        keep = False
        try:
            try:
                writer.write(head + content if len(content) < 65536 else head)
                if len(content) >= 65536:
                    writer.write(content)
                await writer.drain()
                status_line = await reader.readline()
            except (ConnectionError, OSError) as exc:
                if reused:
                    raise _Stale() from None
                raise ProtocolError(str(exc) or type(exc).__name__) from None
            if not status_line:
                if reused:
                    raise _Stale()
                raise ProtocolError("the server closed the connection without answering")
            resp, keep = await self._read_rest(reader, status_line)
            return resp
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise ProtocolError(f"bad response: {exc}") from None
        finally:
            if keep and len(self._idle) < self.max_idle:
                self._idle.append((reader, writer))
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
        for _reader, writer in idle:
            writer.close()
        for _reader, writer in idle:
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError):
                pass
