"""The pod proxy of the FAKE Kubernetes API server (tests/fakes/kube_api.py), for one target:
an OpenFaaS watchdog's Prometheus metrics (port 8081, ``/metrics``).

``GET /api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/metrics`` (the pod proxy subresource
of the core v1 API; ``{name}``, ``{name}:{port}`` or ``{scheme}:{name}:{port}``): 404 Status for
no such pod; 503 Status for a pod that is not Running with an IP, or a port nothing listens
on (only 8081 does, as a watchdog); else the watchdog's answer, in the Prometheus text
exposition format 0.0.4, written here by its own writer: ``http_requests_in_flight`` as a
test sets it (``set_in_flight``), beside the other series a watchdog serves. Faults for
tests (``metrics_fault``): ``"404"`` (the pod answers 404, as a container with no metrics
endpoint), ``"hang"`` (no answer until the fake stops). A mixin of ``FakeKube``, sharing
nothing with the code under test.
"""

from __future__ import annotations

from .kube_store import ApiError

__all__ = ["PodProxyMixin", "prometheus_text", "WATCHDOG_PORT"]

WATCHDOG_PORT = 8081


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
        """The requests the pod's watchdog is serving now."""
        with self.lock:
            self.in_flight[ns, pod] = n

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
        if port != WATCHDOG_PORT:
            raise ApiError(
                503,
                "ServiceUnavailable",
                f"error trying to reach service: dial tcp {ip}:{port}: connect: connection refused",
            )
        with self.lock:
            fault = self.metrics_faults.get((ns, name))
            n = self.in_flight.get((ns, name), 0)
        if fault == "hang":
            self._stopping.wait(60)
            return ("hang",)  # the handler closes the connection unanswered
        if fault == "404":
            return 404, "text/plain; charset=utf-8", b"404 page not found\n"
        return 200, "text/plain; version=0.0.4; charset=utf-8", prometheus_text(n, served=n)
