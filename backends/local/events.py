"""What handlers receive: the request as each platform shows it, and the context.

- ``Event``: the request as OpenFaaS's python3-http template (and faastui's own
  ``handle(event, context)``) shows it: ``body`` (bytes), ``headers``, ``method``,
  ``query``, ``path``.
- ``NuclioEvent``: as Nuclio's Python runtime shows it: ``body`` is the decoded JSON value
  when the content type is exactly ``application/json`` (bytes otherwise), ``headers``,
  ``method``, ``path``, ``fields`` (the query), ``content_type``, ``id``, ``trigger``, ...
- ``Context``: ``context.logger.{debug,info,warn,error}`` (and ``*_with``, Nuclio's
  structured forms) into the function's log, ``context.Response``, ``context.user_data``,
  ``context.invoke(fn, payload)`` (faastui's own: in-process within a fusion group),
  ``context.hostname`` (OpenFaaS).

Header names keep HTTP's canonical spelling (``Content-Type``, ``Task-Name``) and are
looked up case-insensitively. Kept free of heavy imports: every worker is a fork of a
zygote that imported this.
"""

from __future__ import annotations

import json
import os
import sys
import time
from urllib.parse import parse_qsl

__all__ = ["Headers", "Query", "Request", "Event", "NuclioEvent", "Response", "Logger", "Context", "canonical"]


def canonical(name: str) -> str:
    """HTTP's canonical header spelling (Go's and Werkzeug's): ``x-task-name`` -> ``X-Task-Name``."""
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


class Headers(dict):
    """Request headers: canonical names, looked up in any case."""

    def __init__(self, raw: dict[str, str] | None = None):
        super().__init__((canonical(k), v) for k, v in (raw or {}).items())

    def __getitem__(self, key):
        return super().__getitem__(canonical(key))

    def __contains__(self, key):
        return isinstance(key, str) and super().__contains__(canonical(key))

    def get(self, key, default=None):
        return super().get(canonical(key), default) if isinstance(key, str) else default


class Query(dict):
    """Query arguments: the first value of each name, ``getlist`` for all (Flask's ``args``)."""

    def __init__(self, query_string: str = ""):
        self._pairs = parse_qsl(query_string, keep_blank_values=True) if query_string else []
        super().__init__()
        for k, v in self._pairs:
            self.setdefault(k, v)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._pairs if k == key]


class Request:
    """One call as the worker got it: body, headers (lower-case names), method, path, query."""

    __slots__ = ("body", "headers", "method", "path", "query_string")

    def __init__(self, body: bytes, headers: dict[str, str]):
        headers = dict(headers or {})
        self.method = headers.pop(":method", "POST") or "POST"
        self.path = headers.pop(":path", "/") or "/"
        self.query_string = headers.pop(":query", "")
        self.body = body
        self.headers = headers

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class Event:
    """The request as python3-http (and faastui's ``handle(event, context)``) sees it."""

    def __init__(self, body: bytes, headers, method: str = "POST", path: str = "/", query: dict | str | None = None):
        self.body = body
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.method = method
        self.path = path
        self.query = query if isinstance(query, dict) else Query(query or "")
        self.content_type = self.headers.get("Content-Type", "")
        self.id = self.headers.get("X-Call-Id", "")

    @classmethod
    def of(cls, req: Request) -> Event:
        return cls(req.body, Headers(req.headers), req.method, req.path, Query(req.query_string))

    def json(self):
        return json.loads(self.body or b"null")


class _Trigger:
    def __init__(self, klass: str = "sync", kind: str = "http", name: str = "http"):
        self.klass = klass
        self.kind = kind
        self.name = name


def decode_body(body: bytes, content_type: str):
    """Nuclio's rule: decoded JSON for exactly ``application/json``, else the bytes."""
    if content_type == "application/json":
        try:
            return json.loads(body.decode("utf-8"))
        except Exception as exc:  # as Nuclio: say so on stderr, keep the bytes
            sys.stderr.write(str(exc))
    return body


class NuclioEvent:
    """The request as Nuclio's Python runtime shows it (``nuclio_sdk.Event``)."""

    def __init__(
        self,
        body,
        content_type: str,
        headers: Headers,
        method: str = "POST",
        path: str = "/",
        fields: dict | None = None,
        event_id: str = "",
        url: str = "",
    ):
        self.body = body
        self.content_type = content_type
        self.headers = headers
        self.method = method
        self.path = path or "/"
        self.fields = fields if fields is not None else {}
        self.id = event_id
        self.url = url
        self.size = len(body) if isinstance(body, (bytes, str)) else 0
        self.timestamp = time.time()
        self.trigger = _Trigger()
        self.shard_id = None
        self.num_shards = None
        self.type = None
        self.type_version = None
        self.version = None

    @classmethod
    def of(cls, req: Request, extra_headers: dict | None = None) -> NuclioEvent:
        headers = Headers(req.headers)
        if extra_headers:
            headers.update(extra_headers)
        ctype = req.content_type
        return cls(
            decode_body(req.body, ctype),
            ctype,
            headers,
            req.method,
            req.path,
            dict(Query(req.query_string)),
            headers.get("X-Call-Id", ""),
            req.path + (f"?{req.query_string}" if req.query_string else ""),
        )

    def get_header(self, key: str):
        return self.headers.get(key)


class Response:
    """Nuclio's ``context.Response`` (``nuclio_sdk.Response``: headers first, as there)."""

    def __init__(
        self,
        headers: dict | None = None,
        body: object = None,
        content_type: str | None = None,
        status_code: int = 200,
        event_id=None,
    ):
        self.headers = headers or {}
        self.body = body
        self.status_code = status_code
        self.content_type = content_type or "text/plain"
        self.event_id = event_id

    def __repr__(self) -> str:
        return "Response(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"


_LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}


class Logger:
    """Nuclio's logger: one human-readable line per message into the function's log
    (``Python> <time> [<level>] <message>: {with}``), as Nuclio's local platform prints it."""

    def __init__(self, name: str, level: int = 10):
        self.name = name
        self.level = level
        self._bound: dict = {}

    def _log(self, level: str, message, args, kw) -> None:
        if _LEVELS[level] < self.level:
            return
        text = str(message) % args if args else str(message)
        fields = {**kw, **self._bound}
        more = f": {fields}" if fields else ""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        sys.stderr.write(f"Python> {stamp} [{level}] {text}{more}\n")
        sys.stderr.flush()

    def debug(self, message, *args):
        self._log("debug", message, args, {})

    def info(self, message, *args):
        self._log("info", message, args, {})

    def warn(self, message, *args):
        self._log("warn", message, args, {})

    warning = warn

    def error(self, message, *args):
        self._log("error", message, args, {})

    exception = error

    def debug_with(self, message, *args, **kw):
        self._log("debug", message, args, kw)

    def info_with(self, message, *args, **kw):
        self._log("info", message, args, kw)

    def warn_with(self, message, *args, **kw):
        self._log("warn", message, args, kw)

    def error_with(self, message, *args, **kw):
        self._log("error", message, args, kw)

    def bind(self, **kw):
        self._bound.update(kw)


class Context:
    """What a handler gets as ``context``: log, answer, keep data, call other functions."""

    Response = Response

    def __init__(self, runner, fn: str):
        self._runner = runner
        self.function_name = fn
        self.user_data = runner.user_data
        self.call_id = ""
        self.logger = Logger(fn)
        self.worker_id = os.getpid()
        self.trigger = _Trigger()
        self.hostname = os.getenv("HOSTNAME", "localhost")

    def invoke(self, fn: str, payload: object = None) -> object:
        """Call another function: in-process if it is fused with this one."""
        status, content = self._runner.call_other(fn, payload)
        if status >= 400:
            raise RuntimeError(f"{fn} failed: {content.decode('utf-8', 'replace')[:300]}")
        try:
            return json.loads(content)
        except ValueError:
            return content.decode("utf-8", "replace")
