"""The OpenFaaS gateway's objects and the model, both ways: a FunctionStatus (``GET
/system/functions``) read as a ``Function``, a function folder's function.yaml written as the
FunctionDeployment body of ``POST|PUT /system/functions``, and the answer of ``POST
/function/NAME`` read as an ``Invocation``. No transport here: ``openfaas.py`` sends them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .errors import FunctionNotFound, InvalidRequest, Unsupported
from .model import Function, Invocation
from .quantities import cpus, memory_mb

__all__ = ["function_from_status", "deploy_request", "invocation_from_response"]


def _seconds(text: Any) -> float:
    """A watchdog timeout (``exec_timeout``: Go's ``10s``, ``1m30s``, ``500ms``, or plain
    seconds) in seconds; 0.0 when it cannot be read."""
    import re

    text = str(text or "").strip()
    try:
        return float(text)
    except ValueError:
        pass
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return 0.0
    return sum(float(n) * units[u] for n, u in parts)


def function_from_status(data: dict) -> Function:
    """A model Function from an OpenFaaS FunctionStatus object. The timeout is the
    watchdog's ``exec_timeout`` from ``envVars`` (OpenFaaS has no timeout field), else
    the embedded engine's ``faastui/timeout_s`` annotation, else 0 (not known)."""
    limits = data.get("limits") or {}
    annotations = data.get("annotations") or {}
    env = data.get("envVars") or {}
    deadline = annotations.get("faastui/deadline_ms")
    timeout = _seconds(env.get("exec_timeout")) or _seconds(annotations.get("faastui/timeout_s"))
    return Function(
        name=data.get("name", ""),
        image=data.get("image", ""),
        runtime="openfaas",
        handler=data.get("envProcess") or "",
        replicas=int(data.get("replicas") or 0),
        available_replicas=int(data.get("availableReplicas") or 0),
        memory_mb=memory_mb(limits.get("memory")),
        cpus=cpus(limits.get("cpu")),
        timeout_s=timeout,
        labels=dict(data.get("labels") or {}),
        fusion_group=annotations.get("faastui/fusion_group") or None,
        deadline_ms=float(deadline) if deadline else None,
        invocations=int(data.get("invocationCount") or 0),
    )


def deploy_request(package: str | Path | bytes, name: str | None, namespace: str | None) -> tuple[str, dict]:
    """The service name and the deploy body for a function folder whose function.yaml names
    an ``image`` (and ``name``, ``env``, ``labels``, ``secrets``, ``memory``), in
    ``namespace`` as faas-cli writes it; a clear InvalidRequest or Unsupported otherwise."""
    if isinstance(package, bytes):
        raise Unsupported(
            "OpenFaaS deploys images, not zip archives", hint="give a folder whose function.yaml names an image"
        )
    import yaml  # deferred: only a deploy pays for it

    meta_path = Path(package) / "function.yaml"
    try:
        meta = yaml.safe_load(meta_path.read_text()) or {}
    except OSError:
        raise InvalidRequest(f"{meta_path} is missing") from None
    except yaml.YAMLError:
        raise InvalidRequest(f"{meta_path} is not valid YAML") from None
    service = name or meta.get("name") or Path(package).name
    image = meta.get("image")
    if not image:
        raise InvalidRequest(
            f"{meta_path} names no image; OpenFaaS runs images",
            hint="build and push one (faas-cli build/push), then add `image:`",
        )
    secrets = meta.get("secrets") or []
    if not isinstance(secrets, list) or not all(isinstance(x, str) for x in secrets):
        raise InvalidRequest(f"{meta_path}: secrets must be a list of secret names")
    body = {"service": service, "image": image, "envVars": meta.get("env") or {}, "labels": meta.get("labels") or {}}
    if namespace:
        body["namespace"] = namespace
    if secrets:  # mounted at /var/openfaas/secrets/NAME by the provider
        body["secrets"] = secrets
    if meta.get("memory"):
        body["limits"] = {"memory": f"{meta['memory']}Mi"}
    return service, body


def invocation_from_response(fn: str, resp, started: float, total_ms: float) -> Invocation:
    """The answer of a call to ``fn`` (an ``httpx.Response``) as an Invocation: the
    handler's time from ``X-Duration-Seconds``, the function's failure as an error (a
    gateway sends its text, the engine JSON); FunctionNotFound for a 404."""
    if resp.status_code == 404:
        raise FunctionNotFound(f"function {fn!r} not found", hint="list them with `faastui functions`")
    duration = resp.headers.get("X-Duration-Seconds")
    handler_ms = float(duration) * 1000 if duration else total_ms
    ok = resp.status_code < 400
    result: Any = None
    error = None
    try:
        data: Any = resp.json()
    except ValueError:
        data = resp.text
    if ok:
        result = data
    else:  # a gateway sends the function's error text; the engine sends JSON
        error = (
            (data.get("error") if isinstance(data, dict) else None)
            or resp.text.strip()[:500]
            or f"HTTP {resp.status_code}"
        )
    return Invocation(
        call_id=resp.headers.get("X-Call-Id", ""),
        function=fn,
        node="",
        container_state="",
        duration_ms=round(handler_ms, 3),
        overhead_ms=round(max(0.0, total_ms - handler_ms), 3),
        status="ok" if ok else "error",
        result=result,
        error=error,
        started_at=started,
        ended_at=time.time(),
    )
