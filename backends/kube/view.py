"""KubeView: a cluster's nodes, function pods, events and node usage, kept current in memory.

One Informer thread per collection (nodes; pods in a namespace or the whole cluster, by an
optional label selector; events; any extra collection a backend asks for) keeps an index
current with list + watch (informer.py), and one probe thread polls ``metrics.k8s.io`` for
node usage every ``probe_interval`` seconds (``/version`` when the cluster has no
metrics-server) — the probe is also how a server that has gone silent is noticed: a probe
that gets no answer marks the data stale and cuts the watches, which then reconnect with
backoff. So a dashboard tick reads memory, never the API, and an unreachable or stalled
cluster never blocks it: the last good data stays, and ``problems()`` says since when.

The model objects (Node, Placement) are cached per key and rebuilt only for what changed
since the last read; a tick with 100 pod changes rebuilds about 100 cells, not 20,000.
Logs are the one read that goes to the API (bounded, in a worker thread). When a mapping
names a ``metrics_port``, one more thread reads warm pods' in-flight gauges through the pod
proxy (inflight.py, within a budget) and moves them between ``warm`` and ``busy``; the tick
only reads what it last found.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time

from ..errors import AuthError, BackendError, InvalidRequest, NotFound, Unreachable
from ..model import LogLine, Node, Placement
from ..quantities import memory_mb, quantity
from .connect import Connection, KubeOptions, path
from .indexes import EventLog, NodeIndex, ObjectIndex, PodIndex
from .inflight import InflightReader
from .informer import Informer
from .records import PodMapping, PodRecord
from .translate import event_item, node_model

__all__ = ["KubeView", "METRICS_NODES"]

METRICS_NODES = "/apis/metrics.k8s.io/v1beta1/nodes"


def _age(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


class KubeView:
    """See the module docstring. ``start()`` it, read it, ``close()`` it."""

    GRACE = 1.0  # s a failing watch may take to resume before problems() reports it

    def __init__(
        self,
        options: KubeOptions,
        *,
        namespace: str | None = None,
        pod_selector: str = "",
        mappings: tuple[PodMapping, ...] = (),
        events: bool = True,
        metrics: bool = True,
        probe_interval: float = 10.0,
        watch_timeout: int = 300,
        idle_timeout: float = 90.0,
        page: int = 500,
        backoff_max: float = 30.0,
        extra: dict[str, tuple[str, str]] | None = None,
        connection: Connection | None = None,
        inflight_interval: float = 2.0,
        inflight_timeout: float = 1.0,
        inflight_workers: int = 4,
        inflight_rate: float = 5.0,
        inflight_cpu: float = 0.003,
    ):
        self.conn = connection or Connection(options)
        self.namespace = namespace  # None: the whole cluster (a namespace after a 403)
        self.pod_selector = pod_selector
        self.lock = threading.RLock()
        self.pods = PodIndex(self.lock, tuple(mappings))
        self.nodes_index = NodeIndex(self.lock)
        self.event_log = EventLog(self.lock)
        self.extra = {name: ObjectIndex(self.lock) for name in (extra or {})}
        self._extra_paths = dict(extra or {})
        self.want_events, self.want_metrics = events, metrics
        self.probe_interval = probe_interval
        self._informer_args = {
            "page": page,
            "watch_timeout": watch_timeout,
            "idle_timeout": idle_timeout,
            "backoff_max": backoff_max,
        }
        self.informers: dict[str, Informer] = {}
        self.usage: dict[str, tuple[float, float]] = {}  # node -> (cpus, memory MB) in use
        self.metrics_state = "unknown"  # present | absent | unknown
        self.probed = False  # the first probe is done
        self.unreachable: tuple[float, BackendError] | None = None  # since, why (the probe's)
        self.probe_ok_at: float | None = None
        self._stopping = threading.Event()
        self._prober: threading.Thread | None = None
        self.inflight: InflightReader | None = None
        if any(m.metrics_port for m in mappings):
            self.inflight = InflightReader(
                self.conn,
                self.pods,
                self._stopping,
                interval=inflight_interval,
                timeout=inflight_timeout,
                workers=inflight_workers,
                rate=inflight_rate,
                cpu=inflight_cpu,
            )
        self._start_lock = threading.Lock()
        self._started = False
        self._first_round = False  # ready() waited for one round of in-flight reads
        # the tick's caches: model objects by key, rebuilt only where the indexes changed
        self._node_models: dict[str, Node] = {}
        self._node_list: list[Node] = []
        self._usage_dirty: set[str] = set()
        self._place_keys: list[tuple[str, str, str]] = []  # sorted
        self._place_models: list[Placement] = []  # beside _place_keys (changed in place)
        self._place_list: list[Placement] = []  # the last list handed out (never changed)

    # ---- life cycle -----------------------------------------------------------------------
    def start(self) -> KubeView:
        """Load the settings (InvalidRequest if they are bad) and start the threads. Blocks
        for the settings only (call it in a worker thread)."""
        with self._start_lock:
            if self._started:
                return self
            self.conn.load()
            args = self._informer_args
            ns = self.namespace
            fallback_ns = self.conn.namespace or "default"

            def scoped(plural: str) -> tuple[str, tuple[str, str] | None]:
                if ns:
                    return path("/api/v1/namespaces", ns, plural), None
                return f"/api/v1/{plural}", (
                    path("/api/v1/namespaces", fallback_ns, plural),
                    f"{plural} seen in namespace {fallback_ns} only (listing all namespaces is forbidden)",
                )

            self.informers["nodes"] = Informer(self.conn, "/api/v1/nodes", self.nodes_index, what="nodes", **args)
            pods_path, pods_fallback = scoped("pods")
            self.informers["pods"] = Informer(
                self.conn,
                pods_path,
                self.pods,
                what="pods",
                fallback=pods_fallback,
                query={"labelSelector": self.pod_selector} if self.pod_selector else None,
                **args,
            )
            if self.want_events:
                events_path, events_fallback = scoped("events")
                self.informers["events"] = Informer(
                    self.conn, events_path, self.event_log, what="events", fallback=events_fallback, **args
                )
                if ns:  # nodes' events are in namespace default: read them by kind, everywhere
                    self.informers["node_events"] = Informer(
                        self.conn,
                        "/api/v1/events",
                        self.event_log,
                        what="node events",
                        query={"fieldSelector": "involvedObject.kind=Node"},
                        fallback=(
                            path("/api/v1/namespaces", "default", "events"),
                            "node events seen in namespace default only",
                        ),
                        **args,
                    )
            for name, (url, what) in self._extra_paths.items():
                self.informers[name] = Informer(self.conn, url, self.extra[name], what=what, **args)
            for informer in self.informers.values():
                informer.start()
            self._prober = threading.Thread(target=self._probe_loop, name="kube-probe", daemon=True)
            self._prober.start()
            if self.inflight is not None:
                self.inflight.start()
            self._started = True
            return self

    def close(self, timeout: float = 3.0) -> None:
        """Stop every thread: all are told at once, then joined within ``timeout`` s in all
        (one blocked in a request to a stalled server ends at the request's timeout)."""
        self._stopping.set()
        for informer in self.informers.values():
            informer._stopping.set()
            informer.kick()
        deadline = time.monotonic() + timeout
        for informer in self.informers.values():
            informer.stop(max(0.0, deadline - time.monotonic()))
        if self._prober is not None and self._prober.is_alive():
            self._prober.join(max(0.0, deadline - time.monotonic()))
        if self.inflight is not None:
            self.inflight.kick()
            self.inflight.join(max(0.0, deadline - time.monotonic()))
        self.conn.close()

    def synced(self) -> bool:
        """Nodes, pods and the extra collections are listed, and the first probe is done
        (events are best effort: a cluster may refuse them)."""
        essential = [i for name, i in self.informers.items() if "events" not in name]
        return bool(essential) and all(i.synced for i in essential) and self.probed

    async def ready(self, timeout: float) -> bool:
        """Start (in a worker thread) and wait until every collection is listed, at most
        ``timeout`` seconds, or until each unlisted one has failed once. True if synced."""
        await asyncio.to_thread(self.start)
        deadline = time.monotonic() + timeout
        while not self.all_listed() and time.monotonic() < deadline:
            waiting = [i for i in self.informers.values() if not i.synced]
            if waiting and all(i.error is not None for i in waiting) and self.probed:
                break
            await asyncio.sleep(0.01)
        synced = self.synced()
        if synced and self.inflight is not None and not self._first_round:
            # one round of in-flight reads (bounded) on the pods just listed: a first snapshot shows busy
            self._first_round = True
            left = min(max(0.0, deadline - time.monotonic()), self.inflight.timeout + 0.5)
            await asyncio.to_thread(self.inflight.next_round, left)
        return synced

    def all_listed(self) -> bool:
        return all(i.synced for i in self.informers.values()) and self.probed

    def first_error(self) -> BackendError | None:
        """The error of a collection never listed (what a first read should raise)."""
        for informer in self.informers.values():
            if not informer.synced and informer.error is not None:
                return informer.error
        return None

    # ---- the probe (metrics, and liveness) ----------------------------------------------------
    def _probe_loop(self) -> None:
        absent_checked = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            recheck = self.metrics_state != "absent" or now - absent_checked > 60
            try:
                if self.want_metrics and recheck:
                    try:
                        self._poll_metrics()
                    except Unreachable:  # a slow metrics-server, or a silent API server?
                        self._version()  # raises Unreachable only for the second
                        self.metrics_state, absent_checked = "absent", time.monotonic()
                else:
                    self._version()
                self._reachable()
            except (NotFound, AuthError):  # no metrics-server, or no right to read it
                self.metrics_state, absent_checked = "absent", time.monotonic()
                self._set_usage({})
                self._reachable()
            except Unreachable as exc:
                self._lost(exc)
            except BackendError:  # metrics registered but failing (503): keep going without
                self.metrics_state, absent_checked = "absent", time.monotonic()
                self._reachable()
            except Exception:  # noqa: BLE001 - a bad answer must not end the probe
                self._reachable()
            self.probed = True
            wait = self.probe_interval if self.unreachable is None else min(self.probe_interval, 2.0)
            self._stopping.wait(wait)

    def _version(self) -> None:
        self.conn.request("GET", "/version", "read the server version", timeout=min(5.0, self.conn.options.timeout))

    def _poll_metrics(self) -> None:
        data = self.conn.json("GET", METRICS_NODES, "read node metrics", timeout=min(5.0, self.conn.options.timeout))
        usage = {}
        for item in data.get("items") or ():
            u = item.get("usage") or {}
            usage[item["metadata"]["name"]] = (round(quantity(u.get("cpu")), 3), memory_mb(u.get("memory")))
        self.metrics_state = "present"
        self._set_usage(usage)

    def _set_usage(self, usage: dict) -> None:
        with self.lock:
            changed = {n for n in set(usage) | set(self.usage) if usage.get(n) != self.usage.get(n)}
            self.usage = usage
            self._usage_dirty |= changed

    def _reachable(self) -> None:
        self.unreachable = None
        self.probe_ok_at = time.monotonic()

    def _lost(self, exc: BackendError) -> None:
        if self.unreachable is None:
            self.unreachable = (time.monotonic(), exc)
            for informer in self.informers.values():
                informer.kick()  # a silent stream may still look open: reconnect

    # ---- reads (memory only) --------------------------------------------------------------
    def nodes(self) -> list[Node]:
        """Every node, by name, with usage (metrics.k8s.io, else the pods' requests)."""
        with self.lock:
            idx, pods = self.nodes_index, self.pods
            dirty = idx.dirty | pods.dirty_nodes | self._usage_dirty
            if not dirty and not idx.changed_set:
                return self._node_list
            for name in dirty:
                rec = idx.records.get(name)
                if rec is None:
                    self._node_models.pop(name, None)
                    continue
                agg = pods.per_node.get(name) or (0, 0.0, 0.0)
                self._node_models[name] = node_model(name, rec, agg, self.usage.get(name))
            idx.dirty.clear()
            pods.dirty_nodes.clear()
            self._usage_dirty.clear()
            if idx.changed_set or len(self._node_list) != len(self._node_models):
                idx.changed_set = False
                self._node_list = [self._node_models[n] for n in sorted(self._node_models)]
            else:
                self._node_list = [self._node_models[n.name] for n in self._node_list]
            return self._node_list

    def placements(self) -> list[Placement]:
        """Pods per (function, node, state), by function then node."""
        with self.lock:
            pods = self.pods
            if not pods.dirty_place:
                return self._place_list
            keys, models = self._place_keys, self._place_models
            for key in sorted(pods.dirty_place):
                count = pods.place.get(key, 0)
                i = bisect.bisect_left(keys, key)
                present = i < len(keys) and keys[i] == key
                if count:
                    model = Placement(function=key[0], node=key[1], state=key[2], count=count)
                    if present:
                        models[i] = model
                    else:
                        keys.insert(i, key)
                        models.insert(i, model)
                elif present:
                    del keys[i], models[i]
            pods.dirty_place.clear()
            self._place_list = list(models)  # a new list: a reader's old one never changes
            return self._place_list

    def functions_seen(self) -> list[str]:
        """The functions that have pods now."""
        with self.lock:
            return sorted({fn for fn, _, _ in self.pods.place})

    def pods_of(self, fn: str) -> list[PodRecord]:
        return self.pods.of_function(fn)

    def node(self, name: str):
        with self.lock:
            return self.nodes_index.records.get(name)

    def node_names(self) -> list[str]:
        with self.lock:
            return sorted(self.nodes_index.records)

    def objects(self, name: str) -> list[dict]:
        return self.extra[name].items()

    def events(self, since: float = 0.0) -> list[dict]:
        """Events about the functions' pods and about nodes after ``since``, oldest first,
        in the shape ``Backend.events`` returns (``kind`` start/stop/error/kube/node)."""
        out = []
        with self.lock:
            for e in self.event_log.since(since):
                if e.kind == "Node":
                    fn, node = None, ""
                else:
                    fn = self.pods.function_of(e.ns, e.name)
                    if fn is None:
                        continue  # a pod that is not a function's
                    rec = self.pods.records.get((e.ns, e.name))
                    node = (rec.node if rec is not None else "") or e.host
                out.append(event_item(e, fn, node))
        return out

    # ---- health ----------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """One line per part whose data is not current: why, and how old the data is."""
        now = time.monotonic()
        out = []
        for part, informer in (("nodes", self.informers.get("nodes")), ("placements", self.informers.get("pods"))):
            if informer is None:
                continue
            if informer.note:
                out.append(f"{part}: {informer.note}")
            error = informer.error
            if (
                error is not None
                and informer.synced
                and informer.error_since is not None
                and now - informer.error_since < self.GRACE
            ):
                error = None  # a cut stream being resumed: not worth a flash on screen
            since = informer.good_at
            if self.unreachable is not None:
                error = self.unreachable[1]
                since = min(since or now, self.probe_ok_at or now)
            if error is None:
                continue
            if since is None or not informer.synced:
                out.append(f"{part}: {error} (no data yet; retrying)")
            else:
                retry = informer.retry_at
                when = f"retrying in {_age(max(0.0, retry - now))}" if retry else "retrying"
                out.append(f"{part}: {error} (data from {_age(now - since)} ago; {when})")
        return out

    def stats(self) -> dict:
        """Counters for tests and benchmarks: lists, 410s, bookmarks, events per collection."""
        return {
            name: {
                "lists": i.lists,
                "expired": i.expired,
                "bookmarks": i.bookmarks,
                "events": i.events,
                "synced": i.synced,
                "error": str(i.error) if i.error else None,
            }
            for name, i in self.informers.items()
        }

    # ---- logs (the API, bounded) -------------------------------------------------------------
    def _pod_log(self, rec: PodRecord, container: str | None, tail: int) -> str:
        query = {"tailLines": str(max(0, tail))}
        if container:
            query["container"] = container
        data = self.conn.request(
            "GET",
            path("/api/v1/namespaces", rec.ns, "pods", rec.name, "log"),
            f"read the logs of pod {rec.name}",
            query=query,
        )
        return data.decode("utf-8", "replace")

    async def logs(self, fn: str, tail: int = 100, containers: tuple[str, ...] = ()) -> list[str]:
        """The last ``tail`` lines of each pod of ``fn`` (the first of ``containers`` a pod
        has, else its only or first container), prefixed with the pod's name when several."""
        pods = self.pods_of(fn)
        lines: list[str] = []
        for rec in pods:
            container = next((c for c in containers if c in rec.containers), None)
            if container is None and rec.containers:
                container = rec.containers[0]
            try:
                text = await asyncio.to_thread(self._pod_log, rec, container, tail)
            except (InvalidRequest, NotFound) as exc:  # not started yet, or gone meanwhile
                text = f"(no logs: {exc})\n"
            prefix = f"[{rec.name}] " if len(pods) > 1 else ""
            lines += [prefix + line for line in text.splitlines()]
        return lines

    async def log_lines(
        self,
        fn: str,
        tail: int = 100,
        containers: tuple[str, ...] = (),
        *,
        since: float | None = None,
        instance: str | None = None,
    ) -> list[LogLine]:
        """``fn``'s pods' lines with their times (``podlogs.py``), the pod's name as the
        instance; ``instance`` reads that pod only."""
        from . import podlogs

        per_pod = []
        for rec in self.pods_of(fn):
            if instance and rec.name != instance:
                continue
            container = next((c for c in containers if c in rec.containers), None)
            if container is None and rec.containers:
                container = rec.containers[0]
            path_ = path("/api/v1/namespaces", rec.ns, "pods", rec.name, "log")
            try:
                data = await asyncio.to_thread(
                    self.conn.request,
                    "GET",
                    path_,
                    f"read the logs of pod {rec.name}",
                    query=podlogs.query(container, tail, since),
                )
            except (InvalidRequest, NotFound):  # not started yet, or gone meanwhile
                continue
            per_pod.append(podlogs.parse(data.decode("utf-8", "replace"), fn, rec.name))
        return podlogs.merge(per_pod, tail, since)

    # ---- writes (the API, bounded) -----------------------------------------------------------
    async def call(
        self,
        method: str,
        url: str,
        what: str,
        body=None,
        query: dict | None = None,
        content_type: str = "application/json",
    ) -> dict:
        """One API call in a worker thread; its JSON answer."""
        return await asyncio.to_thread(
            self.conn.json, method, url, what, body=body, query=query, content_type=content_type
        )
