"""A FAKE OpenFaaS gateway with several namespaces, for tests of the OpenFaaS adapter.

OpenFaaS cannot run here (it needs Kubernetes or containerd), and the embedded engine
serves a single namespace, so this stands in for a multi-namespace gateway (OpenFaaS
faas-netes with ``openfaas``-annotated namespaces, as faasd serves them). Written from the
gateway's spec (openfaas/faas ``api-docs/spec.openapi.yml``), faas-netes's handlers
(``pkg/handlers/secrets.go``: 202 for each secret change; ``reader.go``) and faas-provider's
``logs`` handler (NDJSON ``logs.Message``, ``follow`` streaming, 422 for a request it cannot
parse). It shares no code with the adapter. Strict where the gateway is:

- every route but ``/healthz`` needs basic auth ``admin:PASSWORD`` (401 otherwise);
- a namespace is the default (``openfaas-fn``) or one of ``namespaces``; any other is 400
  ``namespace not valid``; ``?namespace=`` on reads and deletes, ``namespace`` in
  deploy, scale and secret bodies (a query namespace on those is ignored, as there);
- ``/function/NAME`` calls the default namespace's NAME, ``/function/NAME.NS`` the
  namespace's; a call answers ``{"function", "namespace", "body"}`` as JSON and prints a
  log line; an unknown function is 404 ``Cannot find service: NAME.NS.``;
- deploy needs ``service`` and ``image`` (400), and its ``secrets`` must exist in the
  namespace (400 ``unable to find secret: NAME``);
- ``/system/logs`` needs ``name`` (422), a known function (404); ``tail`` the last N,
  ``since`` RFC 3339, ``instance``; with ``follow=true`` the answer is chunked and stays
  open, each new line written as it is logged, until ``stop()`` or the client leaves.

Use ``with fake_gateway() as gw:`` -> ``gw.url``, ``gw.password``, ``gw.log(...)``.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import re
import threading
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeGateway", "fake_gateway", "DEFAULT_NS"]

DEFAULT_NS = "openfaas-fn"
_SECRET = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _go_time(t: float) -> str:
    text = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text.rstrip("0").rstrip(".") + "Z"


class _Reply(Exception):
    def __init__(self, status: int, body: bytes | str = b"", ctype: str = "text/plain"):
        super().__init__(status)
        self.status, self.ctype = status, ctype
        self.body = body.encode() if isinstance(body, str) else body


class FakeGateway:
    def __init__(self, namespaces: tuple[str, ...] = ("dev",), password: str = "pw"):
        self.namespaces = (DEFAULT_NS, *namespaces)
        self.password = password
        self.functions: dict[tuple[str, str], dict] = {}  # (ns, name) -> FunctionStatus
        self.secrets: dict[tuple[str, str], bytes] = {}  # (ns, name) -> value
        self.lines: list[dict] = []  # logs.Message, oldest first
        self.requests: list[tuple[str, str, str]] = []  # (method, path, query) received
        self.cond = threading.Condition()
        self.stopping = False
        self.server: http.server.ThreadingHTTPServer | None = None
        self.url = ""

    # ---- what tests set up --------------------------------------------------------------
    def add(self, name: str, namespace: str = DEFAULT_NS, **fields) -> None:
        self.functions[(namespace, name)] = {
            "name": name, "image": fields.get("image", f"functions/{name}:latest"),
            "namespace": namespace, "labels": fields.get("labels") or {}, "replicas": 1,
            "availableReplicas": 1, "invocationCount": 0, "envProcess": "",
            "secrets": fields.get("secrets") or []}

    def log(self, name: str, text: str, namespace: str = DEFAULT_NS, instance: str = "pod-a",
            t: float | None = None) -> None:
        with self.cond:
            self.lines.append({"name": name, "namespace": namespace, "instance": instance,
                               "timestamp": _go_time(time.time() if t is None else t),
                               "text": text, "_t": time.time() if t is None else t})
            self.cond.notify_all()

    # ---- life cycle ----------------------------------------------------------------------
    def start(self) -> FakeGateway:
        fake = self

        class Handler(_Handler):
            gateway = fake
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # ---- routes ----------------------------------------------------------------------------
    def namespace(self, given) -> str:
        ns = given or DEFAULT_NS
        if not isinstance(ns, str) or ns not in self.namespaces:
            raise _Reply(400, "namespace not valid\n")
        return ns

    def body(self, raw: bytes) -> dict:
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            raise _Reply(400, "unable to unmarshal the request\n") from None
        if not isinstance(data, dict):
            raise _Reply(400, "unable to unmarshal the request\n")
        return data

    def route(self, method: str, path: str, q: dict, raw: bytes):
        if path == "/system/namespaces" and method == "GET":
            return 200, json.dumps(list(self.namespaces))
        if path == "/system/info" and method == "GET":
            return 200, json.dumps({"provider": {"provider": "fake-faas-netes",
                                                 "orchestration": "kubernetes",
                                                 "version": {"release": "0.1.0", "sha": "x"}},
                                    "version": {"release": "0.27.0", "sha": "y"},
                                    "arch": "x86_64"})
        if path == "/system/functions":
            return self.functions_route(method, q, raw)
        if path.startswith("/system/function/") and method == "GET":
            ns = self.namespace(q.get("namespace"))
            fn = self.functions.get((ns, path.rsplit("/", 1)[1]))
            if fn is None:
                raise _Reply(404, "No function found\n")
            return 200, json.dumps(fn)
        if path.startswith("/system/scale-function/") and method == "POST":
            data = self.body(raw)
            ns = self.namespace(data.get("namespace"))
            fn = self.functions.get((ns, path.rsplit("/", 1)[1]))
            if fn is None:
                raise _Reply(404, "function not found\n")
            fn["replicas"] = fn["availableReplicas"] = int(data.get("replicas", 0))
            return 202, ""
        if path.startswith("/function/") and method in ("GET", "POST"):
            return self.invoke(path[len("/function/"):], raw)
        if path == "/system/secrets":
            return self.secrets_route(method, q, raw)
        if path == "/system/logs" and method == "GET":
            return self.logs_route(q)
        raise _Reply(404, "404 page not found\n")

    def functions_route(self, method: str, q: dict, raw: bytes):
        if method == "GET":
            ns = self.namespace(q.get("namespace"))
            return 200, json.dumps([f for (n, _), f in sorted(self.functions.items()) if n == ns])
        if method == "DELETE":
            data = self.body(raw)
            ns = self.namespace(q.get("namespace") or data.get("namespace"))
            if self.functions.pop((ns, str(data.get("functionName"))), None) is None:
                raise _Reply(404, "function not found\n")
            return 200, ""
        if method in ("POST", "PUT"):
            data = self.body(raw)
            ns = self.namespace(data.get("namespace"))
            name, image = data.get("service"), data.get("image")
            if not name or not image:
                raise _Reply(400, "service and image are required\n")
            exists = (ns, name) in self.functions
            if method == "PUT" and not exists:
                raise _Reply(404, "function not found\n")
            for secret in data.get("secrets") or []:
                if (ns, secret) not in self.secrets:
                    raise _Reply(400, f"unable to find secret: {secret}\n")
            self.add(name, ns, image=image, labels=data.get("labels"),
                     secrets=data.get("secrets"))
            return (200 if method == "PUT" else 202), ""
        raise _Reply(405)

    def invoke(self, target: str, raw: bytes):
        name, dot, ns = target.split("/", 1)[0].partition(".")
        ns = ns if dot else DEFAULT_NS
        fn = self.functions.get((ns, name))
        if fn is None:
            raise _Reply(404, f"Cannot find service: {name}.{ns}.\n")
        fn["invocationCount"] += 1
        self.log(name, f"called with {raw.decode('utf-8', 'replace')}", ns)
        return 200, json.dumps({"function": name, "namespace": ns,
                                "body": raw.decode("utf-8", "replace")})

    def secrets_route(self, method: str, q: dict, raw: bytes):
        if method == "GET":
            ns = self.namespace(q.get("namespace"))
            return 200, json.dumps([{"name": n, "namespace": s} for (s, n) in sorted(self.secrets)
                                    if s == ns])
        data = self.body(raw)
        ns = self.namespace(data.get("namespace") if method != "DELETE"
                            else q.get("namespace") or data.get("namespace"))
        name = data.get("name")
        if not isinstance(name, str) or not _SECRET.match(name):
            raise _Reply(400, f"invalid secret name: {name}\n")
        if method == "DELETE":
            if self.secrets.pop((ns, name), None) is None:
                raise _Reply(404, f'secrets "{name}" not found\n')
            return 202, ""
        value = base64.b64decode(data["rawValue"]) if data.get("rawValue") else \
            str(data.get("value") or "").encode()
        if method == "POST":
            if (ns, name) in self.secrets:
                raise _Reply(409, f'secrets "{name}" already exists\n')
        elif method == "PUT":
            if (ns, name) not in self.secrets:
                raise _Reply(404, f'secrets "{name}" not found\n')
        else:
            raise _Reply(405)
        self.secrets[(ns, name)] = value
        return 202, ""

    def logs_route(self, q: dict):
        name = q.get("name")
        if not name:
            raise _Reply(422, "could not parse the log request\n")
        ns = self.namespace(q.get("namespace"))
        if (ns, name) not in self.functions:
            raise _Reply(404, f"function {name} not found\n")
        try:
            tail = int(q.get("tail") or 0)
            since = datetime.fromisoformat(q["since"].replace("Z", "+00:00")).timestamp() \
                if q.get("since") else None
        except ValueError:
            raise _Reply(422, "could not parse the log request\n") from None
        follow = q.get("follow") in ("1", "t", "T", "TRUE", "true", "True")

        def wanted(m):
            return (m["name"] == name and m["namespace"] == ns
                    and (not q.get("instance") or m["instance"] == q["instance"])
                    and (since is None or m["_t"] >= since))
        with self.cond:
            first = [m for m in self.lines if wanted(m)]
            seen = len(self.lines)
        if tail > 0:
            first = first[-tail:]
        if not follow:
            return 200, "".join(_line(m) for m in first), "application/x-ndjson"
        return "stream", first, seen, wanted


def _line(m: dict) -> str:
    return json.dumps({k: v for k, v in m.items() if not k.startswith("_")}) + "\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    gateway: FakeGateway

    def log_message(self, *args):
        pass

    def _serve(self):
        gw = self.gateway
        parts = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        gw.requests.append((self.command, parts.path, parts.query))
        try:
            if parts.path != "/healthz":
                expected = "Basic " + base64.b64encode(f"admin:{gw.password}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    raise _Reply(401, "Unauthorized\n")
            result = gw.route(self.command, parts.path, q, raw) if parts.path != "/healthz" \
                else (200, "OK")
        except _Reply as reply:
            return self._send(reply.status, reply.body, reply.ctype)
        if result[0] == "stream":
            return self._stream(*result[1:])
        status, body, *ctype = result
        self._send(status, body.encode(), ctype[0] if ctype else "application/json")

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, first, seen, wanted) -> None:
        gw = self.gateway
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(text: str) -> None:
            data = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        try:
            for m in first:
                chunk(_line(m))
            while True:
                with gw.cond:
                    gw.cond.wait_for(lambda n=seen: gw.stopping or len(gw.lines) > n, timeout=0.5)
                    if gw.stopping:
                        break
                    new, seen = gw.lines[seen:], len(gw.lines)
                for m in new:
                    if wanted(m):
                        chunk(_line(m))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client went away
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _serve


@contextlib.contextmanager
def fake_gateway(**options):
    gw = FakeGateway(**options).start()
    try:
        yield gw
    finally:
        gw.stop()
