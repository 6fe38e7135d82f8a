"""The pod proxy of the FAKE Kubernetes API server (tests/fakes/kube_api.py), for the two
in-flight gauges faastui reads: an OpenFaaS watchdog's Prometheus metrics (port 8081,
``/metrics``) and a Knative queue-proxy's autoscaling stats (port 9090, ``/metrics``).

``GET /api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/metrics`` (the pod proxy subresource
of the core v1 API; ``{name}``, ``{name}:{port}`` or ``{scheme}:{name}:{port}``): 404 Status for
no such pod; 503 Status for a pod that is not Running with an IP, or a port nothing listens
on. What listens is the pod's own: a pod with a ``queue-proxy`` container (what Knative
injects into a revision's pod) listens on 9090 only, any other pod on 8081 only (as a
watchdog). The Accept header reaches the pod, as the API server's proxy passes it on.

- 8081: the watchdog's answer in the Prometheus text exposition format 0.0.4, written here by
  its own writer: ``http_requests_in_flight`` as a test sets it (``set_in_flight``), beside the
  other series a watchdog serves.
- 9090: what current Knative Serving's queue-proxy serves (pkg/queue/sharedmain/servers.go:
  the protobuf stats reporter only, whatever the Accept): one ``Stat`` (pkg/autoscaler/
  metrics/stat.proto) encoded by the fake's own protobuf codec (protowire.py, never the
  generated code faastui decodes with), ``Content-Type: application/protobuf``. Its
  ``average_concurrent_requests`` is, as the real one's, the time-weighted average of the
  requests in flight over the last second: those the fake ingress is proxying to the pod now
  or did in that second (``request_in``/``request_out``, kube_knative.py), plus what a test
  sets with ``set_in_flight`` (held constant).

Faults for tests (``metrics_fault``): ``"404"`` (the pod answers 404, as a container with no
metrics endpoint), ``"hang"`` (no answer until the fake stops). A mixin of ``FakeKube``,
sharing nothing with the code under test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import protowire as pw
from .kube_store import ApiError

__all__ = ["PodProxyMixin", "prometheus_text", "WATCHDOG_PORT", "QUEUE_PROXY_PORT", "QueueStat", "Concurrency"]

WATCHDOG_PORT = 8081
QUEUE_PROXY_PORT = 9090
REPORTING_PERIOD = 1.0  # s, queue-proxy's (pkg/queue/sharedmain/main.go reportingPeriod)


@dataclass
class QueueStat(pw.Message):
    """knative/serving pkg/autoscaler/metrics/stat.proto, message Stat."""

    pod_name: str = pw.pb(1, "string")
    average_concurrent_requests: float = pw.pb(2, "double")
    average_proxied_concurrent_requests: float = pw.pb(3, "double")
    request_count: float = pw.pb(4, "double")
    proxied_request_count: float = pw.pb(5, "double")
    process_uptime: float = pw.pb(6, "double")
    timestamp: int = pw.pb(7, "int64")


class Concurrency:
    """One pod's requests in flight over time: the level now, and its time-weighted average
    over the last ``REPORTING_PERIOD`` s."""

    def __init__(self):
        self.level = 0
        self.changes: list[tuple[float, int]] = [(time.monotonic(), 0)]  # (since, level)
        self.received = 0

    def change(self, delta: int) -> None:
        now = time.monotonic()
        self.level += delta
        self.received += delta > 0
        self.changes.append((now, self.level))
        cut = now - 2 * REPORTING_PERIOD
        while len(self.changes) > 1 and self.changes[1][0] <= cut:
            self.changes.pop(0)

    def average(self) -> float:
        now = time.monotonic()
        start = now - REPORTING_PERIOD
        total = 0.0
        for i, (since, level) in enumerate(self.changes):
            until = self.changes[i + 1][0] if i + 1 < len(self.changes) else now
            lo, hi = max(since, start), min(until, now)
            if hi > lo:
                total += level * (hi - lo)
        return total / REPORTING_PERIOD


def _sample(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if labels:
        inner = ",".join(
            '{}="{}"'.format(k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
            for k, v in labels.items()
        )
        name += "{" + inner + "}"
    text = repr(float(value)) if value != int(value) else str(int(value))
    return f"{name} {text}"


def prometheus_text(in_flight: int, served: int) -> bytes:
    """A watchdog's /metrics page: HELP and TYPE lines, then samples, one a line."""
    series = [
        ("go_goroutines", "gauge", "Number of goroutines that currently exist.", [({}, 9)]),
        (
            "http_request_duration_seconds",
            "histogram",
            "Seconds spent serving HTTP requests.",
            [({"code": "200", "method": "post", "le": "+Inf"}, served)],
        ),
        ("http_requests_in_flight", "gauge", "total HTTP requests in-flight", [({}, in_flight)]),
        (
            "http_requests_total",
            "counter",
            "The total number of HTTP requests.",
            [({"code": "200", "method": "post"}, served)],
        ),
    ]
    lines = []
    for name, kind, help_, samples in series:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            sample_name = name + "_bucket" if kind == "histogram" else name
            lines.append(_sample(sample_name, value, labels))
    return ("\n".join(lines) + "\n").encode()


class PodProxyMixin:
    """The pod proxy route (needs the FakeKube attributes)."""

    def set_in_flight(self, ns: str, pod: str, n: int) -> None:
        """The requests the pod is serving now (its watchdog's gauge; on a Knative pod, held
        on top of what the ingress proxies to it)."""
        with self.lock:
            self.in_flight[ns, pod] = n

    def request_in(self, ns: str, pod: str) -> None:
        """The ingress starts proxying a request to the pod (through its queue-proxy)."""
        with self.lock:
            self.concurrency.setdefault((ns, pod), Concurrency()).change(1)

    def request_out(self, ns: str, pod: str) -> None:
        with self.lock:
            self.concurrency.setdefault((ns, pod), Concurrency()).change(-1)

    def metrics_fault(self, ns: str, pod: str, fault: str | None) -> None:
        """``"404"``, ``"hang"``, or None (answer normally)."""
        with self.lock:
            if fault is None:
                self.metrics_faults.pop((ns, pod), None)
            else:
                self.metrics_faults[ns, pod] = fault

    def _route_pod_proxy(self, method, ns, target, *, query, body):
        self._only(method, "GET")
        parts = target.split(":")
        if len(parts) == 3 and parts[0] in ("http", "https"):
            parts = parts[1:]
        if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
            raise ApiError(400, "BadRequest", f"invalid pod proxy target {target!r}")
        name, port = parts[0], int(parts[1]) if len(parts) == 2 else 80
        pod = self._get("pods", ns, name)
        status = pod.get("status") or {}
        ip = status.get("podIP")
        if status.get("phase") != "Running" or not ip:
            raise ApiError(503, "ServiceUnavailable", f'pod "{name}" is not running or has no IP')
        queue_proxy = any(c.get("name") == "queue-proxy" for c in (pod.get("spec") or {}).get("containers") or ())
        if port != (QUEUE_PROXY_PORT if queue_proxy else WATCHDOG_PORT):
            raise ApiError(
                503,
                "ServiceUnavailable",
                f"error trying to reach service: dial tcp {ip}:{port}: connect: connection refused",
            )
        with self.lock:
            self.proxy_reads += 1
            fault = self.metrics_faults.get((ns, name))
            n = self.in_flight.get((ns, name), 0)
            served = self.concurrency.get((ns, name))
            average = n + (served.average() if served is not None else 0.0)
            received = served.received if served is not None else 0
        if fault == "hang":
            self._stopping.wait(60)
            return ("hang",)  # the handler closes the connection unanswered
        if fault == "404":
            return 404, "text/plain; charset=utf-8", b"404 page not found\n"
        if queue_proxy:
            stat = QueueStat(
                pod_name=name,
                average_concurrent_requests=average,
                request_count=float(received),
                process_uptime=12.5,
                timestamp=int(time.time()),
            )
            return 200, "application/protobuf", stat.encode()
        return 200, "text/plain; version=0.0.4; charset=utf-8", prometheus_text(n, served=n)
