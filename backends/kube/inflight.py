"""Which warm pods are serving: each one's ``http_requests_in_flight`` gauge, read off the
dashboard tick's path.

OpenFaaS's watchdogs (classic and of-watchdog) serve Prometheus metrics on port 8081 at
``/metrics``, among them the gauge ``http_requests_in_flight``. ``InflightReader`` reads it
for every warm (or busy) pod whose PodMapping names a ``metrics_port``, through the API
server's pod proxy (``GET /api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/metrics``), in
its own thread: each pod at most once per ``interval`` s, ``workers`` reads at a time, each
bounded by ``timeout`` s. A pod read with in-flight > 0 becomes ``busy`` in the placement
(``PodIndex.set_busy``), one read at 0 ``warm`` again; a pod whose read fails (404, a
timeout, no such gauge) is ``warm`` — a failed read never breaks anything else.

Knative and Nuclio pods are not read: a Knative pod's queue-proxy counts requests only on its
own metrics port with names that changed across releases, and Nuclio's processor has no
in-flight gauge; neither can be checked here, so their ready pods stay ``warm``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from ..errors import AuthError, BackendError
from .connect import Connection
from .indexes import PodIndex

__all__ = ["InflightReader", "in_flight", "GAUGE"]

GAUGE = "http_requests_in_flight"


def in_flight(text: str) -> float | None:
    """The sum of the ``http_requests_in_flight`` samples in Prometheus text exposition
    format (any labels), or None when there is none."""
    total, seen = 0.0, False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        end = len(GAUGE)
        if not line.startswith(GAUGE) or line[end : end + 1] not in ("{", " ", "\t"):
            continue
        rest = line[end:]
        if rest.startswith("{"):
            close = rest.rfind("}")
            if close < 0:
                continue
            rest = rest[close + 1 :]
        fields = rest.split()
        if not fields:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        if value == value:  # not NaN
            total, seen = total + value, True
    return total if seen else None


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
    ):
        self.conn, self.pods, self.stopping = conn, pods, stopping
        self.interval, self.timeout, self.workers = interval, timeout, max(1, workers)
        self.read_at: dict[tuple[str, str], float] = {}  # pod -> when last read (monotonic)
        self.reads = self.failures = 0  # counters for tests and benchmarks
        self.denied_until = 0.0  # no right to pods/proxy: every read would be refused; wait
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="kube-inflight", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="kube-inflight") as pool:
            while not self.stopping.is_set():
                started = time.monotonic()
                if started < self.denied_until:
                    self.stopping.wait(min(self.interval, self.denied_until - started))
                    continue
                targets = self.pods.metrics_targets()
                live = {(ns, name) for ns, name, _ in targets}
                for key in [k for k in self.read_at if k not in live]:
                    del self.read_at[key]  # gone, or no longer warm
                due = [t for t in targets if started - self.read_at.get(t[:2], -1e9) >= self.interval]
                for _ in pool.map(self._read, due):
                    pass
                soonest = min((self.read_at[k] for k in live if k in self.read_at), default=None)
                wait = self.interval if soonest is None else soonest + self.interval - time.monotonic()
                self.stopping.wait(min(self.interval, max(0.05, wait)))

    def _read(self, target: tuple[str, str, int]) -> None:
        ns, name, port = target
        if self.stopping.is_set():
            return
        self.read_at[ns, name] = time.monotonic()
        url = "/".join(("/api/v1/namespaces", quote(ns, safe=""), "pods", f"{quote(name, safe='')}:{port}"))
        busy = False
        try:
            data = self.conn.request(
                "GET", url + "/proxy/metrics", f"read the metrics of pod {name}", timeout=self.timeout
            )
            busy = (in_flight(data.decode("utf-8", "replace")) or 0) > 0
            self.reads += 1
        except AuthError:  # RBAC refuses pods/proxy: ask again in a minute, not per pod
            self.failures += 1
            self.denied_until = time.monotonic() + self.DENIED_WAIT
        except BackendError:  # 404, 503, a timeout: not known to be serving
            self.failures += 1
        except Exception:  # noqa: BLE001 - a bad answer must not end the reader
            self.failures += 1
        self.pods.set_busy(ns, name, busy)
