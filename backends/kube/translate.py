"""What a ``KubeView`` hands out, made from what it keeps: a node's record, its pods'
aggregates and its measured usage become a ``Node``; an event record becomes the dict
``Backend.events`` returns (``kind`` start/stop/error/kube/node). Pure functions, no locks:
the view calls them under its own."""

from __future__ import annotations

from ..model import Node
from .records import EventRecord, NodeRecord

__all__ = ["node_model", "event_item"]

_START_REASONS = {"Scheduled", "Pulling", "Pulled", "Created", "Started"}
_STOP_REASONS = {"Killing", "Preempting", "Evicted"}


def node_model(name: str, rec: NodeRecord, agg: tuple[int, float, float], used: tuple[float, float] | None) -> Node:
    """The node ``name`` with usage from ``used`` (metrics.k8s.io), else from ``agg`` (its
    pods' count and requests); pressure and cordoning shown as labels."""
    labels = rec.labels  # shared, never changed (a record is replaced whole)
    if rec.pressure or rec.unschedulable:
        labels = dict(labels)
        if rec.pressure:
            labels["kube/conditions"] = ",".join(rec.pressure)
        if rec.unschedulable:
            labels["kube/unschedulable"] = "true"
    return Node(
        name=name,
        address=rec.address,
        ready=rec.ready,
        cpus=rec.cpus,
        memory_mb=rec.memory_mb,
        used_cpus=used[0] if used else round(agg[1], 3),
        used_memory_mb=used[1] if used else round(agg[2], 3),
        labels=labels,
        max_containers=rec.pods,
        containers=agg[0],
    )


def event_item(e: EventRecord, fn: str | None, node: str) -> dict:
    """The event ``e`` about ``fn``'s pod on ``node`` (``fn`` None for a node's event)."""
    kind = (
        "error"
        if e.type == "Warning"
        else "start"
        if e.reason in _START_REASONS
        else "stop"
        if e.reason in _STOP_REASONS
        else "node"
        if e.kind == "Node"
        else "kube"
    )
    item = {"t": e.seq, "kind": kind, "function": fn, "node": node, "reason": e.reason, "message": e.message}
    if e.kind == "Pod":
        item["pod"] = e.name
    else:  # the node is what the event is about
        item = {"t": e.seq, "kind": kind, "unit": e.name, "reason": e.reason, "message": e.message}
    if e.count > 1:
        item["count"] = e.count
    return item
