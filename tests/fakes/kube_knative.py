"""The FAKE Knative Serving part of the fake Kubernetes API server (tests/fakes/kube_api.py):
the ``serving.knative.dev/v1`` Service routes, a controller that runs each revision's pods
as REAL PROCESSES, and the cluster's ingress. Written from the Knative Serving v1 API
(spec.template, status.url, status.conditions, latestCreated/ReadyRevisionName, the
``serving.knative.dev/*`` pod labels); the rules are in kube_api.py's docstring.

A mixin of ``FakeKube``: it uses the fake's store (``self.store``), lock, events and
nodes; nothing here is shared with the code under test.
"""

from __future__ import annotations

import copy
import http.client
import itertools
import os
import re
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from .kube_kubelet import split_stamped, stamp_line
from .kube_store import ApiError

__all__ = ["KnativeMixin", "GROUP", "VERSION", "KSVC", "MAX_PODS", "merge_patch"]

GROUP, VERSION = "serving.knative.dev", "v1"
KSVC = f"services.{GROUP}"
MAX_PODS = 4
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _not_found(name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'services.{GROUP} "{name}" not found', {"name": name, "group": GROUP, "kind": "services"}
    )


class RevisionPod:
    """A Knative pod of the fake: its namespace/name and, when it runs, a real process."""

    def __init__(
        self, ns: str, name: str, process: subprocess.Popen | None = None, port: int = 0, log: Path | None = None
    ):
        self.ns, self.name, self.process, self.port, self.log = ns, name, process, port, log


class KnativeMixin:
    """Knative Serving on the fake API server (needs the FakeKube attributes)."""

    # ---- the API --------------------------------------------------------------------------
    def ksvc_request(self, method: str, ns: str, name: str | None, query: dict, headers, body: bytes):
        if name is None and method == "GET":
            if query.get("watch") in ("1", "true"):
                return self.watch_stream(KSVC, ns, query)
            return 200, "application/json", self.store.list(KSVC, ns, query)
        if name is None and method == "POST":
            return 201, self._create(ns, self.json_body(body))
        if name is not None and method == "GET":
            obj = self.store.get(KSVC, ns, name)
            if obj is None:
                raise _not_found(name)
            return 200, obj
        if name is not None and method == "PATCH":
            ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype != "application/merge-patch+json":
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted "
                    f"media types include: application/merge-patch+json "
                    f"(got {ctype or 'none'})",
                )
            return 200, self._patch(ns, name, self.json_body(body))
        if name is not None and method == "DELETE":
            return 200, self._delete(ns, name)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    @property
    def ksvcs(self) -> dict[tuple[str, str], dict]:
        """(namespace, name) -> the Knative Service (copies; for tests)."""
        return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in self.store.items(KSVC)}

    def _validate(self, obj: dict, ns: str) -> None:
        if obj.get("apiVersion") != f"{GROUP}/{VERSION}" or obj.get("kind") != "Service":
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({obj.get('apiVersion')}) does not "
                f"match the expected API version ({GROUP}/{VERSION})",
            )
        meta = obj.get("metadata") or {}
        name = meta.get("name") or ""
        if meta.get("namespace", ns) != ns:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        causes = []
        if not name or len(name) > 63 or not _DNS1123_LABEL.match(name):
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": "metadata.name",
                    "message": f"Invalid value: {name!r}: a lowercase RFC 1123 label must "
                    "consist of lower case alphanumeric characters or '-'",
                }
            )
        template = (obj.get("spec") or {}).get("template") or {}
        containers = (template.get("spec") or {}).get("containers")
        if not containers:
            causes.append(
                {
                    "reason": "FieldValueRequired",
                    "field": "spec.template.spec.containers",
                    "message": "missing field(s): spec.template.spec.containers",
                }
            )
        elif len(containers) > 1 or not (containers[0] or {}).get("image"):
            causes.append(
                {
                    "reason": "FieldValueRequired",
                    "field": "spec.template.spec.containers[0].image",
                    "message": "missing field(s): spec.template.spec.containers[0].image",
                }
            )
        if causes:
            raise ApiError(
                422,
                "Invalid",
                f'Service.{GROUP} "{name}" is invalid: ' + "; ".join(f"{c['field']}: {c['message']}" for c in causes),
                {"name": name, "group": GROUP, "kind": "Service", "causes": causes},
            )

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
            if self.store.get(KSVC, ns, name) is not None:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'services.{GROUP} "{name}" already exists',
                    {"name": name, "group": GROUP, "kind": "services"},
                )
            meta = obj["metadata"]
            for key in ("uid", "resourceVersion", "creationTimestamp", "generation"):
                meta.pop(key, None)
            meta.update(self.meta(name, ns), generation=1)
            self._default(obj)
            obj["status"] = {
                "observedGeneration": 0,
                "conditions": [
                    {"type": t, "status": "Unknown", "reason": "Deploying"}
                    for t in ("ConfigurationsReady", "Ready", "RoutesReady")
                ],
            }
            stored = self.store.put(KSVC, obj)
            self._work.put((ns, name))
            return stored

    def _patch(self, ns: str, name: str, patch: dict) -> dict:
        with self.lock:
            old = self.store.get(KSVC, ns, name)
            if old is None:
                raise _not_found(name)
            want_rv = (patch.get("metadata") or {}).get("resourceVersion")
            if want_rv is not None and want_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on services.{GROUP} "{name}": the '
                    "object has been modified; please apply your changes to the "
                    "latest version and try again",
                    {"name": name, "group": GROUP, "kind": "services"},
                )
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
            return self.store.put(KSVC, new)

    def _delete(self, ns: str, name: str) -> dict:
        with self.lock:
            obj = self.store.delete(KSVC, ns, name)
            if obj is None:
                raise _not_found(name)
            pods = self._take_pods(ns, name)
            self.routes.pop(f"{name}.{ns}.example.com", None)
        self._stop_pods(pods)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": GROUP, "kind": "services", "uid": obj["metadata"]["uid"]},
        }

    # ---- pods of revisions -----------------------------------------------------------------
    def _take_pods(self, ns: str, name: str, keep: str | None = None) -> list[RevisionPod]:
        """Remove (from the API) the pods of Service ns/name except revision ``keep``."""
        taken = []
        for rev in list(self.revisions):
            pods = self.revisions[rev]
            obj = self.store.get("pods", pods[0].ns, pods[0].name) if pods else None
            labels = (obj or {}).get("metadata", {}).get("labels") or {}
            if labels.get(f"{GROUP}/service") == name and rev != keep and pods[0].ns == ns:
                for pod in self.revisions.pop(rev):
                    self.remove_pod(pod.ns, pod.name)
                    taken.append(pod)
        return taken

    @staticmethod
    def _stop_pods(pods: list[RevisionPod]) -> None:
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

    def processes(self, name: str | None = None) -> list[subprocess.Popen]:
        """The live processes (of Service ``name``, or all)."""
        with self.lock:
            pods = [(p, rev) for rev, ps in self.revisions.items() for p in ps]
        out = []
        for pod, rev in pods:
            if pod.process is None or pod.process.poll() is not None:
                continue
            if name is None or rev.rsplit("-", 1)[0] == name:
                out.append(pod.process)
        return out

    # ---- the controller ---------------------------------------------------------------------
    def controller(self) -> None:
        while True:
            item = self._work.get()
            try:
                if item is None:
                    return
                if item[0] == "kubelet":
                    self.run_kubelet(*item[1:])
                else:
                    self._reconcile(*item)
            except Exception:  # a broken reconcile must not kill the controller
                traceback.print_exc()
            finally:
                self._work.task_done()

    def _set_status(self, ns: str, name: str, generation: int, **status) -> None:
        with self.lock:
            obj = self.store.get(KSVC, ns, name)
            if obj is None or obj["metadata"]["generation"] != generation:
                return
            obj["status"] = dict(obj.get("status") or {}, observedGeneration=generation, **status)
            self.store.put(KSVC, obj)

    def _conditions(self, state: str, reason: str = "", message: str = "") -> list[dict]:
        """ConfigurationsReady and Ready carry ``state`` (and why, unless True)."""
        out = []
        for t in ("ConfigurationsReady", "Ready"):
            cond = {"type": t, "status": state, "lastTransitionTime": self.now()}
            if state != "True":
                cond.update(reason=reason, message=message)
            out.append(cond)
        out.append(
            {
                "type": "RoutesReady",
                "status": "True" if state == "True" else "Unknown",
                "lastTransitionTime": self.now(),
            }
        )
        return out

    def _reconcile(self, ns: str, name: str) -> None:
        obj = self.store.get(KSVC, ns, name)
        if obj is None:
            return
        gen = obj["metadata"]["generation"]
        if obj["status"].get("observedGeneration") == gen:
            return
        rev = f"{name}-{gen:05d}"
        template = obj["spec"]["template"]
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        container = template["spec"]["containers"][0]
        self._set_status(
            ns,
            name,
            gen,
            latestCreatedRevisionName=rev,
            conditions=self._conditions(
                "Unknown", "RevisionMissing", f'Configuration "{name}" is waiting for a Revision to become ready.'
            ),
        )
        command = container.get("command") or []
        image = container["image"]
        runnable = image.startswith("python:") and len(command) == 3 and command[:2] == ["python", "-c"]
        if not runnable:
            obj = self._pod_object(ns, name, rev, container, running=False)
            with self.lock:
                self.revisions.setdefault(rev, []).append(RevisionPod(ns, obj["metadata"]["name"]))
                self.put_pod(obj)
            self.pod_event(
                obj,
                "Warning",
                "Failed",
                f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack image',
            )
            self._set_status(
                ns,
                name,
                gen,
                conditions=self._conditions(
                    "False",
                    "RevisionFailed",
                    f'Revision "{rev}" failed with message: Back-off pulling image "{image}".',
                ),
            )
            return
        count = max(
            1,
            int(annotations.get("autoscaling.knative.dev/min-scale") or 0),
            int(annotations.get("autoscaling.knative.dev/initial-scale") or 0),
        )
        if int(annotations.get("autoscaling.knative.dev/max-scale") or 0) > 0:
            count = min(count, int(annotations["autoscaling.knative.dev/max-scale"]))
        started, failure = [], None
        for _ in range(min(count, MAX_PODS)):
            pod, obj, failure = self._start_pod(ns, name, rev, container, command[2])
            started.append((pod, obj))
            if failure:
                break
        pods = [p for p, _ in started]
        with self.lock:
            still = self.store.get(KSVC, ns, name)
            current = still is not None and still["metadata"]["generation"] == gen
            if current:
                self.revisions[rev] = pods
                for _, pod_obj in started:
                    self.put_pod(pod_obj)
        if not current:  # deleted or changed while the processes started
            self._stop_pods(pods)
            return
        for _, pod_obj in started:
            self.pod_event(pod_obj, "Normal", "Started", "Started container user-container")
        if failure:
            self._stop_pods([p for p in pods if p.process is not None])
            self._set_status(
                ns,
                name,
                gen,
                conditions=self._conditions(
                    "False", "RevisionFailed", f'Revision "{rev}" failed with message: {failure}.'
                ),
            )
            return
        host = f"{name}.{ns}.example.com"
        with self.lock:
            self.routes[host] = rev
            self._round_robin[rev] = itertools.cycle(range(len(pods)))
            old = self._take_pods(ns, name, keep=rev)
        self._stop_pods(old)
        self._set_status(
            ns,
            name,
            gen,
            latestReadyRevisionName=rev,
            url=f"http://{host}",
            address={"url": f"http://{name}.{ns}.svc.cluster.local"},
            traffic=[{"revisionName": rev, "latestRevision": True, "percent": 100}],
            conditions=self._conditions("True"),
        )

    def _pod_object(self, ns: str, name: str, rev: str, container: dict, running: bool) -> dict:
        pod_name = f"{rev}-deployment-{uuid.uuid4().hex[:10]}-{uuid.uuid4().hex[:5]}"
        meta = self.meta(pod_name, ns)
        meta["labels"] = {
            f"{GROUP}/service": name,
            f"{GROUP}/revision": rev,
            f"{GROUP}/configuration": name,
            "app": rev,
        }
        user = {"name": "user-container", "image": container["image"], "resources": container.get("resources") or {}}
        proxy = {
            "name": "queue-proxy",
            "image": "gcr.io/knative-releases/queue:fake",
            "resources": {"requests": {"cpu": "25m"}},
        }
        ip = next(self._pod_ips)
        if running:
            status = {
                "phase": "Running",
                "podIP": f"10.244.{ip // 250 % 250}.{ip % 250 + 2}",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": c, "ready": True, "state": {"running": {"startedAt": self.now()}}}
                    for c in ("queue-proxy", "user-container")
                ],
            }
        else:
            status = {
                "phase": "Pending",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                "containerStatuses": [
                    {
                        "name": "user-container",
                        "ready": False,
                        "state": {
                            "waiting": {
                                "reason": "ImagePullBackOff",
                                "message": f'Back-off pulling image "{container["image"]}"',
                            }
                        },
                    }
                ],
            }
        return {
            "metadata": meta,
            "spec": {"nodeName": next(self._ready_nodes), "containers": [user, proxy]},
            "status": status,
        }

    def _start_pod(self, ns: str, name: str, rev: str, container: dict, program: str):
        """Start one pod's process; (pod, its object, failure message or None)."""
        port = free_port()
        env = {e["name"]: str(e.get("value", "")) for e in container.get("env") or []}
        env.update(
            PORT=str(port),
            FAASTUI_BIND="127.0.0.1",
            K_SERVICE=name,
            K_REVISION=rev,
            K_CONFIGURATION=name,
            PATH=os.environ.get("PATH", "/usr/bin:/bin"),
            HOME=str(self.workdir),
            PYTHONDONTWRITEBYTECODE="1",
        )
        obj = self._pod_object(ns, name, rev, container, running=True)
        pod_name = obj["metadata"]["name"]
        log = self.workdir / f"{pod_name}.log"
        log.write_bytes(b"")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", program],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:  # e.g. E2BIG: an env var over the kernel's limit
            obj["status"]["phase"] = "Failed"
            return RevisionPod(ns, pod_name), obj, f"Container failed to start: {exc.strerror}"
        runtime = threading.Thread(
            target=_container_log, args=(proc.stdout, log), name=f"fake-runtime-{pod_name}", daemon=True
        )
        runtime.start()
        pod = RevisionPod(ns, pod_name, proc, port, log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                runtime.join(5)
                lines = [split_stamped(ln)[1] for ln in log.read_text(errors="replace").strip().splitlines()]
                tail = lines[-1:] or [""]
                obj["status"] = {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                    "containerStatuses": [
                        {"name": "user-container", "ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
                    ],
                }
                return pod, obj, f"Container failed with: {tail[0]} (exit code {proc.returncode})"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return pod, obj, None
            except OSError:
                time.sleep(0.03)
        return pod, obj, "Container did not listen on $PORT in time"

    def revision_pod(self, ns: str, name: str) -> RevisionPod | None:
        with self.lock:
            return next((p for ps in self.revisions.values() for p in ps if p.ns == ns and p.name == name), None)

    # ---- the ingress ---------------------------------------------------------------------
    def upstream_pod(self, host: str) -> RevisionPod | None:
        """A ready pod serving ``host`` (round robin), or None."""
        with self.lock:
            rev = self.routes.get(host.split(":")[0])
            pods = self.revisions.get(rev or "", [])
            if not pods:
                return None
            return pods[next(self._round_robin[rev]) % len(pods)]

    def upstream(self, host: str) -> int | None:
        """The port of a ready process serving ``host`` (round robin), or None."""
        pod = self.upstream_pod(host)
        return pod.port if pod is not None else None


def _container_log(stream, log: Path) -> None:
    """What a container runtime does with a container's output: each line into the pod's
    log file after the time it was written (``kube_kubelet.stamp_line``)."""
    with open(log, "a", encoding="utf-8") as out:
        for raw in iter(stream.readline, b""):
            out.write(stamp_line(time.time(), raw.decode("utf-8", "replace").rstrip("\n")) + "\n")
            out.flush()
    stream.close()


def proxy_to_ingress(handler, fake) -> None:
    """Serve one ingress request (``handler`` is the BaseHTTPRequestHandler)."""
    body = handler.read_body()
    host = handler.headers.get("Host") or ""
    path = handler.path
    if "://" in path:  # absolute form: the client uses the ingress as its HTTP proxy
        parts = urlsplit(path)
        host = parts.netloc or host
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pod = fake.upstream_pod(host)
    if pod is None:
        return handler.send(404, "text/plain", b"")
    port = pod.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    fake.request_in(pod.ns, pod.name)  # through the pod's queue-proxy: its stats count it
    try:
        headers = {
            k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection", "content-length")
        }
        conn.request(handler.command, path, body=body, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
    except OSError as exc:
        return handler.send(503, "text/plain", f"upstream unavailable: {exc}".encode())
    finally:
        conn.close()
        fake.request_out(pod.ns, pod.name)
    handler.send(
        resp.status,
        resp.getheader("Content-Type") or "application/octet-stream",
        payload,
        {"X-Served-By": f"127.0.0.1:{port}"},
    )
