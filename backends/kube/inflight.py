"""Which warm pods are serving: each one's in-flight gauge, read off the dashboard tick's path.

A pod whose PodMapping names a ``metrics_port`` serves a gauge of the requests it is handling
(``metrics_gauge``, gauges.py): an OpenFaaS watchdog's ``http_requests_in_flight`` (port 8081,
Prometheus text), a Knative queue-proxy's ``Stat.average_concurrent_requests`` (port 9090,
protobuf). Nuclio's processor has no such gauge (gauges.py says why), so its pods are never
read. ``InflightReader`` reads the gauges through the API server's pod proxy (``GET /api/v1/
namespaces/{ns}/pods/{name}:{port}/proxy/metrics``) in its own thread. A pod read > 0 becomes
``busy`` in the placement (``PodIndex.set_busy``), one read at 0 ``warm`` again; a pod whose
read fails (404, a timeout, no such gauge) is ``warm`` — a failed read never breaks anything.

The reads are bounded, whatever the cluster's size:

- rounds: every ``interval`` s at most; a pod is read at most once a round and once an
  ``interval``;
- a budget: at most ``rate`` reads a second over all pods (``rate * interval`` a round), and
  fewer if they would take more than ``cpu`` s of CPU a second (3 ms: a read through urllib3
  costs ~0.7-1.3 ms, measured as the reads go), so 20,000 warm pods cost the API server and
  this process what a handful do;
- an order: a round takes first the pods last read busy (so they turn warm again soon; at
  most half the budget, so they never starve the others), then up to a quarter of the
  budget on their siblings (the other pods of a function with a busy pod, longest unread
  first: a function under load is busy on most of its pods, so they are found in a few
  rounds, not a cycle), then up to a quarter on the pods of the functions in ``focus`` (the
  ones the dashboard shows now, ``set_focus``; longest unread first, so the rows on screen
  are current on any cluster), then pods that turned warm since the last round, then the others in
  turn (a round robin over the index's ``PodIndex.gauged``, oldest first). Every pod is read
  once a cycle of ``pods / budget`` rounds, and choosing a round costs ``O(budget)``, not
  ``O(pods)`` (the cycle's order is copied once a cycle);
- ``workers`` reads at a time, each bounded by ``timeout`` s; a 403 (no right to
  ``pods/proxy``) pauses all reads for ``DENIED_WAIT`` s rather than failing each pod.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from urllib.parse import quote

from ..errors import AuthError, BackendError
from .connect import Connection
from .gauges import GAUGES, WATCHDOG_GAUGE, prometheus_gauge, protobuf_available
from .indexes import PodIndex

__all__ = ["InflightReader", "in_flight", "GAUGE"]

GAUGE = WATCHDOG_GAUGE
_NEVER = -1e18


def in_flight(text: str) -> float | None:
    """The sum of the ``http_requests_in_flight`` samples in Prometheus text exposition
    format (any labels), or None when there is none."""
    return prometheus_gauge(text, GAUGE)


class InflightReader:
    """See the module docstring. ``start()`` it; it ends when ``stopping`` is set."""

    DENIED_WAIT = 60.0  # s without reads after a 403 (no right to the pod proxy)
    SIBLING_FUNCTIONS = 8  # functions with a busy pod whose other pods a round looks at
    FOCUS_FUNCTIONS = 200  # at most this many functions in ``focus`` (a screenful is ~60)
    FOCUS_PODS = 2000  # and the first this many of their pods (a round copies them: ~0.1 ms)

    def __init__(
        self,
        conn: Connection,
        pods: PodIndex,
        stopping: threading.Event,
        *,
        interval: float = 2.0,
        timeout: float = 1.0,
        workers: int = 4,
        rate: float = 5.0,
        cpu: float = 0.003,
    ):
        self.conn, self.pods, self.stopping = conn, pods, stopping
        self.interval, self.timeout, self.workers = interval, timeout, max(1, workers)
        self.rate = max(0.1, rate)
        self.cpu = cpu  # s of CPU a second the reads may take (the dashboard's tick has 20 ms)
        self.read_cpu = 0.001  # s of CPU a read takes (a running average; urllib3: ~0.7 ms)
        self.read_at: dict[tuple[str, str], float] = {}  # pod -> when last read (monotonic)
        # counters for tests and benchmarks
        self.reads = self.failures = self.rounds = self.cycles = 0
        self.round_s = 0.0  # how long the last round's reads took
        self.round_began: float | None = None  # when the round under way began (None: between)
        self.denied_until = 0.0  # no right to pods/proxy: every read would be refused; wait
        # gauges this process cannot decode (the queue-proxy's protobuf without ``protobuf``)
        self.unreadable = set() if protobuf_available() else {"queue-proxy"}
        self._order: list[tuple[str, str]] = []  # this cycle's round robin
        self._pos = 0
        self._fresh: list[tuple[str, str]] = []  # pods new to the index, not yet read
        self.focus: tuple[str, ...] = ()  # functions on screen now (``set_focus``)
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()  # a round now (``next_round``), or the view stops (``kick``)
        self._done = threading.Condition()  # notified after each round

    @property
    def budget(self) -> int:
        """Reads a round at most: ``rate`` a second, and no more than ``cpu`` s of this
        process's CPU a second at what a read has cost so far."""
        by_cpu = self.cpu * self.interval / max(self.read_cpu, 1e-5)
        return max(1, int(min(self.rate * self.interval, by_cpu)))

    def set_focus(self, functions) -> None:
        """The functions whose pods a round reads before the round robin (those on screen)."""
        self.focus = tuple(dict.fromkeys(functions))[: self.FOCUS_FUNCTIONS]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="kube-inflight", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """End the wait between rounds (the view is stopping, or wants a round now)."""
        self._wake.set()

    def next_round(self, timeout: float) -> bool:
        """Start a round now and wait, at most ``timeout`` s, until it is done (a one-shot
        snapshot shows what the pods serve, not only warm). True if it was."""
        with self._done:
            target = self.rounds + (1 if self.round_began is None else 2)
            self._wake.set()
            return self._done.wait_for(lambda: self.rounds >= target or self.stopping.is_set(), timeout)

    def join(self, timeout: float) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)

    def due(self, now: float) -> list[tuple[str, str, int, str]]:
        """This round's reads (namespace, pod, port, gauge), within the budget, most wanted
        first (see the module docstring)."""
        pods, budget, interval = self.pods, self.budget, self.interval
        with pods.lock:
            gauged = pods.gauged
            busy = [k for k in pods.busy if k in gauged]
            # the siblings of busy pods: a few functions a round, their pods copied (small)
            busy_fns = list(dict.fromkeys(gauged[k] for k in busy))[: self.SIBLING_FUNCTIONS]
            siblings = [k for fn in busy_fns for k in pods.gauged_fn.get(fn, ()) if k not in pods.busy]
            focused = list(islice((k for fn in self.focus for k in pods.gauged_fn.get(fn, ())), self.FOCUS_PODS))
            if pods.fresh:
                self._fresh.extend(pods.fresh)
                pods.fresh.clear()
        read_at, records = self.read_at, pods.records
        picked: dict[tuple[str, str], None] = {}
        out = []

        def take(key) -> bool:
            """Pick ``key`` if it is due; False once the budget is spent."""
            if key in picked or key not in gauged or now - read_at.get(key, _NEVER) < interval:
                return True
            rec = records.get(key)
            if rec is None or rec.gauge in self.unreadable:
                return True
            picked[key] = None
            out.append((rec.ns, rec.name, rec.port, rec.gauge))
            return len(out) < budget

        # busy pods, longest unread first, take up to half the budget (a budget of one: every
        # other round), so that many busy pods never starve the others; the rest of the
        # budget, if the others leave some, after them
        busy.sort(key=lambda k: read_at.get(k, _NEVER))
        quota = budget // 2 if budget > 1 else 1 - self.rounds % 2
        for key in busy[:quota]:
            take(key)
        if len(out) >= budget:
            return out
        # then a quarter of the budget each on the busy pods' siblings and on the pods of the
        # functions on screen, longest unread first
        for group in (siblings, focused) if budget > 1 else ():
            group.sort(key=lambda k: read_at.get(k, _NEVER))
            limit = len(out) + max(1, budget // 4)
            for key in group:
                if len(out) >= limit or not take(key):
                    break
            if len(out) >= budget:
                return out
        while self._fresh:
            if not take(self._fresh.pop()):
                return out
        restarted = False
        while True:
            if self._pos >= len(self._order):
                if restarted:  # every pod was looked at this round
                    for key in busy[quota:]:
                        if not take(key):
                            break
                    return out
                with pods.lock:
                    self._order = list(gauged)
                for key in [k for k in read_at if k not in gauged]:
                    del read_at[key]  # gone, or no longer warm
                self._pos, restarted = 0, True
                self.cycles += 1
                continue
            key = self._order[self._pos]
            self._pos += 1
            if not take(key):
                return out

    def _loop(self) -> None:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="kube-inflight") as pool:
            while not self.stopping.is_set():
                started = time.monotonic()
                if started < self.denied_until:
                    self._pause(min(self.interval, self.denied_until - started))
                    continue
                self.round_began = started
                try:
                    for _ in pool.map(self._read, self.due(started)):
                        pass
                except Exception:  # noqa: BLE001 - a bug here must not end the reader (and busy with it)
                    self.failures += 1
                with self._done:
                    self.rounds += 1
                    self.round_s, self.round_began = time.monotonic() - started, None
                    self._done.notify_all()
                # the next round: an interval after this one began, or (a slow round) a breath
                self._pause(max(0.05, started + self.interval - time.monotonic()))

    def _pause(self, seconds: float) -> None:
        if not self.stopping.is_set():
            self._wake.wait(seconds)
        self._wake.clear()

    def _read(self, target: tuple[str, str, int, str]) -> None:
        ns, name, port, kind = target
        if self.stopping.is_set():
            return
        cpu0 = time.thread_time()
        self.read_at[ns, name] = time.monotonic()
        gauge = GAUGES.get(kind)
        url = "/".join(("/api/v1/namespaces", quote(ns, safe=""), "pods", f"{quote(name, safe='')}:{port}"))
        busy = False
        try:
            if gauge is None:
                raise BackendError(f"no gauge {kind!r}")
            body, content_type = self.conn.fetch(
                url + "/proxy" + gauge.path,
                f"read the metrics of pod {name}",
                accept=gauge.accept,
                timeout=self.timeout,
            )
            busy = (gauge.parse(body, content_type) or 0) > 0
            self.reads += 1
        except AuthError as exc:  # RBAC refuses pods/proxy: ask again in a minute, not per pod
            self.failures += 1
            if exc.http_status == 403:  # (a 401 is the credentials': the next read refreshes them)
                self.denied_until = time.monotonic() + self.DENIED_WAIT
        except BackendError:  # 404, 503, a timeout: not known to be serving
            self.failures += 1
        except Exception:  # noqa: BLE001 - a bad answer must not end the reader
            self.failures += 1
        self.pods.set_busy(ns, name, busy)
        self.read_cpu += (time.thread_time() - cpu0 - self.read_cpu) / 16
