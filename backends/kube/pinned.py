"""Prewarm on a named node through Kubernetes, the way the Invokers invoker does it: a pod of
the function's image pinned to the node by a required node affinity
(``kubernetes.io/hostname In [node]``), labelled ``prewarm=true`` and
``function=<name>-pod``, and a Service selecting the function's prewarmed pods on that node.

The wait for the pods to come up reads the view (the pods' watch), not the API; a pod still
not Ready after ``timeout`` is reported ``pending`` with the last Warning the cluster gave
about it (FailedScheduling, a failed image pull). ``unpin`` removes a function's prewarmed
pods and services.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid

from ..errors import BackendError, Conflict, NodeNotFound, did_you_mean
from ..model import Invocation
from .connect import path
from .view import KubeView

__all__ = ["prewarm_pinned", "unpin", "pinned_pod", "pinned_service", "PREWARM_LABELS", "dns_label"]

NODE_LABEL = "faastui.io/node"
MANAGED = {"app.kubernetes.io/managed-by": "faastui"}
PREWARM_LABELS = ("prewarm", "function")


def dns_label(text: str, limit: int = 63) -> str:
    """``text`` as a DNS-1035 label (lower case, ``-``, a letter first), at most ``limit``
    characters (a hash of the whole keeps shortened names apart)."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "x"
    if not label[0].isalpha():
        label = "p-" + label
    if len(label) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:6]
        label = label[: limit - 7].rstrip("-") + "-" + digest
    return label


def _selector(fn: str, node: str) -> dict[str, str]:
    return {"prewarm": "true", "function": f"{fn}-pod", NODE_LABEL: dns_label(node)}


def pinned_pod(
    fn: str,
    node: str,
    *,
    image: str,
    labels: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    port: int = 8080,
    requests: dict[str, str] | None = None,
) -> dict:
    """The pod manifest: ``fn``'s image, required on ``node``."""
    name = dns_label(f"{fn}-prewarm-{node}", 57) + "-" + uuid.uuid4().hex[:5]
    container = {
        "name": dns_label(fn),
        "image": image,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": [{"name": k, "value": str(v)} for k, v in (env or {}).items()],
    }
    if requests:
        container["resources"] = {"requests": dict(requests)}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {**(labels or {}), **_selector(fn, node), **MANAGED}},
        "spec": {
            "containers": [container],
            "restartPolicy": "Always",
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
                                ]
                            }
                        ]
                    }
                }
            },
        },
    }


def pinned_service(fn: str, node: str, port: int = 8080) -> dict:
    """The Service in front of ``fn``'s prewarmed pods on ``node``."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": dns_label(f"{fn}-pod-{node}"),
            "labels": {"function": f"{fn}-pod", NODE_LABEL: dns_label(node), **MANAGED},
        },
        "spec": {
            "selector": _selector(fn, node),
            "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def _last_warning(view: KubeView, ns: str, pod: str) -> str:
    with view.lock:
        for e in reversed(view.event_log.entries):
            if e.ns == ns and e.name == pod and e.type == "Warning":
                return f"{e.reason}: {e.message}"
    return ""


async def prewarm_pinned(
    view: KubeView,
    fn: str,
    node: str,
    count: int,
    *,
    image: str,
    namespace: str,
    labels: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    requests: dict[str, str] | None = None,
    timeout: float = 60.0,
    port: int = 8080,
) -> list[Invocation]:
    """Start ``count`` pods of ``fn`` on ``node`` and wait until they are Ready."""
    record = view.node(node)
    if record is None:
        raise NodeNotFound(
            f"node {node!r} not found", hint=did_you_mean(node, view.node_names()) or "list them with `faastui nodes`"
        )
    if not record.ready:
        raise BackendError(
            f"node {node!r} is not ready: a pod pinned to it would not start",
            hint="pick a Ready node (`faastui nodes`)",
        )
    try:
        await view.call(
            "POST",
            path("/api/v1/namespaces", namespace, "services"),
            f"create the service of {fn}'s prewarmed pods on {node}",
            body=pinned_service(fn, node, port),
        )
    except Conflict:
        pass  # there from an earlier prewarm on this node
    started_at = time.time()
    t0 = time.perf_counter()
    names = []
    for _ in range(count):
        made = await view.call(
            "POST",
            path("/api/v1/namespaces", namespace, "pods"),
            f"create a prewarm pod of {fn} on {node}",
            body=pinned_pod(fn, node, image=image, labels=labels, env=env, port=port, requests=requests),
        )
        names.append(made["metadata"]["name"])
    ready_ms: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(ready_ms) < len(names) and time.monotonic() < deadline:
        with view.lock:
            for name in names:
                rec = view.pods.records.get((namespace, name))
                if name not in ready_ms and rec is not None and rec.phase == "Running" and rec.ready:
                    ready_ms[name] = round((time.perf_counter() - t0) * 1000, 3)
        await asyncio.sleep(0.02)
    out = []
    for name in names:
        ok = name in ready_ms
        out.append(
            Invocation(
                call_id=name,
                function=fn,
                node=node,
                container_state="prewarm",
                cold_start_ms=ready_ms.get(name, 0.0),
                status="ok" if ok else "pending",
                error=None if ok else (_last_warning(view, namespace, name) or f"not ready after {timeout:g} s"),
                started_at=started_at,
                ended_at=time.time(),
            )
        )
    return out


async def unpin(view: KubeView, fn: str, namespace: str) -> int:
    """Delete ``fn``'s prewarmed pods and their services; how many pods went."""
    selector = f"prewarm=true,function={fn}-pod,app.kubernetes.io/managed-by=faastui"
    pods = await view.call(
        "GET",
        path("/api/v1/namespaces", namespace, "pods"),
        f"list the prewarm pods of {fn}",
        query={"labelSelector": selector},
    )
    for pod in pods.get("items") or ():
        await view.call(
            "DELETE",
            path("/api/v1/namespaces", namespace, "pods", pod["metadata"]["name"]),
            f"delete a prewarm pod of {fn}",
        )
    services = await view.call(
        "GET",
        path("/api/v1/namespaces", namespace, "services"),
        f"list the prewarm services of {fn}",
        query={"labelSelector": f"function={fn}-pod,app.kubernetes.io/managed-by=faastui"},
    )
    for svc in services.get("items") or ():
        await view.call(
            "DELETE",
            path("/api/v1/namespaces", namespace, "services", svc["metadata"]["name"]),
            f"delete a prewarm service of {fn}",
        )
    return len(pods.get("items") or ())
