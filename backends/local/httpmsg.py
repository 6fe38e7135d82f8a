"""What the engine's HTTP server carries: ``Request`` and ``Response`` (and the streamed
``StreamResponse``), the JSON answers every route gives (``json_response``,
``error_response``), the ``Router`` that finds a handler for a method and path, and
``HttpLimits``, what one client may cost. ``httpserver.py`` is the connection side
(parsing, keep-alive, the limits enforced) and re-exports these names.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from urllib.parse import parse_qsl

__all__ = [
    "Request",
    "Response",
    "StreamResponse",
    "Router",
    "Handler",
    "HttpLimits",
    "json_response",
    "error_response",
]


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
    def from_settings(cls, settings: dict | None) -> HttpLimits:
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
        shortest = min(self.header_timeout_s, self.body_timeout_s, self.idle_timeout_s, self.linger_s)
        return max(0.01, min(1.0, shortest / 4))


class Request:
    __slots__ = ("method", "path", "query_string", "headers", "body", "params", "t0")

    def __init__(self, method: str, path: str, query_string: str, headers: dict, body: bytes, t0: float):
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

    def __init__(
        self,
        status: int = 200,
        body: bytes | str = b"",
        content_type: str = "text/plain; charset=utf-8",
        headers: list | None = None,
    ):
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

    def __init__(
        self, chunks, status: int = 200, content_type: str = "application/octet-stream", headers: list | None = None
    ):
        super().__init__(status, b"", content_type, headers)
        self.chunks = chunks


def json_response(data, status: int = 200, headers: list | None = None) -> Response:
    return Response(status, json.dumps(data, default=str).encode(), "application/json", headers)


def error_response(code: int, message: str, kind: str = "error", hint: str | None = None, **extra) -> Response:
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
                    return handler, {param: path[len(prefix) :]}, True
                known = True
        return None, {}, known or any(p == path for (_, p) in self.exact)
