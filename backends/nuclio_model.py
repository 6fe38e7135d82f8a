"""How the Nuclio dashboard's objects read as faastui's model: a function object
(``{metadata, spec, status}``) as a ``Function``, its state as a placement state, and the
dashboard's own invocation failure told apart from a function's answer.

The dashboard shows no nodes, so the whole platform is one pseudo node named ``nuclio``
(``PSEUDO_NODE``; its address: the dashboard). Placements on it: ``ready`` -> ``warm``
(count = replicas), the provisioning states (``building``, ``waitingFor...``,
``configuringResources``) -> ``prewarm`` (coming up, not yet used; count = desired replicas),
``scaledToZero``, ``imported``, ``error`` and ``unhealthy`` -> ``cold`` (code present, nothing
running; count 0). ``Function.replicas`` follows Nuclio's own rule: ``spec.replicas``, else
``minReplicas`` (at least 1), 0 when scaled to zero or disabled; ``available_replicas`` is that
when the state is ``ready``, else 0.
"""

from __future__ import annotations

from typing import Any

from .model import Function
from .quantities import cpus as _cpus
from .quantities import memory_mb as _memory_mb

__all__ = [
    "PROVISIONING",
    "PSEUDO_NODE",
    "desired_replicas",
    "function_from_nuclio",
    "invocation_error",
    "placement_state",
]

PSEUDO_NODE = "nuclio"
PROVISIONING = (
    "building",
    "waitingForBuild",
    "waitingForResourceConfiguration",
    "waitingForScaleResourceFromZero",
    "waitingForScaleResourceToZero",
    "configuringResources",
)


def _seconds(text: Any) -> float:
    """A Go duration ("30s", "1m", "500ms") in seconds; 0 if absent or unreadable."""
    units = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    text = str(text or "").strip()
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * units[suffix]
            except ValueError:
                return 0.0
    return 0.0


def desired_replicas(spec: dict, state: str) -> int:
    """Nuclio's own count: spec.replicas, else minReplicas (at least 1); 0 when off."""
    if spec.get("disable") or state == "scaledToZero":
        return 0
    if int(spec.get("replicas") or 0) > 0:
        return int(spec["replicas"])
    return max(1, int(spec.get("minReplicas") or 0))


def placement_state(state: str) -> str:
    """The model's placement state for a Nuclio function state."""
    if state == "ready":
        return "warm"
    return "prewarm" if state in PROVISIONING else "cold"


def function_from_nuclio(data: dict) -> Function:
    """A model Function from one ``{metadata, spec, status}`` of the dashboard."""
    meta, spec = data.get("metadata") or {}, data.get("spec") or {}
    state = (data.get("status") or {}).get("state", "")
    replicas = desired_replicas(spec, state)
    limits = (spec.get("resources") or {}).get("limits") or {}
    deadline = (meta.get("annotations") or {}).get("faastui/deadline_ms")
    return Function(
        name=meta.get("name", ""),
        image=spec.get("image") or "",
        runtime=spec.get("runtime") or "nuclio",
        handler=spec.get("handler") or "",
        replicas=replicas,
        available_replicas=replicas if state == "ready" else 0,
        memory_mb=_memory_mb(limits.get("memory")),
        cpus=_cpus(limits.get("cpu")),
        timeout_s=_seconds(spec.get("eventTimeout")),
        labels=dict(meta.get("labels") or {}),
        deadline_ms=float(deadline) if deadline else None,
    )


def invocation_error(text: str) -> str | None:
    """The dashboard's own invocation error, or None for the function's answer.

    ``invocation.go`` writes ``{"error": "Failed to invoke function: ..."}`` with a format
    string, so a message holding quotes is not valid JSON; read it as text.
    """
    head = '{"error": "Failed to invoke function'
    stripped = text.strip()
    if not (stripped.startswith(head) and stripped.endswith('"}')):
        return None
    return stripped[len('{"error": "') : -2]
