"""A FAKE Kubernetes API server with a FAKE Knative Serving controller, for tests.

Kubernetes and Knative cannot run here (no Docker, no cluster), so this module stands
in for them. It is written from the public API specs (the Kubernetes API conventions:
Status objects, resourceVersion/generation, list kinds, JSON merge patch; the Knative
Serving v1 ``Service`` resource: spec.template, status.url, status.conditions,
latestCreated/ReadyRevisionName, the ``serving.knative.dev/*`` pod labels) and it is
strict about them, so the adapter cannot lean on leniency a real API server lacks:

- every request needs ``Authorization: Bearer <token>`` (401 Status otherwise);
- errors are ``kind: Status`` objects: 404 NotFound, 409 AlreadyExists / Conflict (a
  stale resourceVersion), 422 Invalid (a name that is not a DNS-1123 label, a Service
  without containers or image), 415 for a patch type custom resources do not support;
- only the routes the Knative adapter uses exist; any other path is a 404 Status.

Routes: ``GET /api/v1/nodes``, ``GET /api/v1/pods``, ``GET
/api/v1/namespaces/{ns}/pods`` (``labelSelector``), ``GET
/api/v1/namespaces/{ns}/pods/{pod}/log`` (``container``, ``tailLines``), ``GET|POST
/apis/serving.knative.dev/v1/namespaces/{ns}/services`` and ``GET|PATCH|DELETE
.../services/{name}`` (PATCH: ``application/merge-patch+json``, what the kubernetes
client sends for custom objects).

The controller (one thread) reconciles a Service after each spec change: revision
``{name}-{generation:05d}``; if the container is ``command: ["python", "-c", X]`` in a
``python:*`` image it STARTS A REAL PROCESS per pod (``sys.executable -c X`` with the
container's env, ``PORT`` = a free loopback port, logs to a file the log route serves),
waits for it to answer, creates Running/Ready Pods on the fake nodes, switches traffic to
the new revision and stops the old one; Ready=True with ``status.url =
http://{name}.{ns}.example.com``. Any other image or command never starts: the Pod stays
Pending in ImagePullBackOff and Ready=False with the message Knative would give (the last
ready revision keeps serving, as on Knative). Pods per revision = max(1, min-scale,
initial-scale), capped by max-scale and by ``MAX_PODS``; the fake never scales to zero.

The fake also plays the cluster's ingress: ``ingress_url`` routes each request by its
``Host`` header to a process of the Service's ready revision (the usual ``curl -H "Host:
hello.default.example.com" http://INGRESS`` of Knative). It also takes absolute-form
requests, as an HTTP proxy does, so a client can call ``status.url`` itself without any
name lookup (``HTTP_PROXY=ingress_url``). ``stop()`` ends every process, thread and
socket it started.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import http.server
import itertools
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeKube", "fake_kube", "MAX_PODS"]

GROUP, VERSION = "serving.knative.dev", "v1"
MAX_PODS = 4
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_KSVC = re.compile(rf"^/apis/{re.escape(GROUP)}/{VERSION}/namespaces/([^/]+)/services"
                   r"(?:/([^/]+))?$")
_PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods$")
_POD_LOG = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class ApiError(Exception):
    """A Kubernetes Status the handler sends back."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def _not_found(name: str) -> ApiError:
    return ApiError(404, "NotFound", f'services.{GROUP} "{name}" not found',
                    {"name": name, "group": GROUP, "kind": "services"})


class _Pod:
    """A fake pod: its API object and, when it runs, a real process."""

    def __init__(self, obj: dict, process: subprocess.Popen | None = None, port: int = 0,
                 log: Path | None = None):
        self.obj, self.process, self.port, self.log = obj, process, port, log

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]


class FakeKube:
    """The fake API server + controller + ingress. Use ``fake_kube()`` or start()/stop()."""

    def __init__(self, token: str = "test-token", nodes: int = 2, not_ready_nodes: int = 1,
                 serving: bool = True):
        self.token = token
        self.serving = serving  # False: a cluster without Knative Serving's CRDs
        self.rv = itertools.count(1000)
        self.lock = threading.RLock()
        self.ksvcs: dict[tuple[str, str], dict] = {}
        self.pods: dict[str, list[_Pod]] = {}  # revision name -> its pods
        self.routes: dict[str, str] = {}  # host -> revision serving it
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API request
        self.workdir = Path(tempfile.mkdtemp(prefix="fake-kube-"))
        self.nodes = [self._node(f"kn-node-{i + 1}", i, ready=True) for i in range(nodes)]
        self.nodes += [self._node(f"kn-node-{nodes + i + 1}", nodes + i, ready=False)
                       for i in range(not_ready_nodes)]
        self._ready_nodes = itertools.cycle([n["metadata"]["name"] for n in self.nodes
                                             if n["status"]["conditions"][-1]["status"] == "True"])
        self._round_robin: dict[str, itertools.cycle] = {}
        self._work: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._servers: list[http.server.ThreadingHTTPServer] = []
        self._connections: set[socket.socket] = set()
        self.api_url = self.ingress_url = ""

    # ---- life cycle ---------------------------------------------------------------------
    def start(self) -> "FakeKube":
        api = self._serve(_ApiHandler)
        ingress = self._serve(_IngressHandler)
        self.api_url = f"http://127.0.0.1:{api.server_address[1]}"
        self.ingress_url = f"http://127.0.0.1:{ingress.server_address[1]}"
        controller = threading.Thread(target=self._controller, name="fake-knative-controller",
                                      daemon=True)
        controller.start()
        self._threads.append(controller)  # last: stop() joins it first
        return self

    def _serve(self, handler) -> http.server.ThreadingHTTPServer:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = False  # so server_close() joins every handler thread
        server.fake = self  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"fake-kube-{handler.__name__}", daemon=True)
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)
        return server

    def stop(self) -> None:
        """End the controller, the servers, every connection, thread and process."""
        self._work.put(None)
        self._threads[-1].join(timeout=30)  # the controller: no reconcile after this
        for server in self._servers:
            server.shutdown()  # no new connections
        with self.lock:
            conns = list(self._connections)
            pods = [p for ps in self.pods.values() for p in ps]
            self.pods.clear()
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

    def kubeconfig(self, path: Path, *, token: str | None = None, namespace: str | None = None,
                   context: str = "fake") -> Path:
        """Write a kubeconfig for this server (``token`` defaults to the right one)."""
        ctx = {"cluster": "fake", "user": "fake-user"}
        if namespace:
            ctx["namespace"] = namespace
        data = {"apiVersion": "v1", "kind": "Config", "current-context": context,
                "clusters": [{"name": "fake", "cluster": {"server": self.api_url}}],
                "users": [{"name": "fake-user", "user": {"token": token or self.token}}],
                "contexts": [{"name": context, "context": ctx}]}
        path.write_text(json.dumps(data, indent=1))  # JSON is YAML
        return path

    # ---- what tests look at -------------------------------------------------------------
    def processes(self, name: str | None = None) -> list[subprocess.Popen]:
        """The live processes (of Service ``name``, or all)."""
        with self.lock:
            pods = [p for ps in self.pods.values() for p in ps]
        return [p.process for p in pods if p.process is not None and p.process.poll() is None
                and (name is None or p.obj["metadata"]["labels"][f"{GROUP}/service"] == name)]

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until the controller has nothing queued."""
        deadline = time.monotonic() + timeout
        while (self._work.unfinished_tasks and time.monotonic() < deadline):
            time.sleep(0.02)

    # ---- objects ------------------------------------------------------------------------
    def _meta(self, name: str, namespace: str | None = None) -> dict:
        meta = {"name": name, "uid": str(uuid.uuid4()), "resourceVersion": str(next(self.rv)),
                "creationTimestamp": _now()}
        if namespace:
            meta["namespace"] = namespace
        return meta

    def _node(self, name: str, index: int, ready: bool) -> dict:
        return {"metadata": dict(self._meta(name), labels={
                    "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                    "node-role.kubernetes.io/worker": ""}),
                "spec": {},
                "status": {"capacity": {"cpu": "4", "memory": "8148348Ki", "pods": "110"},
                           "allocatable": {"cpu": "3800m", "memory": "7Gi", "pods": "110"},
                           "addresses": [{"type": "InternalIP", "address": f"10.0.0.{index + 10}"},
                                         {"type": "Hostname", "address": name}],
                           "conditions": [{"type": "MemoryPressure", "status": "False"},
                                          {"type": "Ready", "status": str(ready),
                                           "reason": "KubeletReady" if ready
                                           else "NodeStatusUnknown"}]}}

    def _all_pods(self) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(p.obj) for ps in self.pods.values() for p in ps]

    def _bump(self, obj: dict) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self.rv))

    # ---- the API -----------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, headers, body: bytes):
        """One API request -> (status, content type, payload). Raises ApiError."""
        self.requests.append((method, path))
        if headers.get("Authorization") != f"Bearer {self.token}":
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if path == "/api/v1/nodes" and method == "GET":
            return 200, {"kind": "NodeList", "apiVersion": "v1",
                         "metadata": {"resourceVersion": str(next(self.rv))},
                         "items": copy.deepcopy(self.nodes)}
        if path == "/api/v1/pods" and method == "GET":
            return 200, self._pod_list(self._all_pods(), query)
        if (m := _PODS.match(path)) and method == "GET":
            return 200, self._pod_list([p for p in self._all_pods()
                                        if p["metadata"]["namespace"] == m[1]], query)
        if (m := _POD_LOG.match(path)) and method == "GET":
            return self._pod_log(m[1], m[2], query)
        if (m := _KSVC.match(path)) and self.serving:
            ns, name = m[1], m[2]
            if name is None and method == "GET":
                with self.lock:
                    items = [copy.deepcopy(o) for (n, _), o in sorted(self.ksvcs.items())
                             if n == ns]
                return 200, {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ServiceList",
                             "metadata": {"resourceVersion": str(next(self.rv))}, "items": items}
            if name is None and method == "POST":
                return 201, self._create(ns, self._json(body))
            if name is not None and method == "GET":
                with self.lock:
                    if (ns, name) not in self.ksvcs:
                        raise _not_found(name)
                    return 200, copy.deepcopy(self.ksvcs[ns, name])
            if name is not None and method == "PATCH":
                ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
                if ctype != "application/merge-patch+json":
                    raise ApiError(415, "UnsupportedMediaType",
                                   f"the body of the request was in an unknown format - accepted "
                                   f"media types include: application/merge-patch+json "
                                   f"(got {ctype or 'none'})")
                return 200, self._patch(ns, name, self._json(body))
            if name is not None and method == "DELETE":
                return 200, self._delete(ns, name)
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource")
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    @staticmethod
    def _json(body: bytes) -> dict:
        try:
            data = json.loads(body or b"null")
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"invalid JSON in the request body: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "BadRequest", "the request body must be a JSON object")
        return data

    @staticmethod
    def _selector(text: str):
        """An equality-based label selector (``a=b,c``) -> a predicate on labels."""
        terms = []
        for term in filter(None, (t.strip() for t in text.split(","))):
            key, sep, value = term.partition("=")
            if sep and value.startswith("="):
                value = value[1:]
            if not key or "!" in key or (sep and not _DNS1123_LABEL.match(value or "a")):
                raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
            terms.append((key, value if sep else None))
        return lambda labels: all(k in labels and (v is None or labels[k] == v) for k, v in terms)

    def _pod_list(self, pods: list[dict], query: dict) -> dict:
        if "labelSelector" in query:
            match = self._selector(query["labelSelector"])
            pods = [p for p in pods if match(p["metadata"].get("labels") or {})]
        return {"kind": "PodList", "apiVersion": "v1",
                "metadata": {"resourceVersion": str(next(self.rv))}, "items": pods}

    def _pod_log(self, ns: str, name: str, query: dict):
        with self.lock:
            found = [p for ps in self.pods.values() for p in ps
                     if p.name == name and p.obj["metadata"]["namespace"] == ns]
        if not found:
            raise ApiError(404, "NotFound", f'pods "{name}" not found',
                           {"name": name, "kind": "pods"})
        pod = found[0]
        names = [c["name"] for c in pod.obj["spec"]["containers"]]
        container = query.get("container")
        if container is None:
            raise ApiError(400, "BadRequest", f"a container name must be specified for pod {name}, "
                                              f"choose one of: [{' '.join(names)}]")
        if container not in names:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        if container != "user-container":
            return 200, "text/plain", b""
        if pod.log is None:
            raise ApiError(400, "BadRequest", f'container "{container}" in pod "{name}" is waiting '
                                              f"to start: trying and failing to pull image")
        lines = pod.log.read_text(errors="replace").splitlines(keepends=True)
        if "tailLines" in query:
            try:
                tail = int(query["tailLines"])
            except ValueError:
                raise ApiError(400, "BadRequest", "tailLines must be an integer") from None
            lines = lines[-tail:] if tail > 0 else []
        return 200, "text/plain", "".join(lines).encode()

    def _validate(self, obj: dict, ns: str) -> None:
        if obj.get("apiVersion") != f"{GROUP}/{VERSION}" or obj.get("kind") != "Service":
            raise ApiError(400, "BadRequest",
                           f"the API version in the data ({obj.get('apiVersion')}) does not "
                           f"match the expected API version ({GROUP}/{VERSION})")
        meta = obj.get("metadata") or {}
        name = meta.get("name") or ""
        if meta.get("namespace", ns) != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match "
                                              "the namespace sent on the request")
        causes = []
        if not name or len(name) > 63 or not _DNS1123_LABEL.match(name):
            causes.append({"reason": "FieldValueInvalid", "field": "metadata.name",
                           "message": f"Invalid value: {name!r}: a lowercase RFC 1123 label must "
                                      "consist of lower case alphanumeric characters or '-'"})
        template = (obj.get("spec") or {}).get("template") or {}
        containers = (template.get("spec") or {}).get("containers")
        if not containers:
            causes.append({"reason": "FieldValueRequired", "field": "spec.template.spec.containers",
                           "message": "missing field(s): spec.template.spec.containers"})
        elif len(containers) > 1 or not (containers[0] or {}).get("image"):
            causes.append({"reason": "FieldValueRequired",
                           "field": "spec.template.spec.containers[0].image",
                           "message": "missing field(s): spec.template.spec.containers[0].image"})
        if causes:
            raise ApiError(422, "Invalid", f'Service.{GROUP} "{name}" is invalid: '
                           + "; ".join(f"{c['field']}: {c['message']}" for c in causes),
                           {"name": name, "group": GROUP, "kind": "Service", "causes": causes})

    @staticmethod
    def _default(obj: dict) -> None:
        """What Knative's defaulting webhook fills in."""
        spec = obj["spec"]["template"].setdefault("spec", {})
        spec.setdefault("timeoutSeconds", 300)
        spec.setdefault("containerConcurrency", 0)
        for c in spec["containers"]:
            c.setdefault("name", "user-container")
        obj["spec"].setdefault("traffic", [{"latestRevision": True, "percent": 100}])

    def _create(self, ns: str, obj: dict) -> dict:
        self._validate(obj, ns)
        obj.pop("status", None)
        name = obj["metadata"]["name"]
        with self.lock:
            if (ns, name) in self.ksvcs:
                raise ApiError(409, "AlreadyExists", f'services.{GROUP} "{name}" already exists',
                               {"name": name, "group": GROUP, "kind": "services"})
            meta = obj["metadata"]
            for key in ("uid", "resourceVersion", "creationTimestamp", "generation"):
                meta.pop(key, None)
            meta.update(self._meta(name, ns), generation=1)
            self._default(obj)
            obj["status"] = {"observedGeneration": 0, "conditions": [
                {"type": t, "status": "Unknown", "reason": "Deploying"}
                for t in ("ConfigurationsReady", "Ready", "RoutesReady")]}
            self.ksvcs[ns, name] = obj
            self._work.put((ns, name))
            return copy.deepcopy(obj)

    def _patch(self, ns: str, name: str, patch: dict) -> dict:
        with self.lock:
            if (ns, name) not in self.ksvcs:
                raise _not_found(name)
            old = self.ksvcs[ns, name]
            want_rv = (patch.get("metadata") or {}).get("resourceVersion")
            if want_rv is not None and want_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               f'Operation cannot be fulfilled on services.{GROUP} "{name}": the '
                               "object has been modified; please apply your changes to the "
                               "latest version and try again",
                               {"name": name, "group": GROUP, "kind": "services"})
            patch = dict(patch)
            patch.pop("status", None)  # status is a subresource
            new = merge_patch(old, patch)
            for key in ("name", "namespace", "uid", "creationTimestamp", "generation"):
                new["metadata"][key] = old["metadata"].get(key)
            new["metadata"] = {k: v for k, v in new["metadata"].items() if v is not None}
            self._validate(new, ns)
            self._default(new)
            if new["spec"] != old["spec"]:
                new["metadata"]["generation"] = old["metadata"]["generation"] + 1
                self._work.put((ns, name))
            self._bump(new)
            self.ksvcs[ns, name] = new
            return copy.deepcopy(new)

    def _delete(self, ns: str, name: str) -> dict:
        with self.lock:
            obj = self.ksvcs.pop((ns, name), None)
            if obj is None:
                raise _not_found(name)
            pods = self._take_pods(ns, name)
            self.routes.pop(f"{name}.{ns}.example.com", None)
        self._stop_pods(pods)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": GROUP, "kind": "services",
                            "uid": obj["metadata"]["uid"]}}

    def _take_pods(self, ns: str, name: str, keep: str | None = None) -> list[_Pod]:
        """Remove (from the API) the pods of Service ns/name except revision ``keep``."""
        taken = []
        for rev in list(self.pods):
            pods = self.pods[rev]
            labels = pods[0].obj["metadata"]["labels"] if pods else {}
            if (labels.get(f"{GROUP}/service") == name and rev != keep
                    and pods[0].obj["metadata"]["namespace"] == ns):
                taken += self.pods.pop(rev)
        return taken

    @staticmethod
    def _stop_pods(pods: list[_Pod]) -> None:
        for pod in pods:
            if pod.process is not None and pod.process.poll() is None:
                pod.process.terminate()
        for pod in pods:
            if pod.process is not None:
                try:
                    pod.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pod.process.kill()
                    pod.process.wait(timeout=5)

    # ---- the controller ----------------------------------------------------------------
    def _controller(self) -> None:
        while True:
            item = self._work.get()
            try:
                if item is None:
                    return
                self._reconcile(*item)
            except Exception:  # a broken reconcile must not kill the controller
                import traceback
                traceback.print_exc()
            finally:
                self._work.task_done()

    def _set_status(self, ns: str, name: str, generation: int, **status) -> None:
        with self.lock:
            obj = self.ksvcs.get((ns, name))
            if obj is None or obj["metadata"]["generation"] != generation:
                return
            obj["status"] = dict(obj.get("status") or {}, observedGeneration=generation, **status)
            self._bump(obj)

    @staticmethod
    def _conditions(state: str, reason: str = "", message: str = "") -> list[dict]:
        """ConfigurationsReady and Ready carry ``state`` (and why, unless True)."""
        out = []
        for t in ("ConfigurationsReady", "Ready"):
            cond = {"type": t, "status": state, "lastTransitionTime": _now()}
            if state != "True":
                cond.update(reason=reason, message=message)
            out.append(cond)
        out.append({"type": "RoutesReady", "status": "True" if state == "True" else "Unknown",
                    "lastTransitionTime": _now()})
        return out

    def _reconcile(self, ns: str, name: str) -> None:
        with self.lock:
            obj = copy.deepcopy(self.ksvcs.get((ns, name)))
        if obj is None:
            return
        gen = obj["metadata"]["generation"]
        if obj["status"].get("observedGeneration") == gen:
            return
        rev = f"{name}-{gen:05d}"
        template = obj["spec"]["template"]
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        container = template["spec"]["containers"][0]
        self._set_status(ns, name, gen, latestCreatedRevisionName=rev, conditions=self._conditions(
            "Unknown", "RevisionMissing", f'Configuration "{name}" is waiting for a Revision to '
                                          "become ready."))
        command = container.get("command") or []
        image = container["image"]
        runnable = image.startswith("python:") and len(command) == 3 and command[:2] == [
            "python", "-c"]
        if not runnable:
            pod = _Pod(self._pod_object(ns, name, rev, container, running=False))
            with self.lock:
                self.pods.setdefault(rev, []).append(pod)
            self._set_status(ns, name, gen, conditions=self._conditions(
                "False", "RevisionFailed",
                f'Revision "{rev}" failed with message: Back-off pulling image "{image}".'))
            return
        count = max(1, int(annotations.get("autoscaling.knative.dev/min-scale") or 0),
                    int(annotations.get("autoscaling.knative.dev/initial-scale") or 0))
        if int(annotations.get("autoscaling.knative.dev/max-scale") or 0) > 0:
            count = min(count, int(annotations["autoscaling.knative.dev/max-scale"]))
        pods, failure = [], None
        for _ in range(min(count, MAX_PODS)):
            pod, failure = self._start_pod(ns, name, rev, container, command[2])
            pods.append(pod)
            if failure:
                break
        with self.lock:
            still = self.ksvcs.get((ns, name))
            current = still is not None and still["metadata"]["generation"] == gen
            if current:
                self.pods[rev] = pods
        if not current:  # deleted or changed while the processes started
            self._stop_pods(pods)
            return
        if failure:
            self._stop_pods([p for p in pods if p.process is not None])
            self._set_status(ns, name, gen, conditions=self._conditions(
                "False", "RevisionFailed", f'Revision "{rev}" failed with message: {failure}.'))
            return
        host = f"{name}.{ns}.example.com"
        with self.lock:
            self.routes[host] = rev
            self._round_robin[rev] = itertools.cycle(range(len(pods)))
            old = self._take_pods(ns, name, keep=rev)
        self._stop_pods(old)
        self._set_status(ns, name, gen, latestReadyRevisionName=rev, url=f"http://{host}",
                         address={"url": f"http://{name}.{ns}.svc.cluster.local"},
                         traffic=[{"revisionName": rev, "latestRevision": True, "percent": 100}],
                         conditions=self._conditions("True"))

    def _pod_object(self, ns: str, name: str, rev: str, container: dict, running: bool) -> dict:
        pod_name = f"{rev}-deployment-{uuid.uuid4().hex[:10]}-{uuid.uuid4().hex[:5]}"
        meta = self._meta(pod_name, ns)
        meta["labels"] = {f"{GROUP}/service": name, f"{GROUP}/revision": rev,
                          f"{GROUP}/configuration": name, "app": rev}
        user = {"name": "user-container", "image": container["image"],
                "resources": container.get("resources") or {}}
        proxy = {"name": "queue-proxy", "image": "gcr.io/knative-releases/queue:fake",
                 "resources": {"requests": {"cpu": "25m"}}}
        if running:
            status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                      "containerStatuses": [{"name": c, "ready": True, "state": {"running": {
                          "startedAt": _now()}}} for c in ("queue-proxy", "user-container")]}
        else:
            status = {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False",
                                                          "reason": "ContainersNotReady"}],
                      "containerStatuses": [{"name": "user-container", "ready": False, "state": {
                          "waiting": {"reason": "ImagePullBackOff",
                                      "message": "Back-off pulling image "
                                                 f'"{container["image"]}"'}}}]}
        return {"metadata": meta, "spec": {"nodeName": next(self._ready_nodes),
                                           "containers": [user, proxy]}, "status": status}

    def _start_pod(self, ns: str, name: str, rev: str, container: dict, program: str):
        """Start one pod's process; (pod, failure message or None)."""
        port = _free_port()
        env = {e["name"]: str(e.get("value", "")) for e in container.get("env") or []}
        env.update(PORT=str(port), FAASTUI_BIND="127.0.0.1", K_SERVICE=name, K_REVISION=rev,
                   K_CONFIGURATION=name, PATH=os.environ.get("PATH", "/usr/bin:/bin"),
                   HOME=str(self.workdir), PYTHONDONTWRITEBYTECODE="1")
        obj = self._pod_object(ns, name, rev, container, running=True)
        log = self.workdir / f"{obj['metadata']['name']}.log"
        with open(log, "wb") as out:
            try:
                proc = subprocess.Popen([sys.executable, "-c", program], env=env,
                                        stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT)
            except OSError as exc:  # e.g. E2BIG: an env var over the kernel's limit
                obj["status"]["phase"] = "Failed"
                return _Pod(obj), f"Container failed to start: {exc.strerror}"
        pod = _Pod(obj, proc, port, log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
                obj["status"] = {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                    "containerStatuses": [{"name": "user-container", "ready": False, "state": {
                        "waiting": {"reason": "CrashLoopBackOff"}}}]}
                return pod, f"Container failed with: {tail[0]} (exit code {proc.returncode})"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return pod, None
            except OSError:
                time.sleep(0.03)
        return pod, "Container did not listen on $PORT in time"

    # ---- the ingress ------------------------------------------------------------------
    def upstream(self, host: str) -> int | None:
        """The port of a ready process serving ``host`` (round robin), or None."""
        with self.lock:
            rev = self.routes.get(host.split(":")[0])
            pods = self.pods.get(rev or "", [])
            if not pods:
                return None
            return pods[next(self._round_robin[rev]) % len(pods)].port


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
        with contextlib.suppress(OSError):
            super().finish()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, ctype: str, payload: bytes, extra: dict | None = None) -> None:
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
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body = self._body()
        try:
            result = self.fake.handle(self.command, parts.path, query, self.headers, body)
        except ApiError as err:
            return self._send(err.code, "application/json", json.dumps(err.status()).encode())
        if len(result) == 3:
            status, ctype, payload = result
            return self._send(status, ctype, payload)
        status, obj = result
        self._send(status, "application/json", json.dumps(obj).encode())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _IngressHandler(_Handler):
    def _serve(self):
        body = self._body()
        host = self.headers.get("Host") or ""
        path = self.path
        if "://" in path:  # absolute form: the client uses the ingress as its HTTP proxy
            parts = urlsplit(path)
            host = parts.netloc or host
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        port = self.fake.upstream(host)
        if port is None:
            return self._send(404, "text/plain", b"")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "connection", "content-length")}
            conn.request(self.command, path, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        except OSError as exc:
            return self._send(503, "text/plain", f"upstream unavailable: {exc}".encode())
        finally:
            conn.close()
        self._send(resp.status, resp.getheader("Content-Type") or "application/octet-stream",
                   payload, {"X-Served-By": f"127.0.0.1:{port}"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


@contextlib.contextmanager
def fake_kube(**options):
    """A started FakeKube, stopped (every process, thread and socket) afterwards."""
    fake = FakeKube(**options).start()
    try:
        yield fake
    finally:
        fake.stop()
