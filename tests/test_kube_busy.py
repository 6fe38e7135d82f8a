"""Busy pods on a real cluster: the OpenFaaS watchdog's ``http_requests_in_flight`` gauge, read
per warm pod through the API server's pod proxy (backends/kube/inflight.py), against the FAKE
Kubernetes API server (tests/fakes/kube_api.py with its pod proxy, kube_podproxy.py:
Kubernetes and a watchdog cannot run here; the fake writes its own Prometheus text and shares
no code with the reader). Real HTTP on loopback, real threads; waits have deadlines."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from backends.invokers import InvokersBackend
from backends.kube import KubeOptions, KubeView
from backends.kube.inflight import in_flight
from backends.openfaas import OpenFaaSBackend, _pod_mappings
from tests.conftest import run
from tests.fakes.kube_podproxy import prometheus_text
from tests.kube_support import checked_fake, wait_for

NS = "openfaas-fn"


@pytest.fixture()
def fake(tmp_path):
    with checked_fake(nodes=2, not_ready_nodes=0, bookmark_interval=0.2) as kube:
        for i in range(3):
            kube.add_pod(NS, f"hello-{i}", node=f"kn-node-{i % 2 + 1}", labels={"faas_function": "hello"})
        kube.kc = str(kube.kubeconfig(tmp_path / "kubeconfig"))
        yield kube


class Running:
    """A started view with OpenFaaS's pod mappings (its threads stopped at the end)."""

    def __init__(self, fake, **kw):
        kw.setdefault("probe_interval", 0.2)
        kw.setdefault("inflight_interval", 0.05)
        kw.setdefault("inflight_timeout", 0.3)
        self.view = KubeView(KubeOptions(kubeconfig=fake.kc), mappings=_pod_mappings(), **kw)

    def __enter__(self) -> KubeView:
        asyncio.run(self.view.ready(10))
        return self.view

    def __exit__(self, *exc):
        self.view.close()


def states(view: KubeView) -> set[tuple[str, str, str, int]]:
    return {(p.function, p.node, p.state, p.count) for p in view.placements()}


def reads_of(fake, pod: str) -> int:
    return sum(1 for _, p in list(fake.requests) if p == f"/api/v1/namespaces/{NS}/pods/{pod}:8081/proxy/metrics")


def test_the_gauge_is_read_from_prometheus_text():
    assert in_flight(prometheus_text(3, served=7).decode()) == 3
    assert in_flight(prometheus_text(0, served=7).decode()) == 0
    labelled = 'http_requests_in_flight{handler="a"} 1\nhttp_requests_in_flight{handler="b"} 2.0\n'
    assert in_flight(labelled) == 3
    assert in_flight("http_requests_in_flight_total 9\nhttp_requests_total 4\n") is None  # not the gauge
    assert in_flight("404 page not found\n") is None


def test_a_warm_pod_is_busy_while_its_watchdog_serves_then_warm_again(fake):
    with Running(fake) as view:
        wait_for(lambda: reads_of(fake, "hello-0") >= 1, what="a first metrics read")
        assert states(view) == {("hello", "kn-node-1", "warm", 2), ("hello", "kn-node-2", "warm", 1)}
        fake.set_in_flight(NS, "hello-0", 2)
        wait_for(lambda: ("hello", "kn-node-1", "busy", 1) in states(view), what="hello-0 busy")
        assert states(view) == {
            ("hello", "kn-node-1", "busy", 1),
            ("hello", "kn-node-1", "warm", 1),
            ("hello", "kn-node-2", "warm", 1),
        }
        fake.set_in_flight(NS, "hello-0", 0)
        wait_for(lambda: ("hello", "kn-node-1", "warm", 2) in states(view), what="hello-0 warm again")
        # a busy pod that stops being ready is starting, and busy is forgotten with it
        fake.set_in_flight(NS, "hello-1", 1)
        wait_for(lambda: ("hello", "kn-node-2", "busy", 1) in states(view), what="hello-1 busy")
        fake.update_pod(NS, "hello-1", ready=False)
        wait_for(lambda: ("hello", "kn-node-2", "starting", 1) in states(view), what="hello-1 not ready")
        fake.set_in_flight(NS, "hello-1", 0)
        fake.update_pod(NS, "hello-1", ready=True)
        wait_for(lambda: ("hello", "kn-node-2", "warm", 1) in states(view), what="hello-1 ready")


def test_a_pod_whose_metrics_fail_stays_warm_and_the_others_are_read(fake):
    for pod in ("hello-0", "hello-1"):
        fake.set_in_flight(NS, pod, 5)  # would be busy, were its metrics read
    fake.metrics_fault(NS, "hello-0", "404")
    fake.metrics_fault(NS, "hello-1", "hang")  # no answer: the read times out
    fake.set_in_flight(NS, "hello-2", 1)
    with Running(fake) as view:
        wait_for(lambda: view.inflight.failures >= 4, what="both faulty pods tried twice")
        wait_for(lambda: ("hello", "kn-node-1", "busy", 1) in states(view), what="hello-2 busy")
        assert states(view) == {
            ("hello", "kn-node-1", "warm", 1),  # hello-0: 404
            ("hello", "kn-node-1", "busy", 1),  # hello-2
            ("hello", "kn-node-2", "warm", 1),  # hello-1: timed out
        }
        assert view.problems() == []  # nothing else breaks
        fake.metrics_fault(NS, "hello-0", None)  # it answers again: read on the next round
        wait_for(lambda: ("hello", "kn-node-1", "busy", 2) in states(view), what="hello-0 busy once read")


def test_the_tick_reads_memory_while_the_metrics_reads_run_on_their_own_thread(fake):
    for i in range(3):
        fake.metrics_fault(NS, f"hello-{i}", "hang")
    with Running(fake, inflight_timeout=0.5) as view:
        callers: list[str] = []
        open_ = view.conn.open  # every request of the connection goes through it

        def recorded(*args, **kwargs):
            callers.append(threading.current_thread().name)
            return open_(*args, **kwargs)

        view.conn.open = recorded
        wait_for(lambda: len(callers) >= 3, what="metrics reads under way")
        for _ in range(50):  # ticks while every metrics read hangs
            assert len(view.placements()) == 2
            view.nodes()
        assert threading.current_thread().name not in callers
        # the metrics reads come from their own threads; the view's health probe may call too
        threads = {name.split("_")[0] for name in callers}
        assert "kube-inflight" in threads and threads <= {"kube-inflight", "kube-probe"}, threads


def test_openfaas_and_invokers_snapshots_show_busy(engine, fake):
    fake.set_in_flight(NS, "hello-1", 1)

    async def go(cls):
        async with cls(engine.url, kubeconfig=fake.kc) as b:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                snap = await b.snapshot()
                if any(p.state == "busy" for p in snap.placements):
                    return {(p.function, p.node, p.state, p.count) for p in snap.placements if p.state != "cold"}
                await asyncio.sleep(0.02)
            raise AssertionError("no busy placement")

    for cls in (OpenFaaSBackend, InvokersBackend):
        assert run(go(cls)) == {("hello", "kn-node-1", "warm", 2), ("hello", "kn-node-2", "busy", 1)}
