"""The in-flight gauges faastui can read off a function pod, one per platform, and how to tell
from each one that the pod is serving now. Pure functions, no I/O (inflight.py does the reads).

``watchdog`` (OpenFaaS): the classic watchdog and of-watchdog serve Prometheus text on port
8081 at ``/metrics``, among it the gauge ``http_requests_in_flight`` (requests being served
now). Busy while it is > 0.

``queue-proxy`` (Knative Serving): every revision pod has the ``queue-proxy`` sidecar, which
serves its autoscaling stats on port 9090 at ``/metrics`` (knative/serving pkg/networking:
``AutoscalingQueueMetricsPort``; the autoscaler scrapes the same URL, pkg/autoscaler/metrics/
stats_scraper.go). Since 2020 that answer is one protobuf ``Stat`` message (pkg/queue/
protobuf_stats_reporter.go; the message in pkg/autoscaler/metrics/stat.proto, copied as
``rpc/queue_stat.proto`` here) when the request's Accept names ``application/protobuf``, and
in current releases whatever the Accept: the Prometheus text reporter
(``queue_average_concurrent_requests`` ...) is gone (proposed in knative/serving#11126;
pkg/queue/sharedmain/servers.go now serves only the protobuf reporter, and pkg/queue/
stats_handler_test.go expects protobuf for any Accept; users report a Prometheus scrape of
:9090 failing on binary data, awslabs/kubeflow-manifests#747). ``average_concurrent_requests``
is the time-weighted average of the requests in flight over the last 1 s reporting period
(pkg/queue/sharedmain/main.go: reportingPeriod = 1 s), so > 0 means the pod served during
the last second: busy. Port 9091 (user metrics: request counts and latencies, and
``queue_depth`` only with a concurrency limit, recorded as a request arrives; pkg/queue/
metrics/request_metric.go) has no live in-flight count, and it moved to OpenTelemetry in
1.18-1.19 (knative/serving#16017), so it is not used.

Nuclio has none: its processor's Prometheus pull sink (port 8090, ``/metrics``; nuclio/nuclio
pkg/processor/metricsink/prometheus/{trigger,worker}.go, pull/types.go) exports counters
only: ``nuclio_processor_handled_events_total``, per worker
``nuclio_processor_handled_events_duration_milliseconds_sum/_count``, and since nuclio#1394
and #1404 ``nuclio_processor_worker_allocation_*`` (allocation counts, wait time, and the
*sum* of the percentage of workers free at each allocation). The worker allocator's count of
free workers (``GetNumWorkersAvailable``) is logged, not exported. A counter that moved says
events were handled since the last read, not that one is being handled now, so Nuclio pods
are never read and a ready one stays ``warm``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Gauge", "GAUGES", "WATCHDOG_GAUGE", "prometheus_gauge", "watchdog_in_flight", "queue_proxy_concurrency"]

WATCHDOG_GAUGE = "http_requests_in_flight"
PROTOBUF = "application/protobuf"  # knative.dev/networking pkg/http/header ProtobufMIMEType


def prometheus_gauge(text: str, name: str) -> float | None:
    """The sum of the samples of ``name`` in Prometheus text exposition format (any labels),
    or None when there is none."""
    total, seen = 0.0, False
    end = len(name)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith(name) or line[end : end + 1] not in ("{", " ", "\t"):
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


def watchdog_in_flight(body: bytes, content_type: str) -> float | None:
    """An OpenFaaS watchdog's ``http_requests_in_flight``, or None."""
    return prometheus_gauge(body.decode("utf-8", "replace"), WATCHDOG_GAUGE)


def queue_proxy_concurrency(body: bytes, content_type: str) -> float | None:
    """A Knative queue-proxy's ``Stat.average_concurrent_requests``, or None when the
    answer is not a Stat (another content type, or bytes that do not decode)."""
    if PROTOBUF not in content_type.lower():
        return None
    # deferred: protobuf is the optional extra ``faastui[knative]`` and costs ~50 ms; only a
    # Knative view with pods to read pays it, in the reader's thread
    from google.protobuf.message import DecodeError

    from .rpc.queue_stat_pb2 import Stat

    stat = Stat()
    try:
        stat.ParseFromString(body)
    except DecodeError:
        return None
    value = stat.average_concurrent_requests
    return value if value == value else None  # NaN: not known


@dataclass(frozen=True)
class Gauge:
    """How one platform's gauge is read through the pod proxy: the path after
    ``.../pods/{name}:{port}/proxy``, the Accept header, and the parser (body, content type)
    -> requests in flight, or None when the answer has no such gauge."""

    path: str
    accept: str
    parse: Callable[[bytes, str], float | None]


GAUGES: dict[str, Gauge] = {
    "watchdog": Gauge("/metrics", "text/plain", watchdog_in_flight),
    "queue-proxy": Gauge("/metrics", PROTOBUF, queue_proxy_concurrency),
}


def protobuf_available() -> bool:
    """Whether the protobuf runtime (``faastui[knative]``) is installed."""
    try:
        import google.protobuf  # noqa: F401 - deferred, see queue_proxy_concurrency
    except ImportError:
        return False
    return True
