"""Pods of the FAKE Kubernetes API server (tests/fakes/kube_api.py): creating and deleting
them through the API, a fake scheduler and a fake kubelet, pod logs, and helpers that put
pods straight into the store (a cluster's existing workloads, for tests and benchmarks).

Written from the Pod v1 reference (spec.nodeName, nodeSelector, affinity.nodeAffinity
.requiredDuringSchedulingIgnoredDuringExecution with matchExpressions and matchFields,
tolerations; status.phase, conditions, containerStatuses) and the messages the scheduler
and kubelet record as Events (Scheduled, FailedScheduling, Pulling, Pulled, Failed, BackOff,
Created, Started, Killing). A mixin of ``FakeKube``; nothing here is shared with the code
under test.
"""

from __future__ import annotations

import heapq
import itertools
import re
import time
import traceback
from datetime import datetime, timezone

from .kube_store import ApiError

__all__ = ["KubeletMixin", "pod_object", "stamp_line", "split_stamped", "render_log"]

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NOT_READY = "node.kubernetes.io/not-ready"
_seq = itertools.count()


def _nano(t: float) -> str:
    """RFC 3339 with nanoseconds, trailing zeros dropped (Go's RFC3339Nano)."""
    whole = int(t)
    frac = f"{int(round((t - whole) * 1e6)) % 1_000_000:06d}000".rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + (f".{frac}" if frac else "") + "Z"


def _parse_time(text: str) -> float:
    head, _, frac = text.rstrip("Z").partition(".")
    t = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return t.timestamp() + (int(frac[:6].ljust(6, "0")) / 1e6 if frac else 0.0)


def stamp_line(t: float, text: str) -> str:
    """A container log line as the runtime keeps it: its time, a space, the text."""
    return f"{_nano(t)} {text}"


def split_stamped(line: str) -> tuple[float, str]:
    stamp, _, text = line.partition(" ")
    try:
        return _parse_time(stamp), text
    except ValueError:
        return 0.0, line


def render_log(entries: list[tuple[float, str]], query: dict) -> bytes:
    """The body of ``GET .../pods/{name}/log`` for ``query``: ``sinceTime`` (RFC 3339) or
    ``sinceSeconds``, then ``tailLines``, each line after its RFC3339Nano time with
    ``timestamps=true``."""
    if query.get("sinceTime"):
        try:
            since = _parse_time(query["sinceTime"])
        except ValueError:
            raise ApiError(400, "BadRequest", f"sinceTime {query['sinceTime']!r} is not RFC 3339") \
                from None
        entries = [e for e in entries if e[0] >= since]
    elif query.get("sinceSeconds"):
        if not query["sinceSeconds"].isdigit():
            raise ApiError(400, "BadRequest", "sinceSeconds must be an integer")
        entries = [e for e in entries if e[0] >= time.time() - int(query["sinceSeconds"])]
    if "tailLines" in query:
        try:
            tail = int(query["tailLines"])
        except ValueError:
            raise ApiError(400, "BadRequest", "tailLines must be an integer") from None
        entries = entries[-tail:] if tail > 0 else []
    stamps = query.get("timestamps") in ("true", "1")
    return "".join((stamp_line(t, text) if stamps else text) + "\n"
                   for t, text in entries).encode()


def pod_object(ns: str, name: str, *, uid: str, created: str, node: str = "",
               labels: dict | None = None, image: str = "ghcr.io/openfaas/alpine:latest",
               container: str = "main", phase: str = "Running", ready: bool = True,
               waiting: str | None = None, requests: dict | None = None, host_ip: str = "",
               pod_ip: str = "", owner: str | None = None) -> dict:
    """A pod as the API server returns it (the fields a kubelet and scheduler fill in)."""
    running = phase == "Running"
    state = ({"running": {"startedAt": created}} if running and not waiting else
             {"waiting": {"reason": waiting or "ContainerCreating"}})
    meta = {"name": name, "namespace": ns, "uid": uid, "creationTimestamp": created,
            "labels": dict(labels or {})}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner,
                                    "uid": uid[:-4] + "0000", "controller": True,
                                    "blockOwnerDeletion": True}]
    conditions = [{"type": "PodScheduled", "status": "True" if node else "False",
                   "lastTransitionTime": created}]
    if node:
        conditions += [{"type": t, "status": "True" if (ready and running) or t == "Initialized"
                        else "False", "lastTransitionTime": created}
                       for t in ("Initialized", "Ready", "ContainersReady")]
    status = {"phase": phase, "conditions": conditions, "qosClass": "Burstable",
              "containerStatuses": [{"name": container, "image": image, "imageID": "",
                                     "ready": ready and running, "restartCount": 0,
                                     "started": running, "state": state}]}
    if node:
        status.update(hostIP=host_ip, podIP=pod_ip, startTime=created)
    return {"metadata": meta,
            "spec": {"containers": [{"name": container, "image": image,
                                     "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                     "resources": {"requests": dict(requests or {
                                         "cpu": "50m", "memory": "64Mi"})}}],
                     "nodeName": node or None, "restartPolicy": "Always",
                     "schedulerName": "default-scheduler", "serviceAccountName": "default",
                     "terminationGracePeriodSeconds": 30},
            "status": status}


class KubeletMixin:
    """Pod life cycle on the fake (needs the FakeKube attributes)."""

    # ---- seeding: pods that are already there ----------------------------------------------
    def add_pod(self, ns: str, name: str, *, node: str = "", labels: dict | None = None,
                **kwargs) -> dict:
        """Put a pod straight into the store (no scheduler, no kubelet)."""
        meta = self.meta(name, ns)
        node_obj = self.store.get("nodes", "", node) if node else None
        host_ip = next((a["address"] for a in (node_obj or {}).get("status", {}).get(
            "addresses", []) if a["type"] == "InternalIP"), "")
        n = next(_seq)
        obj = pod_object(ns, name, uid=meta["uid"], created=meta["creationTimestamp"], node=node,
                         labels=labels, host_ip=host_ip,
                         pod_ip=f"10.244.{n // 250 % 250}.{n % 250 + 2}", **kwargs)
        return self.put_pod(obj)

    def update_pod(self, ns: str, name: str, *, phase: str | None = None,
                   ready: bool | None = None, waiting: str | None = None) -> dict:
        """Change a pod's phase/readiness (what its kubelet would report)."""
        pod = self.store.get("pods", ns, name)
        if pod is None:
            raise KeyError((ns, name))
        status = pod["status"]
        if phase is not None:
            status["phase"] = phase
        running = status["phase"] == "Running"
        ready = (ready if ready is not None else
                 all(c.get("ready") for c in status.get("containerStatuses") or [])) and running
        for cond in status.get("conditions") or []:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond["status"] = "True" if ready else "False"
        for cs in status.get("containerStatuses") or []:
            cs["ready"] = ready
            cs["started"] = running
            cs["state"] = ({"running": {"startedAt": self.now()}} if running and not waiting
                           else {"waiting": {"reason": waiting or "ContainerCreating"}})
        return self.put_pod(pod)

    # ---- the API -------------------------------------------------------------------------
    def create_pod(self, ns: str, obj: dict) -> dict:
        meta = dict(obj.get("metadata") or {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + self.meta("x")["uid"][:5]
        name = meta.get("name") or ""
        if meta.get("namespace", ns) != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match "
                                              "the namespace sent on the request")
        causes = []
        if not name or len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
            causes.append(f"metadata.name: Invalid value: {name!r}: a lowercase RFC 1123 "
                          "subdomain must consist of lower case alphanumeric characters, '-' or '.'")
        spec = obj.get("spec") or {}
        containers = spec.get("containers") or []
        if not containers:
            causes.append("spec.containers: Required value")
        for i, c in enumerate(containers):
            if not _DNS1123_LABEL.match(str(c.get("name") or "")):
                causes.append(f"spec.containers[{i}].name: Required value")
            if not c.get("image"):
                causes.append(f"spec.containers[{i}].image: Required value")
        if causes:
            raise ApiError(422, "Invalid", f'Pod "{name}" is invalid: ' + ", ".join(causes),
                           {"name": name, "kind": "Pod"})
        with self.lock:
            if self.store.get("pods", ns, name) is not None:
                raise ApiError(409, "AlreadyExists", f'pods "{name}" already exists',
                               {"name": name, "kind": "pods"})
            meta.pop("resourceVersion", None)
            meta.update(self.meta(name, ns))
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("schedulerName", "default-scheduler")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            pod = {"metadata": meta, "spec": spec,
                   "status": {"phase": "Pending", "qosClass": "BestEffort"}}
            stored = self.put_pod(pod)
        self._later(0.0, "schedule", ns, name)
        return stored

    def delete_pod(self, ns: str, name: str) -> dict:
        with self.lock:
            pod = self.store.get("pods", ns, name)
            if pod is None:
                raise ApiError(404, "NotFound", f'pods "{name}" not found',
                               {"name": name, "kind": "pods"})
            if not pod["metadata"].get("deletionTimestamp"):
                pod["metadata"].update(deletionTimestamp=self.now(), deletionGracePeriodSeconds=30)
                pod = self.put_pod(pod)
                self._later(self.kubelet_delay, "remove", ns, name)
        return pod

    def pod_log(self, ns: str, name: str, query: dict):
        pod = self.store.get("pods", ns, name)
        if pod is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found',
                           {"name": name, "kind": "pods"})
        names = [c["name"] for c in pod["spec"]["containers"]]
        container = query.get("container")
        if container is None and len(names) == 1:
            container = names[0]
        if container is None:
            raise ApiError(400, "BadRequest", f"a container name must be specified for pod {name}, "
                                              f"choose one of: [{' '.join(names)}]")
        if container not in names:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        revision = self.revision_pod(ns, name)
        if revision is not None:
            if container != "user-container":
                return 200, "text/plain", b""
            if revision.log is None:
                raise ApiError(400, "BadRequest", f'container "{container}" in pod "{name}" is '
                                                  "waiting to start: trying and failing to pull image")
            entries = [split_stamped(ln) for ln in
                       revision.log.read_text(errors="replace").splitlines()]
        else:
            state = next((cs.get("state") or {} for cs in pod["status"].get("containerStatuses")
                          or [] if cs["name"] == container), {})
            if "waiting" in state or not state:
                reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
                raise ApiError(400, "BadRequest", f'container "{container}" in pod "{name}" is '
                                                  f"waiting to start: {reason}")
            entries = list(self.pod_logs.get((ns, name), []))
        return 200, "text/plain", render_log(entries, query)

    def add_pod_log(self, ns: str, name: str, text: str, t: float | None = None) -> None:
        """A line the pod's container printed (at ``t``, default now)."""
        with self.lock:
            self.pod_logs.setdefault((ns, name), []).append((time.time() if t is None else t, text))

    # ---- scheduler and kubelet --------------------------------------------------------------
    def _later(self, delay: float, step: str, ns: str, name: str) -> None:
        with self._kubelet_cv:
            heapq.heappush(self._kubelet_jobs, (time.monotonic() + delay, next(_seq),
                                                (step, ns, name)))
            self._kubelet_cv.notify()

    def stop_kubelet(self) -> None:
        with self._kubelet_cv:
            heapq.heappush(self._kubelet_jobs, (0.0, next(_seq), None))
            self._kubelet_cv.notify()

    def pending_work(self) -> bool:
        """Whether the kubelet has a step queued or running (retries of unschedulable pods
        do not count: they can wait forever)."""
        with self._kubelet_cv:
            return self._kubelet_busy or any(item and item[0] != "reschedule"
                                             for _, _, item in self._kubelet_jobs)

    def kubelet(self) -> None:
        while True:
            with self._kubelet_cv:
                if not self._kubelet_jobs:
                    self._kubelet_cv.wait()
                    continue
                due, _, item = self._kubelet_jobs[0]
                if item is None:
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    self._kubelet_cv.wait(wait)
                    continue
                heapq.heappop(self._kubelet_jobs)
                self._kubelet_busy = item[0] != "reschedule"
            try:
                step, ns, name = item
                getattr(self, f"_{step}")(ns, name)
            except Exception:  # a broken step must not kill the kubelet
                traceback.print_exc()
            finally:
                with self._kubelet_cv:
                    self._kubelet_busy = False

    def _fits(self, pod: dict, node: dict) -> str | None:
        """None if ``pod`` may run on ``node``, else why not (the scheduler's words)."""
        spec = pod["spec"]
        tolerated = {t.get("key") for t in spec.get("tolerations") or []
                     if t.get("operator") == "Exists" or t.get("effect") in (None, "NoSchedule")}
        for taint in (node.get("spec") or {}).get("taints") or []:
            if taint.get("effect") == "NoSchedule" and taint["key"] not in tolerated:
                return f"had untolerated taint {{{taint['key']}: }}"
        labels = node["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
            return "didn't match Pod's node affinity/selector"
        required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                    .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
        terms = required.get("nodeSelectorTerms")
        if terms and not any(self._term(t, labels, node["metadata"]["name"]) for t in terms):
            return "didn't match Pod's node affinity/selector"
        return None

    @staticmethod
    def _term(term: dict, labels: dict, name: str) -> bool:
        for expr in term.get("matchExpressions") or []:
            key, op, values = expr["key"], expr["operator"], expr.get("values") or []
            ok = {"In": labels.get(key) in values, "NotIn": labels.get(key) not in values,
                  "Exists": key in labels, "DoesNotExist": key not in labels}.get(op, False)
            if not ok:
                return False
        for expr in term.get("matchFields") or []:
            if expr["key"] == "metadata.name":
                if (expr["operator"] == "In") != (name in (expr.get("values") or [])):
                    return False
        return True

    def _schedule(self, ns: str, name: str) -> None:
        pod = self.store.get("pods", ns, name)
        if pod is None or pod["metadata"].get("deletionTimestamp") or pod["spec"].get("nodeName"):
            if pod is not None and pod["spec"].get("nodeName"):
                self._later(self.kubelet_delay, "start", ns, name)
            return
        nodes = sorted(self.store.items("nodes"), key=lambda n: n["metadata"]["name"])
        reasons: dict[str, int] = {}
        fits = []
        for node in nodes:
            why = self._fits(pod, node)
            if why:
                reasons[why] = reasons.get(why, 0) + 1
            else:
                fits.append(node["metadata"]["name"])
        first = not any(c.get("type") == "PodScheduled" for c in pod["status"].get("conditions") or [])
        if not fits:
            message = (f"0/{len(nodes)} nodes are available: "
                       + ", ".join(f"{n} node(s) {why}" for why, n in sorted(reasons.items()))
                       + f". preemption: 0/{len(nodes)} nodes are available: {len(nodes)} "
                         "Preemption is not helpful for scheduling.")
            if first:
                pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "False",
                                                "reason": "Unschedulable", "message": message,
                                                "lastTransitionTime": self.now()}]
                self.put_pod(pod)
                self.pod_event(pod, "Warning", "FailedScheduling", message, "default-scheduler")
            self._later(0.5, "reschedule", ns, name)  # the scheduler tries again
            return
        load = {n: 0 for n in fits}
        for other in self.store.items("pods"):
            if other["spec"].get("nodeName") in load:
                load[other["spec"]["nodeName"]] += 1
        chosen = min(fits, key=lambda n: (load[n], n))
        pod["spec"]["nodeName"] = chosen
        pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "True",
                                        "lastTransitionTime": self.now()}]
        pod = self.put_pod(pod)
        self.pod_event(pod, "Normal", "Scheduled",
                       f"Successfully assigned {ns}/{name} to {chosen}", "default-scheduler")
        self._later(self.kubelet_delay, "start", ns, name)

    _reschedule = _schedule  # a retry: not work wait_idle() waits for

    def _start(self, ns: str, name: str) -> None:
        pod = self.store.get("pods", ns, name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        node = self.store.get("nodes", "", pod["spec"]["nodeName"]) or {}
        host_ip = next((a["address"] for a in node.get("status", {}).get("addresses", [])
                        if a["type"] == "InternalIP"), "")
        statuses, ok = [], True
        for c in pod["spec"]["containers"]:
            image = c["image"]
            self.pod_event(pod, "Normal", "Pulling", f'Pulling image "{image}"')
            if image in self.missing_images:
                ok = False
                self.pod_event(pod, "Warning", "Failed", f'Failed to pull image "{image}": rpc '
                               f"error: code = NotFound desc = failed to pull and unpack image "
                               f'"{image}": not found')
                self.pod_event(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"')
                statuses.append({"name": c["name"], "image": image, "imageID": "", "ready": False,
                                 "restartCount": 0, "started": False, "state": {"waiting": {
                                     "reason": "ImagePullBackOff",
                                     "message": f'Back-off pulling image "{image}"'}}})
                continue
            self.pod_event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in 1.2s')
            self.pod_event(pod, "Normal", "Created", f"Created container {c['name']}")
            self.pod_event(pod, "Normal", "Started", f"Started container {c['name']}")
            statuses.append({"name": c["name"], "image": image, "imageID": "", "ready": True,
                             "restartCount": 0, "started": True,
                             "state": {"running": {"startedAt": self.now()}}})
        n = next(_seq)
        pod["status"].update(
            phase="Running" if ok else "Pending", hostIP=host_ip, startTime=self.now(),
            podIP=f"10.244.{n // 250 % 250}.{n % 250 + 2}" if ok else None,
            containerStatuses=statuses,
            conditions=[{"type": t, "status": "True" if ok or t in ("PodScheduled", "Initialized")
                         else "False", "lastTransitionTime": self.now()}
                        for t in ("PodScheduled", "Initialized", "Ready", "ContainersReady")])
        if ok:
            self.pod_logs[(ns, name)] = [(time.time(), f"{c['name']} started on "
                                                       f"{pod['spec']['nodeName']}")
                                         for c in pod["spec"]["containers"]]
        self.put_pod(pod)

    def _remove(self, ns: str, name: str) -> None:
        pod = self.store.get("pods", ns, name)
        if pod is None:
            return
        for c in pod["spec"]["containers"]:
            self.pod_event(pod, "Normal", "Killing", f"Stopping container {c['name']}")
        self.remove_pod(ns, name)
