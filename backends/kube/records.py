"""What the view keeps of each Kubernetes object, and how a pod maps onto the model.

The API's JSON is reduced on arrival to small slotted records (a 20,000-pod cluster takes
a few MB, not the ~100 MB its JSON objects would), with repeated strings (namespaces, node
names, label keys and values) interned. Pure functions, no I/O.

Placement of a pod (``PodMapping``): a label names its function (``faas_function``,
``nuclio.io/function-name``, ``serving.knative.dev/service``; Invokers' prewarm pods are
``prewarm=true`` with ``function=<name>-pod``). Its state: Running and Ready -> the
mapping's ready state (``warm``, or ``prewarm`` for a pod started ahead); Pending
(unscheduled, ContainerCreating, pulling its image) or Running but not Ready -> ``starting``;
terminating, Succeeded and Failed pods have no placement. A warm pod whose mapping names a
``metrics_port`` becomes ``busy`` while its platform's gauge (``metrics_gauge``, gauges.py: an
OpenFaaS watchdog's, a Knative queue-proxy's) reports requests in flight (read off the tick's
path by inflight.py; ``PodIndex.set_busy``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime

from ..quantities import memory_mb, quantity

__all__ = [
    "PodRecord",
    "NodeRecord",
    "EventRecord",
    "PodMapping",
    "pod_record",
    "node_record",
    "event_record",
    "pod_state",
    "epoch",
]

_intern = sys.intern


def epoch(text: str | None) -> float:
    """An RFC 3339 time as epoch seconds (0 when absent or unreadable)."""
    if not text:
        return 0.0
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _labels(meta: dict) -> dict[str, str]:
    return {_intern(k): _intern(v) for k, v in (meta.get("labels") or {}).items()}


def _ready(status: dict) -> bool:
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


class PodRecord:
    """A pod: where it is, how far it came, what it asks for."""

    __slots__ = (
        "ns",
        "name",
        "uid",
        "node",
        "phase",
        "ready",
        "deleting",
        "labels",
        "containers",
        "cpu",
        "memory_mb",
        "reason",
        "created",
        "fn",
        "state",
        "port",
        "gauge",
    )

    def __init__(
        self, ns, name, uid, node, phase, ready, deleting, labels, containers, cpu, memory_mb_, reason, created
    ):
        self.ns, self.name, self.uid, self.node = ns, name, uid, node
        self.phase, self.ready, self.deleting, self.labels = phase, ready, deleting, labels
        self.containers, self.cpu, self.memory_mb = containers, cpu, memory_mb_
        self.reason, self.created = reason, created
        self.fn: str | None = None  # set by the view's PodMapping
        self.state: str | None = None
        self.port = 0  # where its in-flight gauge is served (the mapping's metrics_port), 0: none
        self.gauge = ""  # which gauge that is (the mapping's metrics_gauge, a key of gauges.GAUGES)

    @property
    def live(self) -> bool:
        """Counted on its node: not terminating, not finished."""
        return not self.deleting and self.phase in ("Pending", "Running")


def pod_record(obj: dict) -> PodRecord:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    cpu = mem = 0.0
    names = []
    for c in spec.get("containers") or ():
        names.append(_intern(c.get("name", "")))
        requests = (c.get("resources") or {}).get("requests") or {}
        cpu += quantity(requests.get("cpu"))
        mem += quantity(requests.get("memory"))
    reason = ""
    for cs in status.get("containerStatuses") or ():
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting:
            reason = waiting.get("reason") or ""
            break
    if not reason:
        for cond in status.get("conditions") or ():
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                reason = cond.get("reason") or "Unscheduled"
    return PodRecord(
        _intern(meta.get("namespace", "")),
        meta["name"],
        meta.get("uid", ""),
        _intern(spec.get("nodeName") or ""),
        _intern(status.get("phase") or "Pending"),
        _ready(status),
        bool(meta.get("deletionTimestamp")),
        _labels(meta),
        tuple(names),
        cpu,
        mem / (1024 * 1024),
        _intern(reason),
        meta.get("creationTimestamp") or "",
    )


class NodeRecord:
    """A node: its allocatable capacity and conditions."""

    __slots__ = ("name", "address", "ready", "cpus", "memory_mb", "pods", "labels", "unschedulable", "pressure")

    def __init__(self, name, address, ready, cpus, memory_mb_, pods, labels, unschedulable, pressure):
        self.name, self.address, self.ready = name, address, ready
        self.cpus, self.memory_mb, self.pods = cpus, memory_mb_, pods
        self.labels, self.unschedulable, self.pressure = labels, unschedulable, pressure

    def same(self, other: NodeRecord | None) -> bool:
        return other is not None and all(getattr(self, s) == getattr(other, s) for s in self.__slots__)


def node_record(obj: dict) -> NodeRecord:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    alloc = status.get("allocatable") or status.get("capacity") or {}
    address = next((a.get("address", "") for a in status.get("addresses") or () if a.get("type") == "InternalIP"), "")
    pressure = tuple(
        sorted(
            c["type"] for c in status.get("conditions") or () if c.get("type") != "Ready" and c.get("status") == "True"
        )
    )
    return NodeRecord(
        _intern(meta["name"]),
        address,
        _ready(status),
        round(quantity(alloc.get("cpu")), 3),
        memory_mb(alloc.get("memory")),
        int(quantity(alloc.get("pods"))),
        _labels(meta),
        bool(spec.get("unschedulable")),
        pressure,
    )


class EventRecord:
    """A core v1 Event about a pod or a node."""

    __slots__ = ("key", "t", "ns", "kind", "name", "reason", "message", "type", "count", "host", "seq", "order")

    def __init__(self, key, t, ns, kind, name, reason, message, type_, count, host, order=0):
        self.key, self.t, self.ns, self.kind, self.name = key, t, ns, kind, name
        self.reason, self.message, self.type, self.count, self.host = (reason, message, type_, count, host)
        self.seq = 0.0  # when the view learnt of it (ordering; set by the event log)
        self.order = order  # its resourceVersion as a number (orders one second's events)


def event_record(obj: dict) -> EventRecord:
    meta, involved = obj["metadata"], obj.get("involvedObject") or {}
    when = (
        obj.get("lastTimestamp") or obj.get("eventTime") or obj.get("firstTimestamp") or meta.get("creationTimestamp")
    )
    series = obj.get("series") or {}
    source = obj.get("source") or {}
    version = meta.get("resourceVersion") or ""  # opaque, but etcd's are numbers in practice
    return EventRecord(
        (meta.get("namespace", ""), meta["name"]),
        epoch(when),
        _intern(involved.get("namespace") or ""),
        _intern(involved.get("kind") or ""),
        involved.get("name") or "",
        obj.get("reason") or "",
        obj.get("message") or "",
        obj.get("type") or "Normal",
        int(obj.get("count") or series.get("count") or 1),
        source.get("host") or obj.get("reportingInstance") or "",
        int(version) if version.isdigit() else 0,
    )


@dataclass(frozen=True)
class PodMapping:
    """Which pods are a function's, and what a ready one is."""

    label: str  # the label whose value names the function
    require: tuple[tuple[str, str], ...] = ()  # other labels the pod must carry
    suffix: str = ""  # stripped from the label's value (Invokers: "<name>-pod")
    ready_state: str = "warm"
    namespace: str | None = None  # only pods of this namespace (names are per namespace)
    metrics_port: int = 0  # the pod port serving its in-flight gauge (0: never busy)
    metrics_gauge: str = "watchdog"  # which gauge it serves (a key of gauges.GAUGES)

    def function(self, labels: dict[str, str], namespace: str = "") -> str | None:
        if self.namespace is not None and namespace != self.namespace:
            return None
        value = labels.get(self.label)
        if not value or any(labels.get(k) != v for k, v in self.require):
            return None
        if self.suffix:
            if not value.endswith(self.suffix):
                return None
            value = value[: -len(self.suffix)]
        return value or None


def pod_state(rec: PodRecord, ready_state: str = "warm") -> str | None:
    """The placement state of a pod (see the module docstring), or None."""
    if not rec.live:
        return None
    return ready_state if rec.phase == "Running" and rec.ready else "starting"
