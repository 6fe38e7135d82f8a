"""A fake Nuclio dashboard for tests, written from Nuclio's public API because Nuclio
itself cannot run here (it builds images with Docker and runs them on Kubernetes).

What is real: an HTTP server on 127.0.0.1 answering the dashboard's REST routes, and for
every deployed function a real Python process that imports the decoded inline source and
serves HTTP on a free loopback port with Nuclio's Python calling convention (``SHIM``).
Invocations through ``/api/function_invocations`` are forwarded to that process.

Read from the Nuclio source (github.com/nuclio/nuclio):
- ``pkg/dashboard/resource/function.go``: ``GET /api/functions`` (a map name ->
  ``{metadata, spec, status}``), ``GET /api/functions/{name}`` (404 "Function not found"),
  ``POST`` (409 "Cannot create two functions with the same name", then 202 with no body once
  the state reads "building"), ``PUT /api/functions/{name}`` (202), ``DELETE /api/functions``
  with the name in the body's metadata (204, idempotent), ``GET .../{name}/replicas`` and
  ``.../{name}/logs/{replica}?follow=&tailLines=``; headers ``x-nuclio-function-namespace``,
  ``x-nuclio-project-name`` (sets the ``nuclio.io/project-name`` label, filters lists),
  ``x-nuclio-wait-function-action``, ``x-nuclio-delete-function-ignore-state-validation``.
- ``pkg/dashboard/resource/invocation.go`` and ``pkg/platform/abstract/invoker.go``:
  ``x-nuclio-function-name``, ``x-nuclio-path`` (leading "/" trimmed), ``x-nuclio-invoke-via``,
  ``x-nuclio-invoke-timeout`` (a Go duration; 400 "Invalid invoke timeout"); the function's
  status, headers (minus ``x-nuclio*``) and body come back as they are; an unknown function
  is 404 ``{"error": "Failed to invoke function: Function not found: NAME @ NAMESPACE"}``.
- ``pkg/restful/resource.go``: errors are ``{"error": ..., "errorStackTrace": ...}``.
- ``pkg/platform/abstract/platform.go``: reserved names (412), min/max replica rules (400),
  "Function is being provisioned and cannot be deleted" (412), min/max enrichment,
  the default project label and http trigger.
- ``pkg/functionconfig/types.go``: the config and status fields and the state names.
- nuclio-sdk-py: ``Event.decode_body`` (a JSON body reaches the handler parsed only when the
  content type is exactly ``application/json``) and ``Response.from_entrypoint_output``;
  ``event.headers`` keyed by Go's canonical header names (the Go processor's
  ``http.Header``), so ``event.headers["Task-Name"]`` works whatever case a client sent.

Smaller or stricter than Nuclio, on purpose:
- only inline Python source builds (``spec.build.functionSourceCode``); runtime, handler
  and base64 are checked at once (400) where Nuclio fails the build later (state error);
- ``build.commands`` must each be ``pip install ...``; they are recorded
  (``FakeFunction.commands``) and never run, so tests never reach the network;
- runtimes ``python:3.9`` .. ``python:3.12``, all run by this interpreter;
- one replica process per function, no scale to zero; logs with ``follow=false`` only
  (``since``, a Go duration, and ``tailLines``: each output line is kept with the time it
  came, as Kubernetes keeps it);
- ``GET /api/namespaces`` (``namespaces.go``): ``{"namespaces": {"names": [...]}}``, the
  dashboard's namespace, ``namespaces`` given to the fake and those functions live in.
Unknown JSON keys are ignored, as Go's ``json.Unmarshal`` ignores them; wrong types are 400.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

__all__ = ["FakeNuclioDashboard", "FakeFunction", "running_dashboard", "PYTHON_RUNTIMES", "SHIM"]

PYTHON_RUNTIMES = ("python:3.9", "python:3.10", "python:3.11", "python:3.12")
RESERVED_NAMES = ("dashboard", "controller", "dlx", "scaler")
PROJECT_LABEL = "nuclio.io/project-name"
PROVISIONED = ("ready", "error", "unhealthy", "scaledToZero", "imported")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HANDLER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):([A-Za-z_][A-Za-z0-9_]*)$")
_PIP = re.compile(r"^pip install \S.*$")
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "date", "server"}
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class _Reply(Exception):
    """An answer decided deep in a route: raised, then written by the request handler."""

    def __init__(self, status: int, body: bytes = b"", ctype: str | None = None):
        super().__init__(status)
        self.status, self.body, self.ctype = status, body, ctype


def _error(status: int, message: str) -> _Reply:
    return _Reply(status, json.dumps({"error": message, "errorStackTrace": ""}).encode(),
                  "application/json")


def _invocation_error(status: int, message: str) -> _Reply:
    """As invocation.go writes it: ``{"error": "%s"}`` by format string, quotes unescaped."""
    return _Reply(status, ('{"error": "%s"}' % message).encode(), "application/json")


def go_duration(text: str) -> float:
    """Seconds in a Go duration ("30s", "1m30s", "500ms"). Raises ValueError."""
    parts = re.findall(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(text)
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)


@dataclass
class FakeFunction:
    """One function as the fake keeps it."""

    name: str
    namespace: str
    metadata: dict
    spec: dict
    status: dict
    commands: list[str] = field(default_factory=list)
    generation: int = 0
    process: subprocess.Popen | None = None
    replica: str = ""
    log_path: str = ""
    port: int = 0

    def attributes(self) -> dict:
        return {"metadata": self.metadata, "spec": self.spec, "status": self.status}


class FakeNuclioDashboard:
    """Start with ``start()`` (or ``running_dashboard()``); ``url`` is its address.

    Args: namespace: the dashboard's default namespace; build_delay: seconds a build stays
    "building" before the process starts; authorization: if set, the exact
    ``Authorization`` header every ``/api`` call must carry; projects: the projects that exist.
    """

    def __init__(self, *, namespace: str = "nuclio", build_delay: float = 0.15,
                 start_timeout: float = 20.0, authorization: str | None = None,
                 projects: tuple[str, ...] = ("default",), namespaces: tuple[str, ...] = ()):
        self.namespace = namespace
        self.namespaces = set(namespaces)
        self.build_delay = build_delay
        self.start_timeout = start_timeout
        self.authorization = authorization
        self.projects = set(projects)
        self.functions: dict[tuple[str, str], FakeFunction] = {}
        self.requests: list[dict] = []  # {"method", "path", "headers" (lower-case keys)}
        self.processes: list[subprocess.Popen] = []  # every replica ever started
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self._tmp = ""

    # ---- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeNuclioDashboard":
        self._tmp = tempfile.mkdtemp(prefix="fake-nuclio-")
        handler = type("Handler", (_Handler,), {"dashboard": self})
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = False  # server_close() joins every request thread
        self._serve_thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                              name="fake-nuclio-server", daemon=True)
        self._serve_thread.start()
        return self

    def stop(self) -> None:
        """Stop builds, every replica process and the server; remove the temp dir."""
        self._stopping.set()
        with self._lock:
            procs = list(self.processes)
        for proc in procs:
            _kill(proc)
        for thread in list(self._threads):
            thread.join(timeout=self.start_timeout + 5)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._serve_thread.join(timeout=5)
        for proc in procs + self.processes:
            _kill(proc)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def live_threads(self) -> list[threading.Thread]:
        return [t for t in self._threads + [self._serve_thread] if t is not None and t.is_alive()]

    def function(self, name: str, namespace: str | None = None) -> FakeFunction:
        return self.functions[(namespace or self.namespace, name)]

    # ---- one request ---------------------------------------------------------------------
    def handle(self, req: "_Handler") -> None:
        path, _, query = req.path.partition("?")
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in req.headers.items()}
        with self._lock:
            self.requests.append({"method": req.command, "path": path, "headers": headers})
        extra: dict[str, str] = {}
        try:
            if path.startswith("/api/"):
                self._authorize(headers)
            status, out, ctype, extra = self._route(req.command, path, query, headers, body,
                                                    list(req.headers.items()))
        except _Reply as reply:
            status, out, ctype = reply.status, reply.body, reply.ctype
        except Exception as exc:  # a bug in the fake: say so, as a 500
            status, ctype = 500, "application/json"
            out = json.dumps({"error": f"fake: {exc!r}"}).encode()
        req.send_response(status)
        if ctype:
            req.send_header("Content-Type", ctype)
        for key, value in extra.items():
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(out)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(out)

    def _authorize(self, headers: dict) -> None:
        if self.authorization is None:
            return
        given = headers.get("authorization", "")
        if not given and not headers.get("cookie"):
            raise _error(403, "Authentication headers are missing")
        if given != self.authorization:
            raise _error(401, "Authentication failed")

    def _route(self, method, path, query, headers, body, raw_headers):
        parts = [unquote(p) for p in path.split("/") if p]
        if parts[:2] == ["api", "function_invocations"]:
            return self._invoke(method, headers, body, raw_headers)
        if parts == ["api", "namespaces"]:
            if method != "GET":
                raise _Reply(405)
            with self._lock:
                names = sorted({self.namespace, *self.namespaces,
                                *(ns for ns, _ in self.functions)})
            return 200, json.dumps({"namespaces": {"names": names}}).encode(), \
                "application/json", {}
        if parts[:2] != ["api", "functions"]:
            raise _Reply(404, b"404 page not found\n", "text/plain; charset=utf-8")
        rest, namespace = parts[2:], headers.get("x-nuclio-function-namespace") or self.namespace
        routes = {
            0: {"GET": lambda: self._list(namespace, headers),
                "POST": lambda: self._deploy(headers, body, create=True),
                "DELETE": lambda: self._delete(headers, body)},
            1: {"GET": lambda: self._get(namespace, rest[0]),
                "PUT": lambda: self._deploy(headers, body, create=False)},
        }
        if len(rest) == 2 and rest[1] == "replicas":
            routes[2] = {"GET": lambda: self._replicas(namespace, rest[0])}
        if len(rest) == 3 and rest[1] == "logs":
            routes[3] = {"GET": lambda: self._logs(namespace, rest[0], rest[2], query)}
        allowed = routes.get(len(rest))
        if allowed is None:
            raise _Reply(404, b"404 page not found\n", "text/plain; charset=utf-8")
        if method not in allowed:
            raise _Reply(405)
        return allowed[method]()

    # ---- reads ---------------------------------------------------------------------------
    def _list(self, namespace: str, headers: dict):
        project = headers.get("x-nuclio-project-name")
        with self._lock:
            out = {fn.name: fn.attributes() for (ns, _), fn in sorted(self.functions.items())
                   if ns == namespace
                   and (not project or fn.metadata["labels"].get(PROJECT_LABEL) == project)}
            return 200, json.dumps(out).encode(), "application/json", {}

    def _lookup(self, namespace: str, name: str) -> FakeFunction:
        fn = self.functions.get((namespace, name))
        if fn is None:
            raise _error(404, "Function not found")
        return fn

    def _get(self, namespace: str, name: str):
        with self._lock:
            data = dict(self._lookup(namespace, name).attributes(), id=name)
            return 200, json.dumps(data).encode(), "application/json", {}

    def _replicas(self, namespace: str, name: str):
        with self._lock:
            fn = self._lookup(namespace, name)
            names = [fn.replica] if fn.process is not None and fn.process.poll() is None else []
        return 200, json.dumps({"names": names, "id": "replicas"}).encode(), "application/json", {}

    def _logs(self, namespace: str, name: str, replica: str, query: str):
        args = parse_qs(query)
        follow = args.get("follow", ["true"])[0]
        if follow not in ("false", "0", "f", "F", "FALSE", "False"):
            raise _error(400, "fake: only follow=false is supported (a stream never ends)")
        with self._lock:
            fn = self._lookup(namespace, name)
            if not replica or replica != fn.replica:
                raise _error(400, f"{replica} replica does not belong to function {name}")
            log_path = fn.log_path
        try:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                entries = [_kept(line) for line in f.read().splitlines()]
        except OSError:
            entries = []
        since = args.get("since", [""])[0]
        if since:
            seconds = _go_duration(since)
            if seconds is None:
                raise _error(500, "Failed to populate get function replica logs stream options: "
                                  f"Failed to parse sinceSeconds: time: invalid duration {since!r}")
            entries = [e for e in entries if e[0] >= time.time() - int(seconds)]
        lines = [text for _, text in entries]
        tail = args.get("tailLines", [""])[0]
        if tail.lstrip("-").isdigit() and int(tail) >= 0:
            lines = lines[-int(tail):] if int(tail) else []
        text = "".join(line + "\n" for line in lines)
        return 200, text.encode(), "text/plain", {"Cache-Control": "no-cache, private"}

    # ---- deploy --------------------------------------------------------------------------
    def _function_info(self, headers: dict, body: bytes) -> tuple[dict, dict]:
        """Parse and enrich the body as ``processFunctionInfo`` does, plus the fake's checks."""
        try:
            info = json.loads(body or b"null")
        except ValueError:
            raise _error(400, "Failed to parse JSON body") from None
        meta = info.get("metadata") if isinstance(info, dict) else None
        spec = info.get("spec") if isinstance(info, dict) else None
        if not isinstance(info, dict) or not isinstance(meta or {}, dict) or \
                not isinstance(spec or {}, dict):
            raise _error(400, "Failed to parse JSON body")
        meta, spec = dict(meta or {}), dict(spec or {})
        build = spec.get("build") or {}
        typed = [(meta.get("name"), str), (meta.get("namespace"), str), (meta.get("labels"), dict),
                 (meta.get("annotations"), dict), (spec.get("runtime"), str),
                 (spec.get("handler"), str), (build, dict), (spec.get("resources"), dict),
                 (spec.get("env"), list), (spec.get("minReplicas"), int),
                 (spec.get("maxReplicas"), int), (spec.get("replicas"), int),
                 (spec.get("eventTimeout"), str), (spec.get("description"), str)]
        if isinstance(build, dict):
            typed += [(build.get("functionSourceCode"), str), (build.get("commands"), list),
                      (build.get("mode"), str), (build.get("codeEntryType"), str)]
        for value, kind in typed:
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise _error(400, "Failed to parse JSON body")
        for mapping in (meta.get("labels") or {}, meta.get("annotations") or {}):
            if not all(isinstance(v, str) for v in mapping.values()):
                raise _error(400, "Failed to parse JSON body")
        if not all(isinstance(c, str) for c in build.get("commands") or []):
            raise _error(400, "Failed to parse JSON body")
        meta["namespace"] = meta.get("namespace") or headers.get("x-nuclio-function-namespace") \
            or self.namespace
        labels = dict(meta.get("labels") or {})
        if headers.get("x-nuclio-project-name"):
            labels[PROJECT_LABEL] = headers["x-nuclio-project-name"]
        labels.setdefault(PROJECT_LABEL, "default")
        meta["labels"] = labels
        name = meta.get("name") or ""
        if not name:
            raise _error(400, "Function name must be provided in metadata")
        if len(name) > 63 or not _DNS1123.match(name):
            raise _error(400, "Function name doesn't conform to k8s naming convention. Errors: a "
                              "lowercase RFC 1123 label must consist of lower case alphanumeric "
                              "characters or '-', and must start and end with an alphanumeric "
                              "character")
        return meta, spec

    def _check_spec(self, meta: dict, spec: dict,
                    existing: FakeFunction | None) -> tuple[dict, bool]:
        """Platform validation and enrichment; returns the spec to store and neverBuild."""
        if meta["name"] in RESERVED_NAMES:
            raise _error(412, f"Function name {meta['name']} is reserved and cannot be used.")
        lo, hi = spec.get("minReplicas"), spec.get("maxReplicas")
        if lo is not None and hi is None and lo == 0:
            raise _error(400, "Max replicas must be set when min replicas is zero")
        if lo is not None and hi is not None and lo > hi:
            raise _error(400, "Min replicas must be less than or equal to max replicas")
        if hi is not None and hi == 0:
            raise _error(400, "Max replicas must be greater than zero")
        if (lo is not None and lo < 0) or (hi is not None and hi < 0):
            raise _error(400, "fake: replicas must not be negative")
        if meta["labels"][PROJECT_LABEL] not in self.projects:
            raise _error(500, "Project does not exist")
        build = dict(spec.get("build") or {})
        if build.get("mode") == "neverBuild":
            if existing is None:
                raise _error(500, "Non existing function cannot be created with neverBuild mode")
        else:
            if spec.get("runtime") not in PYTHON_RUNTIMES:
                raise _error(400, f"fake: runtime {spec.get('runtime')!r} is not one of "
                                  f"{', '.join(PYTHON_RUNTIMES)}")
            if not _HANDLER.match(spec.get("handler") or ""):
                raise _error(400, f"fake: handler {spec.get('handler')!r} is not module:function")
            source = build.get("functionSourceCode")
            if not source:
                raise _error(400, "fake: only inline source builds (spec.build.functionSourceCode)")
            try:
                base64.b64decode(source, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                raise _error(400, "fake: spec.build.functionSourceCode is not base64 "
                                  "UTF-8 text") from None
            for command in build.get("commands") or []:
                if not _PIP.match(command):
                    raise _error(400, f"fake: build command {command!r} is not `pip install ...`")
        never_build = build.pop("mode", None) == "neverBuild"  # cleared once used, as Nuclio does
        spec = dict(spec, build=build)
        if lo is None and hi is not None:
            spec["minReplicas"] = hi
        if hi is None and lo is not None:
            spec["maxReplicas"] = lo
        triggers = dict(spec.get("triggers") or {})
        if not any(isinstance(t, dict) and t.get("kind") == "http" for t in triggers.values()):
            triggers["default-http"] = {"class": "", "kind": "http", "name": "default-http",
                                        "maxWorkers": 1}
        spec["triggers"] = triggers
        spec.pop("image", None)  # CleanFunctionSpec: no image shown for inline source
        return spec, never_build

    def _deploy(self, headers: dict, body: bytes, *, create: bool):
        meta, spec = self._function_info(headers, body)
        key = (meta["namespace"], meta["name"])
        with self._lock:
            existing = self.functions.get(key)
            if create and existing is not None:
                raise _error(409, "Cannot create two functions with the same name")
            spec, never_build = self._check_spec(meta, spec, existing)
            fn = existing or FakeFunction(meta["name"], meta["namespace"], meta, spec, {})
            fn.generation += 1
            fn.metadata, fn.spec = meta, spec
            if never_build:
                fn.status = {"state": "waitingForResourceConfiguration"}
                target, args = self._reconfigure, (fn, fn.generation)
            else:
                fn.commands = list(spec["build"].get("commands") or [])
                fn.status = {"state": "building"}
                target, args = self._build, (fn, fn.generation)
            self.functions[key] = fn
            self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(target=target, args=args, daemon=True,
                                      name=f"fake-nuclio-build-{fn.name}-{fn.generation}")
            self._threads.append(thread)
            thread.start()
        if headers.get("x-nuclio-wait-function-action", "").lower() == "true":
            thread.join()
        return 202, b"", None, {}

    def _current(self, fn: FakeFunction, generation: int) -> bool:
        return (not self._stopping.is_set() and fn.generation == generation
                and self.functions.get((fn.namespace, fn.name)) is fn)

    def _reconfigure(self, fn: FakeFunction, generation: int) -> None:
        """neverBuild: new replica counts, same image; the running process stays."""
        if self._stopping.wait(self.build_delay / 2):
            return
        with self._lock:
            if not self._current(fn, generation):
                return
            alive = fn.process is not None and fn.process.poll() is None
            fn.status = _ready_status(fn.port) if alive else {
                "state": "error", "message": "fake: nothing to reconfigure; deploy with a build"}

    def _build(self, fn: FakeFunction, generation: int) -> None:
        """'Build' (decode the source), start the replica process, wait for its port."""
        if self._stopping.wait(self.build_delay):
            return
        with self._lock:
            if not self._current(fn, generation):
                return
            module, function = fn.spec["handler"].split(":")
            source = base64.b64decode(fn.spec["build"]["functionSourceCode"]).decode()
        # unique per build: a function deleted and created again under its name starts over
        workdir = tempfile.mkdtemp(prefix=f"{fn.namespace}.{fn.name}.{generation}.", dir=self._tmp)
        with open(os.path.join(workdir, module + ".py"), "w", encoding="utf-8") as f:
            f.write(source)
        log_path, port_file = os.path.join(workdir, "replica.log"), os.path.join(workdir, "port")
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
        open(log_path, "wb").close()
        proc = subprocess.Popen([sys.executable, "-c", SHIM, workdir, module, function,
                                 port_file, fn.name], cwd=workdir, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        threading.Thread(target=_keep_log, args=(proc.stdout, log_path), daemon=True,
                         name=f"fake-nuclio-log-{fn.name}").start()
        with self._lock:
            self.processes.append(proc)
        port, deadline = None, time.monotonic() + self.start_timeout
        while not self._stopping.is_set() and time.monotonic() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    port = int(f.read())
                break
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        old = None
        with self._lock:
            if not self._current(fn, generation):
                old = proc
            elif port is not None:
                old, fn.process, fn.log_path, fn.port = fn.process, proc, log_path, port
                fn.replica = f"nuclio-{fn.name}-{secrets.token_hex(4)}"
                fn.status = _ready_status(port)
            else:
                _kill(proc)
                old, fn.process, fn.replica, fn.port = fn.process, None, "", 0
                fn.log_path = log_path
                fn.status = {"state": "error", "message": _last_line(log_path) or
                             f"the replica did not listen within {self.start_timeout:g}s"}
        if old is not None:
            _kill(old)

    def _delete(self, headers: dict, body: bytes):
        try:
            info = json.loads(body or b"null")
        except ValueError:
            raise _error(400, "Failed to parse JSON body") from None
        meta = info.get("metadata") if isinstance(info, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("name", ""), str):
            raise _error(400, "Failed to parse JSON body")
        if not meta.get("name"):
            raise _error(400, "Function name must be provided in metadata")
        namespace = meta.get("namespace") or headers.get("x-nuclio-function-namespace") \
            or self.namespace
        ignore_state = headers.get("x-nuclio-delete-function-ignore-state-validation", "") == "true"
        with self._lock:
            fn = self.functions.get((namespace, meta["name"]))
            if fn is None:
                return 204, b"", None, {}  # idempotent, as the platform's delete is
            if fn.status.get("state") not in PROVISIONED and not ignore_state:
                raise _error(412, "Function is being provisioned and cannot be deleted")
            del self.functions[(namespace, fn.name)]
            fn.generation += 1
            proc, fn.process = fn.process, None
        if proc is not None:
            _kill(proc)
        return 204, b"", None, {}

    # ---- invoke --------------------------------------------------------------------------
    def _invoke(self, method, headers, body, raw_headers):
        name = headers.get("x-nuclio-function-name", "")
        namespace = headers.get("x-nuclio-function-namespace") or self.namespace
        path = headers.get("x-nuclio-path", "").lstrip("/")
        if not name:
            raise _invocation_error(400, "Function name must be provided")
        try:
            timeout = go_duration(headers["x-nuclio-invoke-timeout"]) \
                if headers.get("x-nuclio-invoke-timeout") else 60.0
        except ValueError:
            raise _invocation_error(400, "Invalid invoke timeout") from None
        with self._lock:
            fn = self.functions.get((namespace, name))
            if fn is None:
                raise _invocation_error(404, "Failed to invoke function: Function not found: "
                                             f"{name} @ {namespace}")
            port = fn.status.get("httpPort") if fn.status.get("state") == "ready" else None
        if not port:
            raise _invocation_error(500, "Failed to invoke function: Failed to get invoke URL: "
                                         f"function {name} has no address "
                                         f"(state {fn.status.get('state')})")
        forward = {k: v for k, v in raw_headers
                   if not k.lower().startswith("x-nuclio") and k.lower() not in _HOP}
        forward["x-nuclio-target"] = name
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request(method, "/" + path, body=body if method != "GET" else None,
                         headers=forward)
            resp = conn.getresponse()
            out = resp.read()
            back = {k: v for k, v in resp.getheaders()
                    if not k.lower().startswith("x-nuclio") and k.lower() not in _HOP
                    and k.lower() != "content-type"}
            return resp.status, out, resp.getheader("Content-Type"), back
        except socket.timeout:
            raise _invocation_error(500, "Failed to invoke function: Post "
                                         f'"http://127.0.0.1:{port}/{path}": context deadline '
                                         "exceeded (Client.Timeout exceeded while awaiting "
                                         "headers)") from None
        except OSError as exc:
            raise _invocation_error(500, f"Failed to invoke function: {exc}") from None
        finally:
            conn.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers at stop
    dashboard: FakeNuclioDashboard

    def _any(self):
        self.dashboard.handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _any

    def log_message(self, *args):
        pass


def _ready_status(port: int) -> dict:
    return {"state": "ready", "httpPort": port, "internalInvocationUrls": [f"127.0.0.1:{port}"],
            "externalInvocationUrls": []}


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _keep_log(stream, path: str) -> None:
    """What Kubernetes keeps of a replica's output: each line with the time it came."""
    with open(path, "a", encoding="utf-8") as out:
        for raw in iter(stream.readline, b""):
            out.write(f"{time.time():.6f} {raw.decode('utf-8', 'replace').rstrip(chr(10))}\n")
            out.flush()
    stream.close()


def _kept(line: str) -> tuple[float, str]:
    stamp, _, text = line.partition(" ")
    try:
        return float(stamp), text
    except ValueError:
        return 0.0, line


def _go_duration(text: str) -> float | None:
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)


def _last_line(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [_kept(line)[1].strip() for line in f if _kept(line)[1].strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


@contextlib.contextmanager
def running_dashboard(**options):
    """A started fake; at exit every replica process and thread it made is gone (checked)."""
    dashboard = FakeNuclioDashboard(**options).start()
    try:
        yield dashboard
    finally:
        dashboard.stop()
        left = [p.pid for p in dashboard.processes if p.poll() is None]
        assert not left, f"replica processes left running: {left}"
        assert not dashboard.live_threads(), f"threads left: {dashboard.live_threads()}"


#: The replica: imports the handler module and serves it with Nuclio's Python calling
#: convention. argv: workdir module function port_file function_name.
SHIM = r'''
import http.server, importlib, json, os, sys, time, traceback, types, uuid
from urllib.parse import parse_qs

workdir, module_name, function_name, port_file, FUNCTION = sys.argv[1:6]
sys.path.insert(0, workdir)


class Logger:
    def __init__(self, name):
        self.name = name

    def _log(self, level, message, args, fields):
        if args:
            message = str(message) % args
        record = {"level": level, "time": round(time.time(), 3), "name": self.name,
                  "message": str(message)}
        if fields:
            plain = (str, int, float, bool, type(None))
            record["with"] = {k: v if isinstance(v, plain) else repr(v) for k, v in fields.items()}
        sys.stderr.write(json.dumps(record) + "\n")
        sys.stderr.flush()

    def debug(self, message, *args): self._log("debug", message, args, None)
    def info(self, message, *args): self._log("info", message, args, None)
    def warn(self, message, *args): self._log("warn", message, args, None)
    def error(self, message, *args): self._log("error", message, args, None)
    def debug_with(self, message, *args, **fields): self._log("debug", message, args, fields)
    def info_with(self, message, *args, **fields): self._log("info", message, args, fields)
    def warn_with(self, message, *args, **fields): self._log("warn", message, args, fields)
    def error_with(self, message, *args, **fields): self._log("error", message, args, fields)
    warning, warning_with = warn, warn_with


class Response:  # nuclio_sdk.Response's signature
    def __init__(self, headers=None, body=None, content_type=None, status_code=200):
        self.headers, self.body = headers, body
        self.content_type, self.status_code = content_type, status_code


class Context:
    def __init__(self):
        self.logger = Logger(FUNCTION)
        self.Response = Response
        self.user_data = types.SimpleNamespace()
        self.worker_id = 0
        self.trigger_kind = "http"


class Event:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def canonical(name):  # Go's textproto.CanonicalMIMEHeaderKey: the processor's header names
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


def decode_body(body, content_type):  # as nuclio_sdk.Event.decode_body
    if content_type == "application/json":
        try:
            return json.loads(body)
        except ValueError:
            pass
    return body


def encode(output):  # as nuclio_sdk.Response.from_entrypoint_output
    status, ctype, headers, body = 200, "text/plain", {}, output
    if isinstance(output, str):
        body = output
    elif isinstance(output, tuple) and len(output) == 2:
        status, body = output
        if not isinstance(body, str):
            body, ctype = json.dumps(body), "application/json"
    elif isinstance(output, (dict, list)):
        body, ctype = json.dumps(output), "application/json"
    elif isinstance(output, Response):
        headers, status = output.headers or {}, output.status_code
        if isinstance(output.body, dict):
            body, ctype = json.dumps(output.body), "application/json"
        else:
            body, ctype = output.body, output.content_type or "text/plain"
    if body is None:
        body = b""
    if not isinstance(body, (bytes, bytearray)):
        body = str(body).encode()
    return int(status), ctype, headers, bytes(body)


try:
    module = importlib.import_module(module_name)
    entry = getattr(module, function_name)
    context = Context()
    init_context = getattr(module, "init_context", None)
    if callable(init_context):
        init_context(context)
except BaseException:
    traceback.print_exc()
    sys.stderr.flush()
    sys.exit(1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        ctype = self.headers.get("Content-Type", "")
        event = Event(body=decode_body(raw, ctype), content_type=ctype,
                      headers={canonical(k): v for k, v in self.headers.items()},
                      method=self.command, path=path,
                      fields={k: v[0] for k, v in parse_qs(query).items()}, url=self.path,
                      id=str(uuid.uuid4()), timestamp=time.time(), size=len(raw),
                      trigger=types.SimpleNamespace(kind="http", klass="sync", name="default-http"))
        try:
            status, ctype, headers, body = encode(entry(context, event))
        except Exception as exc:
            traceback.print_exc()
            sys.stderr.flush()
            status, ctype, headers = 500, "text/plain", {}
            body = ('Exception caught in handler - "%s: %s"' % (type(exc).__name__, exc)).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for key, value in (headers or {}).items():
            self.send_header(str(key), str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
context.logger.info_with("Processor started", function=FUNCTION, port=server.server_address[1])
server.serve_forever()
'''
