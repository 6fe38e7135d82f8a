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

- rounds: every ``interval`` s at most, the warm and busy pods are listed once (memory) and
  those not read for ``interval`` s are due; a pod is read at most once a round;
- a budget: at most ``rate`` reads a second over all pods (``rate * interval`` a round), so
  20,000 warm pods cost the API server and this process what ``rate`` pods do. When more are
  due than the budget allows, pods last read busy go first (so they turn warm again soon),
  then pods never read, then those read longest ago: each pod is still read in turn;
- ``workers`` reads at a time, each bounded by ``timeout`` s; a 401/403 (no right to
  ``pods/proxy``) pauses all reads for ``DENIED_WAIT`` s rather than failing each pod.
"""

from __future__ import annotations

import heapq
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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

    DENIED_WAIT = 60.0  # s without reads after a 401/403 (no right to the pod proxy)

    def __init__(
        self,
        conn: Connection,
        pods: PodIndex,
        stopping: threading.Event,
        *,
        interval: float = 2.0,
        timeout: float = 1.0,
        workers: int = 4,
        rate: float = 50.0,
    ):
        self.conn, self.pods, self.stopping = conn, pods, stopping
        self.interval, self.timeout, self.workers = interval, timeout, max(1, workers)
        self.rate = max(0.1, rate)
        self.read_at: dict[tuple[str, str], float] = {}  # pod -> when last read (monotonic)
        # counters for tests and benchmarks
        self.reads = self.failures = self.rounds = self.deferred = 0
        self.round_s = 0.0  # how long the last round's reads took
        self.denied_until = 0.0  # no right to pods/proxy: every read would be refused; wait
        # gauges this process cannot decode (the queue-proxy's protobuf without ``protobuf``)
        self.unreadable = set() if protobuf_available() else {"queue-proxy"}
        self._thread: threading.Thread | None = None

    @property
    def budget(self) -> int:
        """Reads a round at most."""
        return max(1, int(self.rate * self.interval))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="kube-inflight", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)

    def due(self, now: float) -> list[tuple[str, str, int, str]]:
        """This round's reads: the pods due, within the budget, most wanted first."""
        targets = [t for t in self.pods.metrics_targets() if t[3] not in self.unreadable]
        live = {(ns, name) for ns, name, _, _ in targets}
        read_at = self.read_at
        for key in [k for k in read_at if k not in live]:
            del read_at[key]  # gone, or no longer warm
        due = [t for t in targets if now - read_at.get(t[:2], _NEVER) >= self.interval]
        budget = self.budget
        if len(due) <= budget:
            return due
        self.deferred += len(due) - budget
        with self.pods.lock:
            busy = set(self.pods.busy)
        return heapq.nsmallest(budget, due, key=lambda t: (t[:2] not in busy, read_at.get(t[:2], _NEVER)))

    def _loop(self) -> None:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="kube-inflight") as pool:
            while not self.stopping.is_set():
                started = time.monotonic()
                if started < self.denied_until:
                    self.stopping.wait(min(self.interval, self.denied_until - started))
                    continue
                for _ in pool.map(self._read, self.due(started)):
                    pass
                self.rounds += 1
                self.round_s = time.monotonic() - started
                # the next round: an interval after this one began, or (a slow round) a breath
                self.stopping.wait(max(0.05, started + self.interval - time.monotonic()))

    def _read(self, target: tuple[str, str, int, str]) -> None:
        ns, name, port, kind = target
        if self.stopping.is_set():
            return
        self.read_at[ns, name] = time.monotonic()
        gauge = GAUGES.get(kind)
        url = "/".join(("/api/v1/namespaces", quote(ns, safe=""), "pods", f"{quote(name, safe='')}:{port}"))
        busy = False
        try:
            if gauge is None:
                raise BackendError(f"no gauge {kind!r}")
            body, content_type = self.conn.fetch(
                url + "/proxy" + gauge.path, f"read the metrics of pod {name}", accept=gauge.accept, timeout=self.timeout
            )
            busy = (gauge.parse(body, content_type) or 0) > 0
            self.reads += 1
        except AuthError:  # RBAC refuses pods/proxy: ask again in a minute, not per pod
            self.failures += 1
            self.denied_until = time.monotonic() + self.DENIED_WAIT
        except BackendError:  # 404, 503, a timeout: not known to be serving
            self.failures += 1
        except Exception:  # noqa: BLE001 - a bad answer must not end the reader
            self.failures += 1
        self.pods.set_busy(ns, name, busy)
