"""The model shared by every part of faastui.

Plain frozen dataclasses with ``to_dict()``/``from_dict()``. Field names are the
JSON keys of ``-o json`` and of the engine's own ``/faastui/v1`` API. Times are
seconds since the epoch as float; durations are milliseconds as float.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "PLACEMENT_STATES",
    "CONTAINER_STATES",
    "Node",
    "Function",
    "Placement",
    "Invocation",
    "DispatchStep",
    "DispatchResult",
    "QueueStat",
    "QoSStat",
    "FusionGroup",
    "Snapshot",
    "LogLine",
    "Secret",
]

PLACEMENT_STATES = ("cold", "starting", "prewarm", "warm", "busy")
CONTAINER_STATES = ("cold", "prewarm", "warm")


class _Model:
    """Mixin: dict round trip that ignores unknown keys (forward compatible)."""

    _nested: ClassVar[dict[str, type]] = {}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs = {}
        for key, value in data.items():
            if key not in names:
                continue
            sub = cls._nested.get(key)
            if sub is not None and value is not None:
                value = [sub.from_dict(v) for v in value]
            kwargs[key] = value
        return cls(**kwargs)


@dataclass(frozen=True)
class Node(_Model):
    name: str
    address: str = ""
    ready: bool = True
    cpus: float = 0.0
    memory_mb: float = 0.0
    used_cpus: float = 0.0
    used_memory_mb: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    max_containers: int = 0
    containers: int = 0


@dataclass(frozen=True)
class Function(_Model):
    name: str
    image: str = ""
    runtime: str = "python"
    handler: str = ""
    replicas: int = 0
    available_replicas: int = 0
    memory_mb: float = 0.0
    cpus: float = 0.0
    timeout_s: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    fusion_group: str | None = None
    deadline_ms: float | None = None
    invocations: int = 0


@dataclass(frozen=True)
class Placement(_Model):
    function: str
    node: str
    state: str  # one of PLACEMENT_STATES (starting: a container coming up, not yet ready)
    count: int = 0


@dataclass(frozen=True)
class Invocation(_Model):
    call_id: str
    function: str
    node: str = ""
    container_state: str = ""  # one of CONTAINER_STATES, as the call found it
    cold_start_ms: float = 0.0
    duration_ms: float = 0.0
    overhead_ms: float = 0.0
    status: str = "ok"  # ok | error | timeout | crashed | oom | pending
    result: Any = None
    error: str | None = None
    started_at: float = 0.0
    ended_at: float = 0.0


@dataclass(frozen=True)
class DispatchStep(_Model):
    node: str
    function: str

    @classmethod
    def parse(cls, text: str) -> "DispatchStep":
        """Parse ``node:function`` (the CLI's ``-s`` form)."""
        node, sep, function = text.partition(":")
        if not sep or not node or not function:
            raise ValueError(f"malformed step {text!r}: expected NODE:FUNCTION")
        return cls(node=node, function=function)


@dataclass(frozen=True)
class DispatchResult(_Model):
    output: Any
    steps: list[Invocation] = field(default_factory=list)
    mode: str = "chain"

    _nested: ClassVar[dict[str, type]] = {"steps": Invocation}


@dataclass(frozen=True)
class QueueStat(_Model):
    name: str
    length: int = 0
    in_flight: int = 0
    rate_in: float = 0.0
    rate_out: float = 0.0
    oldest_age_s: float | None = None


@dataclass(frozen=True)
class QoSStat(_Model):
    subject: str
    window_s: float = 60.0
    count: int = 0
    errors: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    deadline_met: int = 0
    deadline_total: int = 0
    cold_ratio: float = 0.0

    @property
    def deadline_ratio(self) -> float | None:
        return self.deadline_met / self.deadline_total if self.deadline_total else None


@dataclass(frozen=True)
class FusionGroup(_Model):
    name: str
    functions: list[str] = field(default_factory=list)
    node: str = ""
    state: str = "cold"
    calls_local: int = 0
    calls_remote: int = 0


@dataclass(frozen=True)
class Snapshot(_Model):
    nodes: list[Node] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    queues: list[QueueStat] = field(default_factory=list)
    qos: list[QoSStat] = field(default_factory=list)
    fusion_groups: list[FusionGroup] = field(default_factory=list)
    taken_at: float = 0.0
    errors: list[str] = field(default_factory=list)

    _nested: ClassVar[dict[str, type]] = {
        "nodes": Node,
        "functions": Function,
        "placements": Placement,
        "queues": QueueStat,
        "qos": QoSStat,
        "fusion_groups": FusionGroup,
    }


@dataclass(frozen=True)
class LogLine(_Model):
    """One line a function printed: its text, when (epoch seconds; None where the backend
    does not say), and which instance (container, replica, pod) printed it."""

    function: str
    text: str
    time: float | None = None
    instance: str = ""


@dataclass(frozen=True)
class Secret(_Model):
    """A secret, by name: its value is never part of the model (never printed, never
    listed). ``namespace`` is the backend's, where it has them (OpenFaaS's ``SecretDescription``)."""

    name: str
    namespace: str = ""
