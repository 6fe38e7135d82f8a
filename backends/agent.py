"""The agent style: a Python handler given as source text, deployed where no image is built.

An agent (a person, a script, an LLM tool) hands over ``source`` and, optionally, pip
``requirements``; faastui checks them here once, and each platform gets them in its own
form:

- the embedded engine writes a function package (``backends/local/packages.py``);
- Knative (``backends/knative/``) runs ``HARNESS`` in a stock Python image: the
  handler travels base64-encoded in the ``FAASTUI_HANDLER`` environment variable, the
  requirements in ``FAASTUI_REQUIREMENTS``; the harness pip-installs them at start, then
  serves every request on ``$PORT`` by calling the handler;
- Nuclio (``backends/nuclio.py``) builds inline source code: ``nuclio_source`` appends a
  small ``faastui_entry(context, event)`` that adapts Nuclio's calling convention to the
  handler's own.

Every entry signature the engine's runtime knows works unchanged everywhere:
``handle(req)`` (the body as str), ``handle(event, context)`` (OpenFaaS python3-http),
``main(args)`` (a dict, Ilúvatar/OpenWhisk style) and ``handler(context, event)`` (Nuclio).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from .errors import InvalidRequest

__all__ = [
    "HandlerSource",
    "prepare",
    "entry_name",
    "HARNESS",
    "harness_env",
    "nuclio_source",
    "NUCLIO_ENTRY",
    "MAX_SOURCE_BYTES",
]

#: a handler given as text, not a package; bigger code belongs in a folder or a zip. (Knative
#: carries it base64-encoded in one environment variable, which Linux caps at 128 KiB, so
#: backends/knative/ refuses source over about 90 KiB itself.)
MAX_SOURCE_BYTES = 512 * 1024
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")  # a DNS-1123 label
_REQ_BAD = re.compile(r"[\r\n\x00;|&`$]")  # pip gets argv, never a shell; one per line
NUCLIO_ENTRY = "faastui_entry"


@dataclass(frozen=True)
class HandlerSource:
    """Checked handler source: safe to ship to any backend."""

    name: str
    source: str
    entry: str  # handle | main | handler
    requirements: tuple[str, ...] = ()


def entry_name(source: str) -> str:
    """The handler function ``source`` defines: the first of handle, main, handler."""
    for candidate in ("handle", "main", "handler"):
        if re.search(rf"^(async\s+)?def {candidate}\s*\(", source, re.M):
            return candidate
    raise InvalidRequest(
        "handler source defines none of handle(), main(), handler()", hint="define e.g. `def handle(req): return req`"
    )


def prepare(source: str, name: str, requirements: list[str] | tuple[str, ...] | None = None) -> HandlerSource:
    """Check handler source, its name and requirements. Raises InvalidRequest."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidRequest(
            f"invalid function name {name!r}",
            hint="use lower-case letters, digits and '-', 1-63 characters, starting and ending alphanumeric",
        )
    if not isinstance(source, str) or not source.strip():
        raise InvalidRequest("handler source is empty")
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise InvalidRequest(
            f"handler source is over {MAX_SOURCE_BYTES // 1024} KiB", hint="deploy a folder or a zip instead"
        )
    if NUCLIO_ENTRY in source:
        raise InvalidRequest(f"handler source must not define {NUCLIO_ENTRY!r} (faastui's own)")
    try:
        compile(source, "handler.py", "exec")
    except SyntaxError as exc:
        raise InvalidRequest(f"handler source does not compile: line {exc.lineno}: {exc.msg}") from None
    reqs = []
    for req in requirements or ():
        req = str(req).strip()
        if not req:
            continue
        if req.startswith("-") or _REQ_BAD.search(req):
            raise InvalidRequest(
                f"bad requirement {req!r}", hint="one pip requirement each, like 'requests>=2'; no options"
            )
        reqs.append(req)
    return HandlerSource(name, source, entry_name(source), tuple(reqs))


def harness_env(h: HandlerSource) -> dict[str, str]:
    """The environment ``HARNESS`` reads (Knative puts it in the container spec)."""
    env = {
        "FAASTUI_HANDLER": base64.b64encode(h.source.encode()).decode(),
        "FAASTUI_ENTRY": h.entry,
        "FAASTUI_FUNCTION": h.name,
    }
    if h.requirements:
        env["FAASTUI_REQUIREMENTS"] = "\n".join(h.requirements)
    return env


def nuclio_source(h: HandlerSource) -> str:
    """Inline source for Nuclio: the handler plus an entry in Nuclio's convention
    (``handler: "main:faastui_entry"``)."""
    return h.source.rstrip("\n") + "\n\n" + _NUCLIO_ADAPTER.replace("ENTRY", h.entry)


_NUCLIO_ADAPTER = """
# ---- added by faastui: Nuclio's handler(context, event) calling ENTRY --------------
def faastui_entry(context, event):
    import json as _json
    body = event.body
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", "replace")
    text = body if isinstance(body, str) else _json.dumps(body)
    code = ENTRY.__code__
    names = code.co_varnames[:code.co_argcount]
    if len(names) == 2 and names[0].lower().startswith(("context", "ctx")):
        return ENTRY(context, event)
    if len(names) == 1 and ENTRY.__name__ == "main":
        try:
            args = _json.loads(text) if text.strip() else {}
        except ValueError:
            args = {"body": text}
        result = ENTRY(args if isinstance(args, dict) else {"body": args})
    elif len(names) == 2:
        result = ENTRY(event, context)
    else:
        result = ENTRY(text)
    if isinstance(result, dict) and "statusCode" in result and "body" in result:
        body = result["body"]  # OpenFaaS python3-http style: status and body
        ctype = "text/plain" if isinstance(body, (str, bytes)) else "application/json"
        if ctype == "application/json":
            body = _json.dumps(body)
        return context.Response(body=body, headers={}, content_type=ctype,
                                status_code=int(result["statusCode"]))
    if isinstance(result, (str, bytes)):
        return result
    return _json.dumps(result)
"""

#: A self-contained HTTP server around a handler, for a stock ``python:3.x`` image.
#: Standard library only. Run as ``python -c "$HARNESS"`` with ``harness_env`` set.
HARNESS = r"""
import base64, http.server, json, os, subprocess, sys, tempfile, traceback, types

def _fail(msg):
    sys.stderr.write("faastui harness: " + msg + "\n")
    sys.exit(2)

src_b64 = os.environ.get("FAASTUI_HANDLER")
if not src_b64:
    _fail("FAASTUI_HANDLER is not set")
try:
    source = base64.b64decode(src_b64).decode()
except Exception as exc:
    _fail("FAASTUI_HANDLER is not base64 text: %s" % exc)
reqs = [r for r in os.environ.get("FAASTUI_REQUIREMENTS", "").splitlines() if r.strip()]
if reqs:
    target = os.path.join(tempfile.gettempdir(), "faastui-deps")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", "--target", target] + reqs)
    if proc.returncode != 0:
        _fail("installing requirements failed: %s" % " ".join(reqs))
    sys.path.insert(0, target)
module = types.ModuleType("handler")
module.__file__ = "handler.py"
sys.modules["handler"] = module
try:
    exec(compile(source, "handler.py", "exec"), module.__dict__)
except Exception:
    traceback.print_exc()
    _fail("the handler module failed to load")
entry = getattr(module, os.environ.get("FAASTUI_ENTRY") or "handle", None)
if not callable(entry):
    _fail("the handler defines no %s()" % os.environ.get("FAASTUI_ENTRY"))
code = entry.__code__
names = code.co_varnames[:code.co_argcount]
if len(names) == 2:
    kind = "nuclio" if names[0].lower().startswith(("context", "ctx")) else "http"
elif len(names) == 1:
    kind = "iluvatar" if entry.__name__ == "main" else "classic"
else:
    _fail("cannot call %s(%s)" % (entry.__name__, ", ".join(names)))
FUNCTION = os.environ.get("FAASTUI_FUNCTION", "handler")


class Event:
    def __init__(self, body, headers, method, path, query):
        self.body, self.headers, self.method, self.path, self.query = \
            body, headers, method, path, query


class Context:
    def __init__(self):
        self.function_name = FUNCTION
        import logging
        self.logger = logging.getLogger(FUNCTION)


def call(body, headers, method, path, query):
    text = body.decode("utf-8", "replace")
    if kind == "classic":
        return entry(text)
    if kind == "iluvatar":
        try:
            args = json.loads(text) if text.strip() else {}
        except ValueError:
            args = {"body": text}
        return entry(args if isinstance(args, dict) else {"body": args})
    event = Event(body, headers, method, path, query)
    if kind == "nuclio":
        return entry(Context(), event)
    return entry(event, Context())


def encode(result):
    status = 200
    if isinstance(result, dict) and "statusCode" in result and "body" in result:
        status, result = int(result["statusCode"]), result["body"]
    if isinstance(result, (bytes, bytearray)):
        return status, bytes(result), "application/octet-stream"
    if isinstance(result, str):
        return status, result.encode(), "text/plain; charset=utf-8"
    return status, json.dumps(result).encode(), "application/json"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        if path == "/healthz" and self.command == "GET":
            return self._send(200, b"ok", "text/plain")
        try:
            status, out, ctype = encode(call(body, dict(self.headers), self.command, path, query))
        except Exception as exc:
            traceback.print_exc()
            out = json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}).encode()
            return self._send(500, out, "application/json")
        self._send(status, out, ctype)

    def _send(self, status, out, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, *args):
        pass


port = int(os.environ.get("PORT") or 8080)
host = os.environ.get("FAASTUI_BIND", "127.0.0.1")  # the pod's queue-proxy calls localhost
server = http.server.ThreadingHTTPServer((host, port), Handler)
sys.stderr.write("faastui harness: %s (%s) on %s:%d\n" % (FUNCTION, kind, host, server.server_port))
sys.stderr.flush()
server.serve_forever()
"""
