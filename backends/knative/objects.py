"""Knative and Kubernetes objects <-> the faastui model, for the Knative adapter.

Pure functions over the API's JSON (dicts), no I/O: a ksvc and its pods -> Function,
a pod -> its placement state, and a handler -> the ksvc manifest faastui deploys (nodes
are the shared view's, ``backends.kube``). The constants name the API group, labels and
annotations the adapter reads and writes.
"""

from __future__ import annotations

from typing import Any

from ..agent import HARNESS, HandlerSource, harness_env
from ..errors import InvalidRequest
from ..model import Function
from ..quantities import limits, memory_mb, quantity
from ..secrets import MOUNT as SECRETS_MOUNT

GROUP, VERSION, PLURAL = "serving.knative.dev", "v1", "services"
MIN_SCALE = "autoscaling.knative.dev/min-scale"
MAX_SCALE = "autoscaling.knative.dev/max-scale"
INITIAL_SCALE = "autoscaling.knative.dev/initial-scale"
SERVICE_LABEL = "serving.knative.dev/service"
REVISION_LABEL = "serving.knative.dev/revision"
SOURCE_LABEL = "faastui.io/source"
ENTRY_ANNOTATION = "faastui.io/entry"
USER_CONTAINER = "user-container"
DEFAULT_IMAGE = "python:3.11-slim"
#: Linux refuses an environment string ("NAME=value") over MAX_ARG_STRLEN at exec time
ENV_STRING_LIMIT = 128 * 1024


# ---- Kubernetes objects -> the model ----------------------------------------------------
_mb = memory_mb


def _condition(obj: dict, kind: str) -> dict:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return {}


def _template(obj: dict) -> tuple[dict, dict]:
    """(annotations, spec) of a ksvc's revision template."""
    template = (obj.get("spec") or {}).get("template") or {}
    return ((template.get("metadata") or {}).get("annotations") or {}), template.get("spec") or {}


def _node_name(pod: dict) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


def pod_state(pod: dict) -> str | None:
    """``warm``, ``starting`` or None (no placement): see the package docstring."""
    phase = (pod.get("status") or {}).get("phase")
    if pod["metadata"].get("deletionTimestamp") or phase not in ("Pending", "Running"):
        return None
    ready = _condition(pod, "Ready").get("status") == "True"
    return "warm" if phase == "Running" and ready else "starting"


def function_from_ksvc(obj: dict, pods: list[dict], invocations: int = 0) -> Function:
    """A model Function from a ksvc and its pods."""
    running = [p for p in pods if pod_state(p) and p["status"].get("phase") == "Running"]
    return function_from_counts(obj, len(running), sum(pod_state(p) == "warm" for p in running),
                                invocations=invocations)


def function_from_counts(obj: dict, running: int, ready: int, invocations: int = 0) -> Function:
    """A model Function from a ksvc, its Running pods and how many of them are Ready."""
    meta = obj.get("metadata") or {}
    annotations, spec = _template(obj)
    container = (spec.get("containers") or [{}])[0]
    resources = container.get("resources") or {}
    limits = resources.get("limits") or resources.get("requests") or {}
    status = obj.get("status") or {}
    labels = dict(meta.get("labels") or {})
    labels["knative/ready"] = _condition(obj, "Ready").get("status") or "Unknown"
    for key, value in (("knative/revision", status.get("latestReadyRevisionName")),
                       ("knative/url", status.get("url")),
                       ("knative/min-scale", annotations.get(MIN_SCALE)),
                       ("knative/max-scale", annotations.get(MAX_SCALE))):
        if value:
            labels[key] = str(value)
    ours = labels.get(SOURCE_LABEL) == "true"
    entry = annotations.get(ENTRY_ANNOTATION)
    return Function(
        name=meta.get("name", ""), image=container.get("image", ""),
        runtime="python" if ours else "knative",
        handler=f"handler:{entry}" if ours and entry else "",
        replicas=running, available_replicas=ready,
        memory_mb=_mb(limits.get("memory")), cpus=round(quantity(limits.get("cpu")), 3),
        timeout_s=float(spec.get("timeoutSeconds") or 0), labels=labels, invocations=invocations)


# ---- a handler -> the ksvc faastui deploys ------------------------------------------------
def service_manifest(h: HandlerSource, meta: dict, *, image: str,
                     namespace: str | None) -> dict:
    """The ksvc for handler ``h`` (None values: absent; a merge patch removes them)."""
    env = {str(k): str(v) for k, v in (meta.get("env") or {}).items()}
    env.update(harness_env(h))
    for key, value in env.items():
        if len(key) + 1 + len(value) >= ENV_STRING_LIMIT:
            raise InvalidRequest(f"the handler is too big for Knative: {key} would be "
                                 f"{len(value) // 1024} KiB; Linux takes at most 128 KiB "
                                 "per variable", hint="keep the source under about 90 KiB")
    container: dict[str, Any] = {
        "name": USER_CONTAINER, "image": image, "command": ["python", "-c", HARNESS],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [{"containerPort": 8080}]}
    try:
        wanted = limits(meta.get("memory"), meta.get("cpus"))
        timeout = int(float(meta["timeout"])) if meta.get("timeout") else None
    except (TypeError, ValueError):
        raise InvalidRequest("function.yaml: memory, cpus and timeout must be numbers") from None
    if wanted:
        container["resources"] = {"limits": wanted}
    volumes = None
    secrets = meta.get("secrets") or []
    if not isinstance(secrets, list) or not all(isinstance(x, str) for x in secrets):
        raise InvalidRequest("function.yaml: secrets must be a list of secret names")
    if secrets:  # each at /var/openfaas/secrets/NAME, as OpenFaaS mounts them
        container["volumeMounts"] = [{"name": "faastui-secrets", "readOnly": True,
                                      "mountPath": SECRETS_MOUNT}]
        volumes = [{"name": "faastui-secrets", "projected": {"sources": [
            {"secret": {"name": name, "items": [{"key": name, "path": name}]}}
            for name in secrets]}}]
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Service",
            "metadata": {"name": h.name, "namespace": namespace,
                         "labels": {SOURCE_LABEL: "true",
                                    "app.kubernetes.io/managed-by": "faastui"}},
            "spec": {"template": {
                "metadata": {"annotations": {ENTRY_ANNOTATION: h.entry, INITIAL_SCALE: None}},
                "spec": {"containers": [container], "timeoutSeconds": timeout,
                         "volumes": volumes}}}}


def drop_none(value):
    """``value`` without its None entries, at every depth (a create takes no nulls)."""
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_none(v) for v in value]
    return value

