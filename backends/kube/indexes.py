"""The view's memory: one index per watched collection, fed by an Informer's thread and
read by the dashboard's tick, under one shared lock.

Each index keeps, beside its records, the aggregates a snapshot needs and the keys that
changed since the last read, so a tick rebuilds only what moved: ``PodIndex`` counts pods per
(function, node, state) and per node (pods, requested cpu and memory); ``NodeIndex`` skips a
node update that changed nothing the model shows (kubelets rewrite their status every few
seconds); ``EventLog`` is a bounded, de-duplicated log; ``ObjectIndex`` keeps raw objects (a
few Knative Services). The model objects themselves are built in view.py.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

from .records import EventRecord, NodeRecord, PodMapping, PodRecord, event_record, node_record, pod_record, pod_state

__all__ = ["PodIndex", "NodeIndex", "EventLog", "ObjectIndex"]


class PodIndex:
    """Pods by (namespace, name), classified by the first PodMapping that names a function."""

    GONE_KEPT = 5000  # deleted pods remembered (their events still name the function)

    def __init__(self, lock: threading.RLock, mappings: tuple[PodMapping, ...] = ()):
        self.lock = lock
        self.mappings = mappings
        self.records: dict[tuple[str, str], PodRecord] = {}
        self.place: dict[tuple[str, str, str], int] = {}  # (fn, node, state) -> pods
        self.per_node: dict[str, list] = {}  # node -> [pods, cpu, memory_mb]
        self.per_fn: dict[str, list] = {}  # fn -> [Running pods, Running and Ready pods]
        self.gone: OrderedDict[tuple[str, str], str] = OrderedDict()  # (ns, pod) -> fn
        self.dirty_place: set[tuple[str, str, str]] = set()
        self.dirty_nodes: set[str] = set()
        self.busy: set[tuple[str, str]] = set()  # pods whose gauge last said "in flight > 0"
        # warm and busy pods with an in-flight gauge, oldest first (the reader's round robin),
        # -> their function; the same per function; and those that joined since the reader
        # last looked (read ahead of the others)
        self.gauged: dict[tuple[str, str], str] = {}
        self.gauged_fn: dict[str, dict[tuple[str, str], None]] = {}
        self.fresh: set[tuple[str, str]] = set()
        self.version = 0

    def reduce(self, obj: dict) -> PodRecord:
        rec = pod_record(obj)
        for mapping in self.mappings:
            fn = mapping.function(rec.labels, rec.ns)
            if fn:
                rec.fn, rec.state = fn, pod_state(rec, mapping.ready_state)
                rec.port, rec.gauge = mapping.metrics_port, mapping.metrics_gauge
                break
        return rec

    def _busy_state(self, rec: PodRecord) -> None:
        """A warm pod last read busy is ``busy``; one no longer warm forgets it."""
        key = (rec.ns, rec.name)
        if rec.state == "warm" and key in self.busy:
            rec.state = "busy"
        else:
            self.busy.discard(key)

    def set_busy(self, ns: str, name: str, busy: bool) -> None:
        """What a read of the pod's in-flight gauge said (inflight.py); moves it between
        ``warm`` and ``busy`` in the placement counts, and nothing else."""
        key = (ns, name)
        with self.lock:
            rec = self.records.get(key)
            if rec is None or rec.state not in ("warm", "busy"):
                self.busy.discard(key)
                return
            want = "busy" if busy else "warm"
            if busy:
                self.busy.add(key)
            else:
                self.busy.discard(key)
            if rec.state == want:
                return
            self._count(rec, -1)
            rec.state = want
            self._count(rec, 1)
            self.version += 1

    def _gauge(self, key: tuple[str, str], rec: PodRecord | None) -> None:
        """Keep ``gauged``/``fresh`` in step with the pod's record (None: gone); a pod that
        stays warm or busy keeps its place."""
        if rec is not None and rec.port and (rec.state == "warm" or rec.state == "busy"):
            if key not in self.gauged:
                self.gauged[key] = rec.fn
                self.gauged_fn.setdefault(rec.fn, {})[key] = None
                self.fresh.add(key)
        elif key in self.gauged:
            fn = self.gauged.pop(key)
            siblings = self.gauged_fn[fn]
            del siblings[key]
            if not siblings:
                del self.gauged_fn[fn]
            self.fresh.discard(key)

    def _count(self, rec: PodRecord, sign: int) -> None:
        if rec.fn and rec.live and rec.phase == "Running":
            agg = self.per_fn.setdefault(rec.fn, [0, 0])
            agg[0] += sign
            agg[1] += sign * rec.ready
            if not agg[0]:
                del self.per_fn[rec.fn]
        if rec.fn and rec.state:
            key = (rec.fn, rec.node, rec.state)
            n = self.place.get(key, 0) + sign
            if n:
                self.place[key] = n
            else:
                self.place.pop(key, None)
            self.dirty_place.add(key)
        if rec.live and rec.node:
            agg = self.per_node.get(rec.node)
            if agg is None:
                agg = self.per_node[rec.node] = [0, 0.0, 0.0]
            agg[0] += sign
            agg[1] += sign * rec.cpu
            agg[2] += sign * rec.memory_mb
            if not agg[0]:
                del self.per_node[rec.node]
            self.dirty_nodes.add(rec.node)

    def apply(self, present: bool, rec: PodRecord) -> None:
        key = (rec.ns, rec.name)
        with self.lock:
            old = self.records.pop(key, None)
            if old is not None:
                self._count(old, -1)
            if present:
                self._busy_state(rec)
                self.records[key] = rec
                self._count(rec, 1)
            else:
                self.busy.discard(key)
            self._gauge(key, rec if present else None)
            if not present and (rec.fn or (old is not None and old.fn)):
                self.gone[key] = rec.fn or old.fn
                while len(self.gone) > self.GONE_KEPT:
                    self.gone.popitem(last=False)
            self.version += 1

    def reset(self, records: list[PodRecord]) -> None:
        with self.lock:
            self.dirty_place.update(self.place)
            self.dirty_nodes.update(self.per_node)
            self.records, self.place, self.per_node, self.per_fn = {}, {}, {}, {}
            keep = {(r.ns, r.name) for r in records}
            self.busy &= keep
            for rec in records:
                self._busy_state(rec)
                self.records[rec.ns, rec.name] = rec
                self._count(rec, 1)
            old, fresh = self.gauged, self.fresh
            self.gauged, self.gauged_fn, self.fresh = {}, {}, set()
            for key in old:  # the pods still gauged keep their order (and fresh ones stay so)
                rec = self.records.get(key)
                if rec is not None and rec.port and rec.state in ("warm", "busy"):
                    self.gauged[key] = rec.fn
                    self.gauged_fn.setdefault(rec.fn, {})[key] = None
            self.fresh = fresh & self.gauged.keys()
            for key, rec in self.records.items():
                self._gauge(key, rec)
            self.version += 1

    def function_counts(self) -> dict[str, tuple[int, int]]:
        """fn -> (Running pods, Running and Ready pods)."""
        with self.lock:
            return {fn: (a[0], a[1]) for fn, a in self.per_fn.items()}

    def function_of(self, ns: str, name: str) -> str | None:
        rec = self.records.get((ns, name))
        return rec.fn if rec is not None else self.gone.get((ns, name))

    def of_function(self, fn: str) -> list[PodRecord]:
        with self.lock:
            return sorted((r for r in self.records.values() if r.fn == fn), key=lambda r: (r.created, r.name))


class NodeIndex:
    """Nodes by name."""

    def __init__(self, lock: threading.RLock):
        self.lock = lock
        self.records: dict[str, NodeRecord] = {}
        self.dirty: set[str] = set()
        self.changed_set = True  # names added or removed: the order must be rebuilt
        self.version = 0

    reduce = staticmethod(node_record)

    def apply(self, present: bool, rec: NodeRecord) -> None:
        with self.lock:
            old = self.records.get(rec.name)
            if present:
                if rec.same(old):
                    return  # a heartbeat: nothing the model shows changed
                self.records[rec.name] = rec
                self.changed_set |= old is None
            elif old is not None:
                del self.records[rec.name]
                self.changed_set = True
            self.dirty.add(rec.name)
            self.version += 1

    def reset(self, records: list[NodeRecord]) -> None:
        with self.lock:
            self.dirty.update(self.records)
            self.records = {r.name: r for r in records}
            self.dirty.update(self.records)
            self.changed_set = True
            self.version += 1


class EventLog:
    """The latest events about pods and nodes, each once (by name and count).

    ``seq`` is the event's own time, except for one that arrives after a reader was given
    later ones: it gets a time just after those, so a reader asking "after t" still gets it.
    """

    def __init__(self, lock: threading.RLock, limit: int = 1000, kinds: tuple[str, ...] = ("Pod", "Node")):
        self.lock = lock
        self.kinds = kinds
        self.entries: deque[EventRecord] = deque(maxlen=limit)
        self.seen: dict[tuple[str, str], int] = {}
        self.floor = 0.0  # the latest seq handed to a reader
        self.version = 0

    reduce = staticmethod(event_record)

    def apply(self, present: bool, rec: EventRecord) -> None:
        if not present or rec.kind not in self.kinds:
            return  # a deleted Event is one that expired: what it said still happened
        with self.lock:
            if self.seen.get(rec.key) == rec.count:
                return
            self.seen[rec.key] = rec.count
            rec.seq = rec.t if rec.t > self.floor else self.floor + 1e-4
            if len(self.entries) == self.entries.maxlen:
                oldest = self.entries[0]
                if self.seen.get(oldest.key) == oldest.count:
                    del self.seen[oldest.key]
            self.entries.append(rec)
            self.version += 1

    def reset(self, records: list[EventRecord]) -> None:
        # a re-list: add what is new, in the order it happened (times have whole seconds)
        for rec in sorted(records, key=lambda r: (r.t, r.order)):
            self.apply(True, rec)

    def since(self, t: float) -> list[EventRecord]:
        """The events after ``t``, oldest first (one second's in the order they happened)."""
        with self.lock:
            out = sorted((e for e in self.entries if e.seq > t), key=lambda e: (e.seq, e.order))
            if out:
                self.floor = max(self.floor, out[-1].seq)
            return out


class ObjectIndex:
    """Raw objects by (namespace, name) (for small collections: Knative Services)."""

    def __init__(self, lock: threading.RLock):
        self.lock = lock
        self.objects: dict[tuple[str, str], dict] = {}
        self.version = 0

    @staticmethod
    def reduce(obj: dict) -> dict:
        return obj

    def apply(self, present: bool, obj: dict) -> None:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        with self.lock:
            if present:
                self.objects[key] = obj
            else:
                self.objects.pop(key, None)
            self.version += 1

    def reset(self, objects: list[dict]) -> None:
        with self.lock:
            self.objects = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects}
            self.version += 1

    def items(self) -> list[dict]:
        with self.lock:
            return [self.objects[k] for k in sorted(self.objects)]
