"""A FAKE OpenFaaS gateway for tests, written from OpenFaaS's OpenAPI spec
(openfaas/faas ``api-docs/spec.openapi.yml``), because OpenFaaS cannot run here (it
runs images on Kubernetes or containerd).

What is real: an HTTP server on 127.0.0.1, and every replica of every deployed function
a real Python process serving HTTP on a free loopback port, started from the *image*
it names. An image here is a folder registered with the fake (``images={name: folder}``)
holding a ``handler.py`` whose ``main(args)`` is called with the JSON body, as the
python3 templates' watchdog does: a test builds one with ``python -m
backends.workflow.bundle worker > handler.py`` as a user builds the workflow's image.
Replicas get the deployment's ``envVars`` and a ``HOSTNAME`` of their own.

Routes and answers, from the spec:
- ``GET /system/functions``: 200, an array of FunctionStatus (``name``, ``image``,
  ``namespace``, ``envProcess``, ``envVars``, ``labels``, ``annotations``, ``limits``,
  ``invocationCount``, ``replicas``, ``availableReplicas``, ``createdAt``).
- ``POST /system/functions`` (FunctionDeployment: ``service`` and ``image`` required):
  202; 400 for a bad body or a name already deployed.
- ``PUT /system/functions``: 200 ("Accepted"); 404 if the function does not exist.
- ``DELETE /system/functions`` (DeleteFunctionRequest ``functionName``): 200; 404; 400.
- ``GET /system/function/{name}``: 200 FunctionStatus; 404.
- ``POST /system/scale-function/{name}`` (ScaleServiceRequest: ``serviceName`` and
  ``replicas``, an integer >= 0, both required): 202; 404; 400.
- ``POST /function/{name}`` (any further path passed on): the value the function
  returned, 200; 404 for an unknown function. A call is sent to one ready replica in
  turn (round robin, as a Service spreads them); with replicas but none ready yet,
  502, as the gateway's proxy answers when no endpoint takes the connection.
- ``GET /system/info``: GatewayInfo.
Stricter than OpenFaaS on purpose: unknown images are 400 at deploy (OpenFaaS would
accept and fail to pull), wrong JSON types are 400, optional basic auth (``auth=(user,
password)``) answers 401 to every ``/system`` route without it.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.server
import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FakeOpenFaaSGateway", "running_gateway"]


class _Reply(Exception):
    def __init__(self, status: int, body: bytes | str = b"", ctype: str = "text/plain"):
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.ctype = ctype


def _json_reply(status: int, data) -> _Reply:
    return _Reply(status, json.dumps(data).encode(), "application/json")


@dataclass
class Replica:
    name: str
    proc: subprocess.Popen
    workdir: str
    port: int = 0  # 0 until it listens


@dataclass
class FakeFunction:
    name: str
    deployment: dict
    replicas: int = 1
    created_at: str = ""
    invocations: int = 0
    pods: list[Replica] = field(default_factory=list)
    turn: itertools.count = field(default_factory=itertools.count)

    def status(self) -> dict:
        d = self.deployment
        return {
            "name": self.name,
            "image": d["image"],
            "namespace": "openfaas-fn",
            "envProcess": d.get("envProcess", ""),
            "envVars": d.get("envVars") or {},
            "labels": d.get("labels") or {},
            "annotations": d.get("annotations") or {},
            "limits": d.get("limits"),
            "requests": d.get("requests"),
            "invocationCount": self.invocations,
            "replicas": self.replicas,
            "availableReplicas": sum(1 for p in self.pods if p.port and p.proc.poll() is None),
            "createdAt": self.created_at,
        }


_STRING_MAPS = ("envVars", "labels", "annotations")


def _check_deployment(body: dict) -> dict:
    if not isinstance(body, dict):
        raise _Reply(400, "the request body must be a FunctionDeployment object")
    for key in ("service", "image"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise _Reply(400, f"{key} is required (a string)")
    for key in _STRING_MAPS:
        value = body.get(key)
        if value is not None and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            raise _Reply(400, f"{key} must be an object of strings")
    for key in ("limits", "requests"):
        value = body.get(key)
        if value is not None and not (
            isinstance(value, dict)
            and set(value) <= {"memory", "cpu"}
            and all(isinstance(v, str) for v in value.values())
        ):
            raise _Reply(400, f"{key} must be a FunctionResources object")
    return body


class FakeOpenFaaSGateway:
    def __init__(self, images: dict[str, Path], *, auth: tuple[str, str] | None = None, start_timeout: float = 30.0):
        self.images = {k: Path(v) for k, v in images.items()}
        self.auth = auth
        self.start_timeout = start_timeout
        self.functions: dict[str, FakeFunction] = {}
        self.processes: list[subprocess.Popen] = []  # every replica ever started
        self.requests: list[tuple[str, str]] = []  # (method, path) in order
        self._lock = threading.RLock()
        self._tmp = tempfile.mkdtemp(prefix="fake-openfaas-")
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.gateway = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeOpenFaaSGateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            pods = [p for f in self.functions.values() for p in f.pods]
            self.functions.clear()
        for pod in pods:
            _kill(pod.proc)
        shutil.rmtree(self._tmp, ignore_errors=True)

    # ---- routing ------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers, body: bytes) -> _Reply:
        self.requests.append((method, path))
        route = path.split("?", 1)[0]
        if route.startswith("/system/"):
            self._authorize(headers)
        if route == "/system/functions":
            if method == "GET":
                with self._lock:
                    return _json_reply(200, [f.status() for f in self.functions.values()])
            if method in ("POST", "PUT"):
                return self._deploy(_parse(body), create=method == "POST")
            if method == "DELETE":
                return self._delete(_parse(body))
        elif route.startswith("/system/function/") and method == "GET":
            return _json_reply(200, self._lookup(route[len("/system/function/") :]).status())
        elif route.startswith("/system/scale-function/") and method == "POST":
            return self._scale(route[len("/system/scale-function/") :], _parse(body))
        elif route == "/system/info" and method == "GET":
            return _json_reply(
                200,
                {
                    "provider": {
                        "provider": "fake-openfaas",
                        "orchestration": "processes",
                        "version": {"sha": "0" * 40, "release": "0.0.1"},
                    },
                    "version": {"sha": "0" * 40, "release": "0.0.1"},
                    "arch": "x86_64",
                },
            )
        elif route.startswith("/function/") and method in ("GET", "POST", "PUT", "DELETE"):
            name, _, rest = route[len("/function/") :].partition("/")
            return self._invoke(name, "/" + rest, method, body)
        raise _Reply(404 if method in ("GET", "POST", "PUT", "DELETE") else 405, "not found")

    def _authorize(self, headers) -> None:
        if self.auth is None:
            return
        want = "Basic " + base64.b64encode(":".join(self.auth).encode()).decode()
        if headers.get("Authorization") != want:
            raise _Reply(401, "Unauthorized")

    def _lookup(self, name: str) -> FakeFunction:
        with self._lock:
            fn = self.functions.get(name)
        if fn is None:
            raise _Reply(404, f"function {name} not found")
        return fn

    def _deploy(self, body, *, create: bool) -> _Reply:
        d = _check_deployment(body)
        name = d["service"]
        if d["image"] not in self.images:
            raise _Reply(400, f"image {d['image']} cannot be pulled")
        with self._lock:
            fn = self.functions.get(name)
            if create and fn is not None:
                raise _Reply(400, f"function {name} already exists")
            if not create and fn is None:
                raise _Reply(404, f"function {name} not found")
            if fn is None:
                fn = FakeFunction(name, d, created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                self.functions[name] = fn
                old = []
            else:  # an update rolls every replica over to the new spec
                fn.deployment, old, fn.pods = d, fn.pods, []
            self._reconcile(fn)
        for pod in old:
            _kill(pod.proc)
        return _Reply(202 if create else 200)

    def _delete(self, body) -> _Reply:
        if not isinstance(body, dict) or not isinstance(body.get("functionName"), str):
            raise _Reply(400, "functionName is required")
        with self._lock:
            fn = self.functions.pop(body["functionName"], None)
        if fn is None:
            raise _Reply(404, f"function {body['functionName']} not found")
        for pod in fn.pods:
            _kill(pod.proc)
        return _Reply(200)

    def _scale(self, name: str, body) -> _Reply:
        if not isinstance(body, dict) or not isinstance(body.get("serviceName"), str):
            raise _Reply(400, "serviceName is required")
        replicas = body.get("replicas")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise _Reply(400, "replicas must be an integer >= 0")
        fn = self._lookup(name)
        with self._lock:
            fn.replicas = replicas
            gone = self._reconcile(fn)
        for pod in gone:
            _kill(pod.proc)
        return _Reply(202)

    def _reconcile(self, fn: FakeFunction) -> list[Replica]:
        """Start or stop replicas to match ``fn.replicas`` (the lock is held). The newest
        replicas go first on a scale-down; returns them (the caller kills them)."""
        gone = []
        while len(fn.pods) > fn.replicas:
            gone.append(fn.pods.pop())
        while len(fn.pods) < fn.replicas:
            fn.pods.append(self._start_replica(fn))
        return gone

    def _start_replica(self, fn: FakeFunction) -> Replica:
        image = self.images[fn.deployment["image"]]
        pod = f"{fn.name}-{secrets.token_hex(4)}"
        workdir = tempfile.mkdtemp(prefix=f"{pod}.", dir=self._tmp)
        shutil.copy(image / "handler.py", workdir)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
        env.update(fn.deployment.get("envVars") or {})
        env.update(HOSTNAME=pod, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", TMPDIR=workdir)
        port_file = os.path.join(workdir, "port")
        with open(os.path.join(workdir, "replica.log"), "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", WATCHDOG, workdir, port_file],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(proc)
        replica = Replica(pod, proc, workdir)
        threading.Thread(target=self._await_port, args=(replica, port_file), daemon=True).start()
        return replica

    def _await_port(self, replica: Replica, port_file: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline and replica.proc.poll() is None:
            try:
                with open(port_file) as f:
                    replica.port = int(f.read())
                return
            except (OSError, ValueError):
                time.sleep(0.02)

    def _invoke(self, name: str, path: str, method: str, body: bytes) -> _Reply:
        fn = self._lookup(name)
        with self._lock:
            if fn.replicas == 0:  # scale from zero, as the gateway does
                fn.replicas = 1
                self._reconcile(fn)
            ready = [p for p in fn.pods if p.port and p.proc.poll() is None]
            fn.invocations += 1
            if not ready:
                raise _Reply(502, "Bad Gateway: no endpoint for the function yet")
            pod = ready[next(fn.turn) % len(ready)]
        conn = http.client.HTTPConnection("127.0.0.1", pod.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            return _Reply(resp.status, resp.read(), resp.getheader("Content-Type") or "text/plain")
        except OSError as exc:
            raise _Reply(502, f"Bad Gateway: {exc}") from None
        finally:
            conn.close()


def _parse(body: bytes):
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise _Reply(400, "the request body is not JSON") from None


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers at stop

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            reply = self.server.gateway.handle(self.command, self.path, self.headers, body)
        except _Reply as r:
            reply = r
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.ctype)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def running_gateway(images: dict[str, Path], **options):
    """A started fake; at exit every replica process it started is gone (checked)."""
    gateway = FakeOpenFaaSGateway(images, **options).start()
    try:
        yield gateway
    finally:
        gateway.stop()
        left = [p.pid for p in gateway.processes if p.poll() is None]
        assert not left, f"replica processes left running: {left}"


#: A replica: the python3 template's watchdog in miniature. It serves HTTP on a free
#: loopback port, calls handler.main(args) with the JSON body and answers its JSON.
#: argv: workdir port_file.
WATCHDOG = r"""
import http.server, json, os, sys, traceback
workdir, port_file = sys.argv[1:3]
sys.path.insert(0, workdir)
import handler

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def _any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            out, status = json.dumps(handler.main(json.loads(raw or b"{}"))).encode(), 200
        except Exception:
            out, status = traceback.format_exc().encode(), 500
            sys.stderr.write(out.decode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = do_PUT = do_DELETE = _any
    def log_message(self, *a):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
tmp = port_file + ".tmp"
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, port_file)
server.serve_forever()
"""
