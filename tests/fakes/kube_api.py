"""A FAKE Kubernetes API server (with a FAKE Knative Serving controller), for tests.

Kubernetes and Knative cannot run here (no Docker, no cluster), so this module stands in for
them. It is written from the public API reference and "Kubernetes API Concepts" (Status
objects, resourceVersion, list kinds, label and field selectors, paged lists, watch streams
with bookmarks and 410 Gone, JSON merge patch), the metrics.k8s.io v1beta1 API of
metrics-server, core v1 Events, and Knative Serving v1. It is strict about them, so the code
under test cannot lean on leniency a real API server lacks, and it shares nothing with it:

- every request needs ``Authorization: Bearer <token>`` (401 Status otherwise);
- errors are ``kind: Status`` objects: 400 BadRequest (a malformed selector, a bad
  parameter), 403 Forbidden (``forbid_cluster_pods``: listing pods at the cluster scope),
  404 NotFound, 405 MethodNotAllowed (a watch of metrics), 409 AlreadyExists / Conflict, 410
  Expired (a stale continue token), 422 Invalid, 415 for an unsupported patch type;
- lists and watches: see kube_store.py (encoded once, paged with ``limit``/``continue``, watch
  from a resourceVersion, BOOKMARK events every ``bookmark_interval`` s, an ERROR event with a
  410 Status for a version older than the history, synthetic ADDED events for unset/"0");
- only the routes below exist; any other path is a 404 Status.

Routes: ``GET /version``; ``GET /api/v1/nodes[/{name}]``; ``GET /api/v1/pods``, ``GET|POST
/api/v1/namespaces/{ns}/pods``, ``GET|DELETE .../pods/{name}``, ``GET .../pods/{name}/log``
(``container``, ``tailLines``, ``timestamps``, ``sinceTime``, ``sinceSeconds``: lines keep the
time they were printed), ``GET .../pods/{name}:{port}/proxy/metrics`` (a watchdog's metrics,
or a Knative queue-proxy's stats, kube_podproxy.py); ``GET /api/v1/events``, ``GET /api/v1/namespaces/{ns}/events``;
``GET|POST /api/v1/namespaces/{ns}/services``, ``GET|DELETE .../services/{name}``; ``GET|POST
/api/v1/namespaces/{ns}/secrets``, ``GET|PUT|PATCH|DELETE .../secrets/{name}``, ``GET
/api/v1/namespaces`` (kube_secrets.py); ``GET
/apis/metrics.k8s.io/v1beta1`` (discovery), ``.../nodes[/{name}]``, ``.../pods``,
``.../namespaces/{ns}/pods`` (``metrics=False``: a cluster without metrics-server, 404); and
Knative's ``/apis/serving.knative.dev/v1/namespaces/{ns}/services[/{name}]`` (kube_knative.py).
Collections take ``watch=1``.

A pod created through the API is scheduled by a fake scheduler (``spec.nodeName``,
``nodeSelector``, required node affinity on node labels and ``metadata.name``; not-ready
nodes carry the ``node.kubernetes.io/not-ready`` NoSchedule taint): a fit is bound with a
``Scheduled`` event, none stays Pending with ``PodScheduled=False`` and a ``FailedScheduling``
Warning. A fake kubelet then starts it after ``kubelet_delay`` s (Running, Ready, events
Pulled/Created/Started); an image in ``missing_images`` ends in ImagePullBackOff instead. Such
pods run no process (their images cannot run here). A DELETE sets ``deletionTimestamp`` and
the kubelet removes the pod after ``kubelet_delay``.

Faults for tests: ``stall()`` holds every request and silences every watch until
``unstall()``; ``break_watches()`` cuts every watch connection; ``compact()`` drops the
change history (the next watch from an older version gets 410). ``tls=True`` serves HTTPS
with the test-only key pair in tests/fakes/tls/ (for 127.0.0.1), and
``service_account(dir)`` writes an in-cluster service account (token, ca.crt) for it.
``stop()`` ends every process, thread and socket it started.
"""

from __future__ import annotations

import contextlib
import http.server
import itertools
import json
import queue
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .kube_knative import GROUP, MAX_PODS, KnativeMixin, merge_patch, proxy_to_ingress
from .kube_kubelet import KubeletMixin
from .kube_metrics import MetricsMixin
from .kube_podproxy import PodProxyMixin
from .kube_secrets import SecretsMixin
from .kube_services import ServicesMixin
from .kube_store import ApiError, Store

__all__ = ["FakeKube", "fake_kube", "MAX_PODS", "ApiError", "merge_patch", "TLS_DIR", "rfc3339"]

TLS_DIR = Path(__file__).with_name("tls")
METRICS = "/apis/metrics.k8s.io/v1beta1"
_NS = r"/api/v1/namespaces/([^/]+)"
_ROUTES = [
    (re.compile(p + "$"), name)
    for p, name in (
        (r"/version", "version"),
        (r"/api/v1/nodes", "nodes"),
        (r"/api/v1/nodes/([^/]+)", "node"),
        (r"/api/v1/pods", "all_pods"),
        (_NS + r"/pods", "pods"),
        (_NS + r"/pods/([^/]+)", "pod"),
        (_NS + r"/pods/([^/]+)/log", "pod_log"),
        (_NS + r"/pods/([^/]+)/proxy/metrics", "pod_proxy"),
        (r"/api/v1/events", "all_events"),
        (_NS + r"/events", "events"),
        (_NS + r"/services", "services"),
        (_NS + r"/services/([^/]+)", "service"),
        (_NS + r"/secrets", "secrets"),
        (_NS + r"/secrets/([^/]+)", "secret"),
        (r"/api/v1/namespaces", "namespaces"),
        (METRICS, "metrics_discovery"),
        (METRICS + r"/nodes", "node_metrics"),
        (METRICS + r"/nodes/([^/]+)", "node_metric"),
        (METRICS + r"/pods", "all_pod_metrics"),
        (METRICS + r"/namespaces/([^/]+)/pods", "pod_metrics"),
        (rf"/apis/{re.escape(GROUP)}/v1/namespaces/([^/]+)/services", "ksvcs"),
        (rf"/apis/{re.escape(GROUP)}/v1/namespaces/([^/]+)/services/([^/]+)", "ksvc"),
    )
]


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def watching(query: dict) -> bool:
    return query.get("watch") in ("1", "true")


class FakeKube(KnativeMixin, KubeletMixin, MetricsMixin, ServicesMixin, SecretsMixin, PodProxyMixin):
    """The fake API server + controllers + ingress. Use ``fake_kube()`` or start()/stop()."""

    def __init__(
        self,
        token: str = "test-token",
        nodes: int = 2,
        not_ready_nodes: int = 1,
        serving: bool = True,
        *,
        metrics: bool = True,
        bookmark_interval: float = 1.0,
        history: int = 20_000,
        tls: bool = False,
        kubelet_delay: float = 0.05,
        forbid_cluster_pods: bool = False,
        node_prefix: str = "kn-node-",
        clock=time.time,
        record_requests: bool = True,
    ):
        self.token = token
        self.serving = serving  # False: a cluster without Knative Serving's CRDs
        self.metrics = metrics  # False: a cluster without metrics-server
        self.bookmark_interval = bookmark_interval
        self.tls = tls
        self.kubelet_delay = kubelet_delay
        self.forbid_cluster_pods = forbid_cluster_pods
        self.clock = clock
        self.record_requests = record_requests
        self.store = Store(history=history)
        self.lock = threading.RLock()
        self.revisions: dict = {}  # Knative revision name -> its RevisionPods
        self.routes: dict[str, str] = {}  # host -> revision serving it
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API request
        self.usage: dict[str, dict] = {}  # node -> metrics.k8s.io usage {cpu, memory}
        self.pod_usage: dict[tuple[str, str], dict] = {}  # (ns, pod) -> usage of each container
        self.pod_logs: dict[tuple[str, str], list[str]] = {}  # (ns, pod) -> log lines
        self.missing_images: set[str] = set()
        self.in_flight: dict[tuple[str, str], int] = {}  # (ns, pod) -> its watchdog's gauge
        self.metrics_faults: dict[tuple[str, str], str] = {}  # (ns, pod) -> "404" | "hang"
        self.concurrency: dict = {}  # (ns, pod) -> kube_podproxy.Concurrency (the ingress's)
        self.proxy_reads = 0  # pod proxy requests answered (benchmarks)
        self.workdir = Path(tempfile.mkdtemp(prefix="fake-kube-"))
        self._cluster_ip = itertools.count(10)
        for i in range(nodes + not_ready_nodes):
            self.add_node(f"{node_prefix}{i + 1}", ready=i < nodes, index=i)
        self._pod_ips = itertools.count()  # Knative pods' IPs (kube_knative.py)
        self._ready_nodes = itertools.cycle([f"{node_prefix}{i + 1}" for i in range(nodes)] or [f"{node_prefix}1"])
        self._round_robin: dict[str, itertools.cycle] = {}
        self._work: queue.Queue = queue.Queue()
        self._kubelet_jobs: list = []  # a heap of (due, seq, (step, ns, name)); kube_kubelet.py
        self._kubelet_cv = threading.Condition()
        self._stopping = threading.Event()
        self._stalled = threading.Event()
        self._kubelet_busy = False
        self._threads: list[threading.Thread] = []
        self._servers: list[http.server.ThreadingHTTPServer] = []
        self._connections: set[socket.socket] = set()
        self._watch_connections: set[socket.socket] = set()
        self.api_url = self.ingress_url = ""

    # ---- life cycle -----------------------------------------------------------------------
    def start(self) -> FakeKube:
        api = self._serve(_ApiHandler, tls=self.tls)
        ingress = self._serve(_IngressHandler)
        scheme = "https" if self.tls else "http"
        self.api_url = f"{scheme}://127.0.0.1:{api.server_address[1]}"
        self.ingress_url = f"http://127.0.0.1:{ingress.server_address[1]}"
        for target, name in ((self.kubelet, "fake-kubelet"), (self.controller, "fake-knative-controller")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _serve(self, handler, tls: bool = False) -> http.server.ThreadingHTTPServer:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(TLS_DIR / "cert.pem", TLS_DIR / "key.pem")
            server.socket = context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = False  # so server_close() joins every handler thread
        server.fake = self  # type: ignore[attr-defined]
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-kube-{handler.__name__}",
            daemon=True,
        )
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)
        return server

    def stop(self) -> None:
        """End the controllers, the servers, every connection, thread and process."""
        self._stopping.set()
        self._stalled.clear()
        self._work.put(None)
        self.stop_kubelet()
        for thread in self._threads[-2:]:  # kubelet and controller: no change after this
            thread.join(timeout=30)
        for server in self._servers:
            server.shutdown()  # no new connections
        with self.lock:
            conns = list(self._connections)
            pods = [p for ps in self.revisions.values() for p in ps]
            self.revisions.clear()
            self.routes.clear()
        for conn in conns:  # idle keep-alive connections end their handler threads
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._stop_pods(pods)
        for server in self._servers:
            server.server_close()  # joins the handler threads (daemon_threads is off)
        for thread in self._threads:
            thread.join(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def kubeconfig(
        self, path: Path, *, token: str | None = None, namespace: str | None = None, context: str = "fake"
    ) -> Path:
        """Write a kubeconfig for this server (``token`` defaults to the right one)."""
        ctx = {"cluster": "fake", "user": "fake-user"}
        if namespace:
            ctx["namespace"] = namespace
        cluster = {"server": self.api_url}
        if self.tls:
            cluster["certificate-authority"] = str(TLS_DIR / "cert.pem")
        data = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "fake-user", "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": ctx}],
        }
        path.write_text(json.dumps(data, indent=1))  # JSON is YAML
        return path

    def service_account(self, folder: Path, namespace: str = "default") -> dict[str, str]:
        """Write a pod's service account files (token, ca.crt, namespace) into ``folder``;
        returns the environment a pod sees (KUBERNETES_SERVICE_HOST/PORT)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "token").write_text(self.token)
        (folder / "namespace").write_text(namespace)
        shutil.copy(TLS_DIR / "cert.pem", folder / "ca.crt")
        port = urlsplit(self.api_url).port
        return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(port)}

    # ---- faults ---------------------------------------------------------------------------
    def stall(self) -> None:
        """Hold every request, and silence every watch, until ``unstall()``."""
        self._stalled.set()

    def unstall(self) -> None:
        self._stalled.clear()

    def break_watches(self) -> None:
        """Cut every open watch connection (an API server restart, a network cut)."""
        with self.lock:
            conns = list(self._watch_connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def compact(self) -> None:
        """Drop the change history: a watch from an older version is answered 410."""
        self.store.compact()

    def watch_count(self) -> int:
        with self.lock:
            return len(self._watch_connections)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until the controller and the kubelet have nothing queued."""
        deadline = time.monotonic() + timeout
        while (self._work.unfinished_tasks or self.pending_work()) and time.monotonic() < deadline:
            time.sleep(0.02)

    # ---- objects ----------------------------------------------------------------------------
    def now(self) -> str:
        return rfc3339(self.clock())

    def meta(self, name: str, namespace: str | None = None) -> dict:
        meta = {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": self.now()}
        if namespace:
            meta["namespace"] = namespace
        return meta

    def add_node(
        self,
        name: str,
        *,
        ready: bool = True,
        index: int | None = None,
        cpu: str = "4",
        allocatable_cpu: str = "3800m",
        memory: str = "7Gi",
        pods: str = "110",
        labels: dict | None = None,
    ) -> dict:
        index = len(self.store.objects["nodes"]) if index is None else index
        node = {
            "metadata": dict(
                self.meta(name),
                labels={
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "node-role.kubernetes.io/worker": "",
                    **(labels or {}),
                },
            ),
            "spec": {},
            "status": {
                "capacity": {"cpu": cpu, "memory": "8148348Ki", "pods": pods},
                "allocatable": {"cpu": allocatable_cpu, "memory": memory, "pods": pods},
                "addresses": [
                    {"type": "InternalIP", "address": f"10.0.{index // 250}.{index % 250 + 10}"},
                    {"type": "Hostname", "address": name},
                ],
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            },
        }
        self._set_ready(node, ready)
        return self.store.put("nodes", node)

    def _set_ready(self, node: dict, ready: bool) -> None:
        node["status"]["conditions"][-1].update(
            status=str(ready), reason="KubeletReady" if ready else "NodeStatusUnknown"
        )
        taints = [t for t in node["spec"].get("taints") or [] if t["key"] != "node.kubernetes.io/not-ready"]
        if not ready:
            taints.append({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"})
        node["spec"]["taints"] = taints

    def set_node_ready(self, name: str, ready: bool) -> None:
        node = self.store.get("nodes", "", name)
        self._set_ready(node, ready)
        self.store.put("nodes", node)
        self.add_event(
            "Node",
            "",
            name,
            "NodeReady" if ready else "NodeNotReady",
            f"Node {name} status is now: {'NodeReady' if ready else 'NodeNotReady'}",
            component="node-controller",
        )

    def set_usage(self, node: str, cpu: str, memory: str) -> None:
        """The usage metrics-server reports for ``node`` (e.g. "1500m", "2Gi")."""
        self.usage[node] = {"cpu": cpu, "memory": memory}

    def add_event(
        self,
        kind: str,
        ns: str,
        name: str,
        reason: str,
        message: str,
        *,
        type: str = "Normal",
        component: str = "kubelet",
        host: str | None = None,
        at: float | None = None,
        uid: str = "",
    ) -> dict:
        """Record a core v1 Event about object ``kind`` ns/name."""
        at = self.clock() if at is None else at
        event_ns = ns or "default"
        obj = {
            "metadata": {
                "name": f"{name}.{uuid.uuid4().hex[:16]}",
                "namespace": event_ns,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": rfc3339(at),
            },
            "involvedObject": {
                "kind": kind,
                "name": name,
                "apiVersion": "v1",
                **({"namespace": ns} if ns else {}),
                **({"uid": uid} if uid else {}),
            },
            "reason": reason,
            "message": message,
            "type": type,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": rfc3339(at),
            "lastTimestamp": rfc3339(at),
            "count": 1,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        return self.store.put("events", obj)

    def pod_event(self, pod: dict, type: str, reason: str, message: str, component: str = "kubelet") -> None:
        meta = pod["metadata"]
        self.add_event(
            "Pod",
            meta["namespace"],
            meta["name"],
            reason,
            message,
            type=type,
            component=component,
            host=(pod.get("spec") or {}).get("nodeName"),
            uid=meta.get("uid", ""),
        )

    def put_pod(self, obj: dict) -> dict:
        return self.store.put("pods", obj)

    def remove_pod(self, ns: str, name: str) -> None:
        self.store.delete("pods", ns, name)
        self.pod_logs.pop((ns, name), None)

    # ---- the API ---------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, headers, body: bytes):
        """One API request -> (status, payload) or (status, ctype, bytes) or a stream."""
        if self.record_requests:
            self.requests.append((method, path))
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.token:  # as the API server reads it
            raise ApiError(401, "Unauthorized", "Unauthorized")
        for pattern, name in _ROUTES:
            if m := pattern.match(path):
                args = [unquote(a) for a in m.groups()]
                if name in ("ksvcs", "ksvc"):
                    if not self.serving:
                        break
                    return self.ksvc_request(method, args[0], args[1] if len(args) > 1 else None, query, headers, body)
                if name.endswith("metrics") or name.endswith("metric") or name == "metrics_discovery":
                    if not self.metrics:
                        break
                route = getattr(self, f"_route_{name}")
                return route(method, *args, query=query, body=body)
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})

    def _only(self, method: str, *allowed: str) -> None:
        if method not in allowed:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def watch_stream(self, key: str, ns: str | None, query: dict):
        return "stream", self.store.watch(
            key,
            ns,
            query,
            bookmark_interval=self.bookmark_interval,
            stopped=self._stopping.is_set,
            paused=self._stalled.is_set,
        )

    def _collection(self, key: str, ns: str | None, method: str, query: dict):
        self._only(method, "GET")
        if watching(query):
            return self.watch_stream(key, ns, query)
        return 200, "application/json", self.store.list(key, ns, query)

    def _route_version(self, method, *, query, body):
        self._only(method, "GET")
        return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake", "platform": "linux/amd64"}

    def _route_nodes(self, method, *, query, body):
        return self._collection("nodes", None, method, query)

    def _route_node(self, method, name, *, query, body):
        self._only(method, "GET")
        return 200, self._get("nodes", "", name)

    def _get(self, key: str, ns: str, name: str) -> dict:
        obj = self.store.get(key, ns, name)
        if obj is None:
            raise ApiError(404, "NotFound", f'{key} "{name}" not found', {"name": name, "kind": key})
        return obj

    def _route_all_pods(self, method, *, query, body):
        if self.forbid_cluster_pods:
            raise ApiError(
                403,
                "Forbidden",
                'pods is forbidden: User "system:serviceaccount:'
                'default:faastui" cannot list resource "pods" in API group "" at the '
                "cluster scope",
                {"kind": "pods"},
            )
        return self._collection("pods", None, method, query)

    def _route_pods(self, method, ns, *, query, body):
        if method == "POST":
            return 201, self.create_pod(ns, self.json_body(body))
        return self._collection("pods", ns, method, query)

    def _route_pod(self, method, ns, name, *, query, body):
        self._only(method, "GET", "DELETE")
        if method == "DELETE":
            return 200, self.delete_pod(ns, name)
        return 200, self._get("pods", ns, name)

    def _route_pod_log(self, method, ns, name, *, query, body):
        self._only(method, "GET")
        return self.pod_log(ns, name, query)

    def _route_all_events(self, method, *, query, body):
        return self._collection("events", None, method, query)

    def _route_events(self, method, ns, *, query, body):
        return self._collection("events", ns, method, query)

    # ---- bodies ------------------------------------------------------------------------------
    @staticmethod
    def json_body(body: bytes) -> dict:
        try:
            data = json.loads(body or b"null")
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"invalid JSON in the request body: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "BadRequest", "the request body must be a JSON object")
        return data


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    @property
    def fake(self) -> FakeKube:
        return self.server.fake  # type: ignore[attr-defined]

    def setup(self):
        super().setup()
        with self.fake.lock:
            self.fake._connections.add(self.connection)

    def finish(self):
        with self.fake.lock:
            self.fake._connections.discard(self.connection)
            self.fake._watch_connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status: int, ctype: str, payload: bytes, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class _ApiHandler(_Handler):
    def _serve(self):
        fake = self.fake
        while fake._stalled.is_set() and not fake._stopping.is_set():
            time.sleep(0.02)  # a stalled API server: the request waits, unanswered
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body = self.read_body()
        try:
            result = fake.handle(self.command, parts.path, query, self.headers, body)
        except ApiError as err:
            return self.send(err.code, "application/json", json.dumps(err.status()).encode())
        if result[0] == "stream":
            return self._stream(result[1])
        if result[0] == "hang":  # a request never answered (kube_podproxy.py)
            self.close_connection = True
            return None
        if len(result) == 3:
            status, ctype, payload = result
            return self.send(status, ctype, payload)
        status, obj = result
        self.send(status, "application/json", json.dumps(obj).encode())

    def _stream(self, lines) -> None:
        with self.fake.lock:
            self.fake._watch_connections.add(self.connection)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for line in lines:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client went away, or break_watches() cut the connection
            self.close_connection = True
        finally:
            with self.fake.lock:
                self.fake._watch_connections.discard(self.connection)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _IngressHandler(_Handler):
    def _serve(self):
        proxy_to_ingress(self, self.fake)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


@contextlib.contextmanager
def fake_kube(**options):
    """A started FakeKube, stopped (every process, thread and socket) afterwards."""
    fake = FakeKube(**options).start()
    try:
        yield fake
    finally:
        fake.stop()
