"""The function runtime: loads handlers and runs calls inside a worker process.

One adapter per entry signature, so code written for the common platforms
runs unchanged:

- ``handle(req)``                  OpenFaaS classic / the agent style: ``req`` is the body as str
- ``handle(event, context)``       OpenFaaS python3-http: ``event.body`` bytes, ``.headers``, ...
- ``main(args: dict)``             Ilúvatar: the JSON body as a dict
- ``handler(context, event)``      Nuclio: ``event.body``; ``context.logger``
- ``handler(context, event, requests_session)``  Fusionizer: calls go through the session

A worker may host several functions (a fusion group). A call from one member
to another (``context.invoke("b", payload)`` or ``requests_session.post(".../b")``)
is a plain in-process call; a call to any other function goes back through
the engine's gateway over HTTP. Both are counted and reported per call.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable

# Deliberately light: the zygote imports this module and every worker is a fork
# of it, so each module imported here makes every fork copy more page tables.
# http.client and logging are imported when a handler first needs them.

__all__ = ["LoadedFunction", "load_function", "detect_signature", "encode_output", "Runner"]

SIGNATURES = ("classic", "http", "iluvatar", "nuclio", "fusionizer")


def detect_signature(func: Callable) -> str:
    """Which platform's entry signature ``func`` has (from its positional parameters)."""
    code = getattr(func, "__code__", None)
    if code is None:
        raise TypeError(f"{func!r} is not a Python function")
    names = code.co_varnames[:code.co_argcount]
    if getattr(func, "__self__", None) is not None:  # a bound method
        names = names[1:]
    n = len(names)
    if n >= 3:
        return "fusionizer"
    if n == 2:
        return "nuclio" if names[0].lower().startswith(("context", "ctx")) else "http"
    if n == 1 and func.__name__ == "main":
        return "iluvatar"
    if n == 1:
        return "classic"
    raise TypeError(f"cannot call {func.__name__}({', '.join(names)}): "
                    "expected one of handle(req), handle(event, context), main(args), "
                    "handler(context, event[, requests_session])")


class LoadedFunction:
    __slots__ = ("name", "func", "signature", "directory", "env")

    def __init__(self, name: str, func: Callable, signature: str, directory: str,
                 env: dict[str, str] | None = None):
        self.name = name
        self.func = func
        self.signature = signature
        self.directory = directory
        self.env = dict(env or {})


def load_function(name: str, directory: str, handler: str = "", signature: str = "",
                  env: dict[str, str] | None = None) -> LoadedFunction:
    """Import a function package's handler module under a private module name.

    ``handler`` is ``module:func`` (default: the first of handle, main, handler
    found in ``handler.py``).
    """
    module_name, _, func_name = (handler or "handler").partition(":")
    path = os.path.join(directory, module_name.replace(".", os.sep) + ".py")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name}: handler module {module_name!r} not found in the package")
    deps = os.path.join(directory, ".deps")
    for extra in (deps, directory):
        if os.path.isdir(extra) and extra not in sys.path:
            sys.path.insert(0, extra)
    unique = "_faastui_fn_" + name.replace("-", "_")
    spec = importlib.util.spec_from_file_location(unique, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    if not func_name:
        func_name = next((n for n in ("handle", "main", "handler") if callable(getattr(module, n, None))), "")
    func = getattr(module, func_name, None) if func_name else None
    if not callable(func):
        raise AttributeError(f"{name}: no callable {func_name or 'handle/main/handler'} in {module_name}.py")
    sig = signature or detect_signature(func)
    if sig not in SIGNATURES:
        raise ValueError(f"{name}: unknown signature {sig!r}; expected one of {', '.join(SIGNATURES)}")
    return LoadedFunction(name, func, sig, directory, env)


# ---- what handlers receive ------------------------------------------------------


class Event:
    """The request as python3-http and Nuclio handlers see it."""

    def __init__(self, body: bytes, headers: dict[str, str], method: str = "POST",
                 path: str = "/", query: dict[str, str] | None = None):
        self.body = body
        self.headers = headers
        self.method = method
        self.path = path
        self.query = query or {}
        self.content_type = headers.get("content-type", "")
        self.trigger = type("Trigger", (), {"kind": "http"})()
        self.id = headers.get("x-call-id", "")

    def json(self):
        return json.loads(self.body or b"null")


class Response:
    """Nuclio-style response object (``context.Response(...)``)."""

    def __init__(self, body: object = None, headers: dict | None = None,
                 content_type: str = "", status_code: int = 200):
        self.body = body
        self.headers = headers or {}
        self.content_type = content_type
        self.status_code = status_code


class _SessionResponse:
    def __init__(self, status: int, content: bytes):
        self.status_code = status
        self.content = content
        self.ok = 200 <= status < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)

    def raise_for_status(self):
        if not self.ok:
            raise RuntimeError(f"HTTP {self.status_code}: {self.text[:200]}")


class Session:
    """A requests-like session for Fusionizer handlers: calls to a fused member
    run in-process, any other URL goes to the engine gateway."""

    def __init__(self, runner: "Runner"):
        self._runner = runner

    def post(self, url: str, json: object = None, data: object = None, headers: dict | None = None, **_):
        target = url.rstrip("/").rsplit("/", 1)[-1]
        payload = data if json is None else json
        status, content = self._runner.call_other(target, payload)
        return _SessionResponse(status, content)

    get = post


class Context:
    """What a handler gets as ``context``: invoke other functions, log, keep data."""

    Response = Response

    def __init__(self, runner: "Runner", fn: str):
        self._runner = runner
        self.function_name = fn
        self.user_data = runner.user_data
        self.call_id = ""
        self._logger = None

    @property
    def logger(self):
        if self._logger is None:
            import logging
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
            self._logger = logging.getLogger(self.function_name)
        return self._logger

    def invoke(self, fn: str, payload: object = None) -> object:
        """Call another function: in-process if it is fused with this one."""
        status, content = self._runner.call_other(fn, payload)
        if status >= 400:
            raise RuntimeError(f"{fn} failed: {content.decode('utf-8', 'replace')[:300]}")
        try:
            return json.loads(content)
        except ValueError:
            return content.decode("utf-8", "replace")


# ---- inputs and outputs ------------------------------------------------------


def _encode_input(payload: object) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


def encode_output(value: object) -> tuple[bytes, str, int]:
    """(body, content type, status) for whatever a handler returned."""
    status = 200
    if isinstance(value, Response):
        status = value.status_code
        body, ctype, _ = encode_output(value.body)
        return body, value.content_type or ctype, status
    if isinstance(value, dict) and "statusCode" in value and "body" in value and len(value) <= 3:
        status = int(value.get("statusCode") or 200)
        body, ctype, _ = encode_output(value["body"])
        hdrs = value.get("headers") or {}
        return body, hdrs.get("Content-Type", hdrs.get("content-type", ctype)), status
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), "application/octet-stream", status
    if isinstance(value, str):
        return value.encode(), "text/plain; charset=utf-8", status
    return json.dumps(value, default=str).encode(), "application/json", status


def _as_args(body: bytes) -> dict:
    if not body.strip():
        return {}
    value = json.loads(body)
    return value if isinstance(value, dict) else {"value": value}


class Runner:
    """Runs calls for the functions hosted by one worker process."""

    def __init__(self, functions: dict[str, LoadedFunction], gateway: str = "", token: str = ""):
        self.functions = functions
        self.gateway = gateway
        self.token = token
        self.user_data = type("UserData", (), {})()
        self.calls_local = 0
        self.calls_remote: dict[str, int] = {}
        self._conn = None  # http.client.HTTPConnection to the gateway, made on first use
        self._conn_used = 0.0  # when it last carried a call (monotonic)
        self._contexts = {name: Context(self, name) for name in functions}
        self._session = Session(self)

    def run(self, fn: str, body: bytes, headers: dict[str, str]) -> tuple[bytes, str, int]:
        loaded = self.functions[fn]
        sig = loaded.signature
        ctx = self._contexts[fn]
        if sig == "classic":
            out = loaded.func(body.decode("utf-8", "replace"))
        elif sig == "iluvatar":
            out = loaded.func(_as_args(body))
        elif sig == "http":
            out = loaded.func(Event(body, headers), ctx)
        elif sig == "nuclio":
            event = Event(body, headers)
            if "json" in event.content_type and body:
                event.body = json.loads(body)
            out = loaded.func(ctx, event)
        else:
            out = loaded.func(ctx, Event(body, headers), self._session)
        return encode_output(out)

    def call_other(self, fn: str, payload: object) -> tuple[int, bytes]:
        body = _encode_input(payload)
        if fn in self.functions:
            self.calls_local += 1
            out, _, status = self.run(fn, body, {"content-type": "application/json"})
            return status, out
        self.calls_remote[fn] = self.calls_remote.get(fn, 0) + 1
        return self._http_call(fn, body)

    def _http_call(self, fn: str, body: bytes) -> tuple[int, bytes]:
        import http.client

        if not self.gateway:
            raise RuntimeError(f"cannot call {fn}: no gateway address (FAASTUI_GATEWAY)")
        hostport = self.gateway.split("://", 1)[-1].rstrip("/")
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        # A POST is never sent twice (the gateway may have run it): a connection idle for
        # a while may be closing on the gateway's side, so it is not reused; a send that
        # fails outright is tried once more on a new one; a lost answer is an error.
        if self._conn is not None and time.monotonic() - self._conn_used > 2.0:
            self._conn.close()
            self._conn = None
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(hostport, timeout=300)
            try:
                self._conn.request("POST", f"/function/{fn}", body=body, headers=headers)
            except (ConnectionError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
                continue
            try:
                resp = self._conn.getresponse()
                data = resp.read()
            except (ConnectionError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                raise
            self._conn_used = time.monotonic()
            return resp.status, data
        raise AssertionError("unreachable")

    def take_counts(self) -> tuple[int, dict[str, int]]:
        local, remote = self.calls_local, self.calls_remote
        self.calls_local, self.calls_remote = 0, {}
        return local, remote


def now_ms() -> float:
    return time.perf_counter() * 1000.0
