"""The function runtime: loads handlers and runs calls inside a worker process.

A handler is called the way its platform calls it (the ``signature``, chosen by its
package format or, for faastui's own format, from its parameters):

- ``classic``           ``handle(req)``: the body as str; the return value is the answer
- ``http``              ``handle(event, context)``: ``event.body`` bytes, ``.headers``, ...
- ``iluvatar``          ``main(args)``: the JSON body as a dict
- ``nuclio``            ``handler(context, event)``: Nuclio's event and answer rules
- ``fusionizer``        ``handler(context, event, requests_session)``: the same, plus the
                        ``Fusionizer-Server-Address``/``Task-Name`` headers and a session
                        whose calls to fused members run in-process (``session.py``)
- ``openfaas-classic``  ``handle(req)`` under the classic watchdog: the body as text on
                        "stdin", the answer is what it prints plus ``print(ret)``, with the
                        request in ``Http_*`` environment variables
- ``openfaas-http``     ``handle(event, context)`` under the python3-http template
- ``openfaas-flask``    ``handle(req)`` under the python3-flask template
- ``iluvatar-main``     ``main(args)`` under Ilúvatar's agent: the answer is ``json.dumps``

How each return value becomes the answer is in ``answers.py``; what handlers receive in
``events.py``. A worker may host several functions (a fusion group): a call from one
member to another is a plain in-process call; a call to any other function goes through
the engine's gateway over HTTP. Both are counted and reported per call.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Callable

from . import answers, logstamp
from .events import Context, Event, Headers, NuclioEvent, Request, canonical

# Deliberately light: the zygote imports this module and every worker is a fork of it, so
# each module imported here makes every fork copy more page tables. http.client, io and
# requests (for Fusionizer tasks, in session.py) are imported when first needed.

__all__ = ["LoadedFunction", "load_function", "detect_signature", "Runner", "SIGNATURES"]

SIGNATURES = (
    "classic",
    "http",
    "iluvatar",
    "nuclio",
    "fusionizer",
    "openfaas-classic",
    "openfaas-http",
    "openfaas-flask",
    "iluvatar-main",
)
_PACKAGE_PREFIX = "_faastui_fn_"


def detect_signature(func: Callable) -> str:
    """Which platform's entry signature ``func`` has (from its positional parameters)."""
    code = getattr(func, "__code__", None)
    if code is None:
        raise TypeError(f"{func!r} is not a Python function")
    names = code.co_varnames[: code.co_argcount]
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
    raise TypeError(
        f"cannot call {func.__name__}({', '.join(names)}): "
        "expected one of handle(req), handle(event, context), main(args), "
        "handler(context, event[, requests_session])"
    )


class LoadedFunction:
    __slots__ = ("name", "func", "signature", "directory", "env", "paths", "modules")

    def __init__(
        self,
        name: str,
        func: Callable,
        signature: str,
        directory: str,
        env: dict[str, str] | None = None,
        paths: list[str] | None = None,
        modules: dict | None = None,
    ):
        self.name = name
        self.func = func
        self.signature = signature
        self.directory = directory
        self.env = dict(env or {})
        self.paths = list(paths or [])  # its own folder and its requirements' folder
        self.modules = dict(modules or {})  # the modules it imported from those

    def install(self) -> None:
        """Make this function's own modules and folders the ones imports find (a worker)."""
        for path in reversed(self.paths):
            if path in sys.path:
                sys.path.remove(path)
            sys.path.insert(0, path)
        sys.modules.update(self.modules)


def _forget(package: str) -> None:
    for mod in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[mod]


def _module_file(mod) -> str | None:
    path = getattr(mod, "__file__", None)
    if path:
        return path
    search = getattr(mod, "__path__", None)  # a namespace package
    return next(iter(search), None) if search is not None else None


def _take_own_modules(before: set[str], roots: tuple[str, ...]) -> dict:
    """The modules imported since ``before`` from ``roots``, taken out of ``sys.modules``:
    the zygote hosts every function, and each must import its own ``requests``, its own
    ``utils``, in its own version. Workers put them back (``LoadedFunction.install``)."""
    owned = {}
    for name in [m for m in sys.modules if m not in before]:
        if name.startswith(_PACKAGE_PREFIX):
            continue
        path = _module_file(sys.modules[name])
        if path and os.path.realpath(path).startswith(roots):
            owned[name] = sys.modules.pop(name)
    return owned


def load_function(
    name: str, directory: str, handler: str = "", signature: str = "", env: dict[str, str] | None = None
) -> LoadedFunction:
    """Import a function package's handler module as a submodule of a private package
    (so the package's own relative imports work), with the function's folder and its
    requirements first on ``sys.path`` and its environment set while it imports.

    ``handler`` is ``module:func`` (default: the first of handle, main, handler found in
    ``handler.py``).
    """
    module_name, _, func_name = (handler or "handler").partition(":")
    path = os.path.join(directory, module_name.replace(".", os.sep) + ".py")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name}: handler module {module_name!r} not found in the package")
    paths = [p for p in (os.path.realpath(os.path.join(directory, ".deps")), directory) if os.path.isdir(p)]
    roots = tuple(os.path.realpath(p) + os.sep for p in paths)
    package = _PACKAGE_PREFIX + name.replace("-", "_")
    _forget(package)  # a redeploy imports the new version afresh
    import types  # cheap; only a load needs it

    pkg = types.ModuleType(package)
    pkg.__path__ = [directory]
    sys.modules[package] = pkg
    saved_env = {k: os.environ.get(k) for k in (env or {})}
    saved_path = list(sys.path)
    before = set(sys.modules)
    os.environ.update({str(k): str(v) for k, v in (env or {}).items()})
    sys.path[:0] = paths
    try:
        module = importlib.import_module(f"{package}.{module_name}")
    except BaseException:
        _forget(package)
        _take_own_modules(before, roots)
        raise
    finally:
        sys.path[:] = saved_path
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    modules = _take_own_modules(before, roots)
    if not func_name:
        func_name = next((n for n in ("handle", "main", "handler") if callable(getattr(module, n, None))), "")
    func = getattr(module, func_name, None) if func_name else None
    if not callable(func):
        raise AttributeError(f"{name}: no callable {func_name or 'handle/main/handler'} in {module_name}.py")
    sig = signature or detect_signature(func)
    if sig not in SIGNATURES:
        raise ValueError(f"{name}: unknown signature {sig!r}; expected one of {', '.join(SIGNATURES)}")
    if sig == "fusionizer":
        from . import session  # noqa: F401  (imports requests once, before the forks)
    return LoadedFunction(name, func, sig, directory, env, paths, modules)


# ---- inputs ------------------------------------------------------------------


def _encode_input(payload: object) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


def _as_args(body: bytes) -> dict:
    if not body.strip():
        return {}
    value = json.loads(body)
    return value if isinstance(value, dict) else {"value": value}


def _sniff(out: bytes) -> str:
    """Go's DetectContentType for what the classic watchdog sends without a content type."""
    head = out[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<p", b"<div")):
        return "text/html; charset=utf-8"
    try:
        out[:512].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < min(len(out), 512) - 3:
            return "application/octet-stream"
    return "text/plain; charset=utf-8"


def _host(url: str) -> tuple[str, str]:
    """(netloc, host) of a gateway URL, without urllib (kept out of the zygote)."""
    netloc = url.split("://", 1)[-1].split("/", 1)[0]
    host = netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc
    return netloc, host.strip("[]")


class Runner:
    """Runs calls for the functions hosted by one worker process."""

    def __init__(self, functions: dict[str, LoadedFunction], gateway: str = "", token: str = ""):
        self.functions = functions
        self.gateway = gateway
        self.token = token
        self.user_data = type("UserData", (), {})()
        self.calls_local = 0
        self.calls_remote: dict[str, int] = {}
        self.headers_out: list | None = None  # extra answer headers of the last call
        self.gateway_netloc, self.engine_host = _host(gateway) if gateway else ("", "127.0.0.1")
        self.fusionizer_address = ""
        self.fusionizer_port = 0  # the front server's port when it is not upstream's 8000
        self.engine_address = True  # the address is the engine's own (no front server)
        self._conn = None  # http.client.HTTPConnection to the gateway, made on first use
        self._session = None
        self._cgi_keys: list[str] = []
        self._conn_used = 0.0  # when it last carried a call (monotonic)
        self._contexts = {name: Context(self, name) for name in functions}
        for loaded in functions.values():  # the hosted functions' own modules and folders
            loaded.install()

    # ---- one call ----------------------------------------------------------------
    def run(self, fn: str, body: bytes, headers: dict[str, str]) -> tuple[bytes, str, int]:
        calling = logstamp.calling  # what it prints is stamped as this function's (fusion)
        outer, calling.function = calling.function, fn
        try:
            out, ctype, status, extra = self._dispatch(fn, Request(body, headers))
        finally:
            calling.function = outer
        self.headers_out = extra
        return out, ctype, status

    def _dispatch(self, fn: str, req: Request):
        loaded = self.functions[fn]
        sig = loaded.signature
        ctx = self._contexts[fn]
        func = loaded.func
        if sig == "classic":
            return answers.native(func(req.body.decode("utf-8", "replace")))
        if sig == "http":
            return answers.native(func(Event.of(req), ctx))
        if sig == "iluvatar":
            return answers.native(func(_as_args(req.body)))
        if sig == "nuclio":
            return answers.nuclio(func(ctx, NuclioEvent.of(req)))
        if sig == "fusionizer":
            return answers.nuclio(self._task(fn, req))
        if sig == "openfaas-classic":
            return self._watchdog(func, req)
        if sig == "openfaas-http":
            return answers.openfaas_http(func(Event.of(req), ctx))
        if sig == "openfaas-flask":
            raw = os.environ.get("RAW_BODY", "false")
            as_bytes = (len(raw) > 0 and raw.lower() == "true") or raw == "1"
            return answers.flask(func(req.body if as_bytes else req.body.decode("utf-8", "replace")))
        if sig == "iluvatar-main":
            return answers.iluvatar(func(json.loads(req.body) if req.body.strip() else {}))
        raise ValueError(f"{fn}: unknown signature {sig!r}")

    # ---- the Fusionizer -----------------------------------------------------------
    def _task(self, fn: str, req: Request):
        given = req.headers.get("fusionizer-server-address")
        port = req.headers.get("fusionizer-server-port", "")
        saved = self.fusionizer_address, self.engine_address, self.fusionizer_port
        self.fusionizer_address = given or self.engine_host
        self.engine_address = not given
        self.fusionizer_port = int(port) if port.isdigit() and given else 0
        try:
            event = NuclioEvent.of(
                req,
                {"Fusionizer-Server-Address": self.fusionizer_address, "Task-Name": req.headers.get("task-name") or fn},
            )
            return self.functions[fn].func(self._contexts[fn], event, self.session)
        finally:
            self.fusionizer_address, self.engine_address, self.fusionizer_port = saved

    @property
    def session(self):
        if self._session is None:
            from .session import task_session  # requests: imported by the zygote already

            self._session = task_session(self)
        return self._session

    def call_member(self, fn: str, value: object, headers: dict) -> tuple[int, bytes, str]:
        """A fused member called through the session: its event.body is ``value``; the
        answer is ``str()`` of what it returns (Nuclio-style members), else its answer.
        What it prints is stamped as ``fn``'s (``logstamp.calling``)."""
        calling = logstamp.calling
        outer, calling.function = calling.function, fn
        try:
            return self._call_member(fn, value, headers)
        finally:
            calling.function = outer

    def _call_member(self, fn: str, value: object, headers: dict) -> tuple[int, bytes, str]:
        loaded = self.functions[fn]
        ctx = self._contexts[fn]
        hdrs = Headers(headers)
        hdrs.update({"Fusionizer-Server-Address": self.fusionizer_address, "Task-Name": fn})
        if loaded.signature in ("nuclio", "fusionizer"):
            event = NuclioEvent(value, hdrs.get("Content-Type", "application/json"), hdrs)
            args = (ctx, event, self.session) if loaded.signature == "fusionizer" else (ctx, event)
            return 200, str(loaded.func(*args)).encode(), "text/plain; charset=utf-8"
        raw = {k.lower(): v for k, v in hdrs.items()}
        raw.setdefault("content-type", "application/json")
        out, ctype, status, _ = self._dispatch(fn, Request(json.dumps(value).encode(), raw))
        return status, out, ctype

    # ---- the classic watchdog -------------------------------------------------------
    def _cgi_env(self, req: Request) -> None:
        """The request as the classic watchdog passes it (``cgi_headers``)."""
        env = os.environ
        for key in self._cgi_keys:
            env.pop(key, None)
        values = {f"Http_{canonical(k).replace('-', '_')}": v for k, v in req.headers.items()}
        values["Http_Method"] = req.method
        values["Http_ContentLength"] = values["Http_Content_Length"] = str(len(req.body))
        if req.query_string:
            values["Http_Query"] = req.query_string
        values["Http_Path"] = req.path
        env.update(values)
        self._cgi_keys = list(values)

    def _watchdog(self, func: Callable, req: Request):
        import io  # only classic functions need it

        text = req.body.decode("utf-8", "surrogateescape").replace("\r\n", "\n").replace("\r", "\n")
        self._cgi_env(req)
        combine = os.environ.get("combine_output", "true").lower() not in ("false", "0")
        buf = io.StringIO()
        saved = sys.stdout, sys.stderr
        sys.stdout = buf
        if combine:
            sys.stderr = buf
        try:
            ret = func(text)
            if ret is not None:
                print(ret)
        finally:
            sys.stdout, sys.stderr = saved
        out = buf.getvalue().encode("utf-8", "surrogateescape")
        ctype = os.environ.get("content_type") or req.content_type or _sniff(out)
        return out, ctype, 200, None

    # ---- calls between functions ---------------------------------------------------
    def call_other(self, fn: str, payload: object) -> tuple[int, bytes]:
        body = _encode_input(payload)
        if fn in self.functions:
            self.calls_local += 1
            out, _, status = self.run(fn, body, {"content-type": "application/json"})
            return status, out
        self.calls_remote[fn] = self.calls_remote.get(fn, 0) + 1
        return self.gateway_call(fn, body)

    def gateway_call(self, fn: str, body: bytes) -> tuple[int, bytes]:
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
