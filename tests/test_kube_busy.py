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
            b.focus(["hello"])  # the dashboard's hint reaches the reader
            assert b.cluster.view.inflight.focus == ("hello",)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                snap = await b.snapshot()
                if any(p.state == "busy" for p in snap.placements):
                    return {(p.function, p.node, p.state, p.count) for p in snap.placements if p.state != "cold"}
                await asyncio.sleep(0.02)
            raise AssertionError("no busy placement")

    for cls in (OpenFaaSBackend, InvokersBackend):
        assert run(go(cls)) == {("hello", "kn-node-1", "warm", 2), ("hello", "kn-node-2", "busy", 1)}


def _pod(name: str, ready: bool = True) -> dict:
    return {
        "metadata": {"namespace": NS, "name": name, "labels": {"faas_function": "hello"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "hello"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_the_index_keeps_the_gauged_pods_in_order_and_says_which_are_new():
    from backends.kube.indexes import PodIndex

    idx = PodIndex(threading.RLock(), _pod_mappings())
    idx.reset([idx.reduce(_pod(f"p{i}")) for i in range(3)])
    assert list(idx.gauged) == [(NS, "p0"), (NS, "p1"), (NS, "p2")] and idx.fresh == set(idx.gauged)
    idx.fresh.clear()  # what the reader does when it takes them
    idx.apply(True, idx.reduce(_pod("p0")))  # an update of a warm pod: it keeps its place
    idx.set_busy(NS, "p1", True)  # busy is still gauged, in place
    assert list(idx.gauged) == [(NS, "p0"), (NS, "p1"), (NS, "p2")] and not idx.fresh
    idx.apply(True, idx.reduce(_pod("p0", ready=False)))  # starting: not read
    idx.apply(False, idx.reduce(_pod("p2")))  # gone
    idx.apply(True, idx.reduce(_pod("p3")))
    assert list(idx.gauged) == [(NS, "p1"), (NS, "p3")] and idx.fresh == {(NS, "p3")}
    idx.apply(True, idx.reduce(_pod("p0")))  # ready again: at the end, and new
    idx.reset([idx.reduce(_pod(n)) for n in ("p3", "p1", "p0")])  # a re-list keeps the order
    assert list(idx.gauged) == [(NS, "p1"), (NS, "p3"), (NS, "p0")] and idx.fresh == {(NS, "p3"), (NS, "p0")}


def test_the_credentials_headers_are_reused_briefly_and_dropped_after_a_401(fake, tmp_path, monkeypatch):
    from backends.errors import AuthError
    from backends.kube.connect import Connection

    conn = Connection(KubeOptions(kubeconfig=fake.kc))
    try:
        conn.request("GET", "/version", "read the version")
        calls = []
        settings = conn._conf.auth_settings
        monkeypatch.setattr(conn._conf, "auth_settings", lambda: calls.append(1) or settings())
        conn._auth = (time.monotonic(), conn._auth[1])
        for _ in range(5):
            conn.request("GET", "/version", "read the version")
        assert calls == []  # within AUTH_TTL: the same headers
        conn._auth = (time.monotonic(), {"Authorization": "Bearer wrong"})  # as if it had expired
        with pytest.raises(AuthError):
            conn.request("GET", "/version", "read the version")
        conn.request("GET", "/version", "read the version")  # asked the client afresh
        assert calls == [1]
    finally:
        conn.close()


def _fn_pod(fn: str, i: int) -> dict:
    pod = _pod(f"{fn}-{i}")
    pod["metadata"]["labels"] = {"faas_function": fn}
    return pod


def test_a_round_reads_busy_pods_then_their_siblings_then_the_rest_in_turn_and_never_starves_them():
    from backends.kube.indexes import PodIndex
    from backends.kube.inflight import InflightReader

    idx = PodIndex(threading.RLock(), _pod_mappings())
    idx.reset([idx.reduce(_fn_pod(fn, i)) for fn in ("a", "b", "c") for i in range(6)])
    reader = InflightReader(None, idx, threading.Event(), interval=1.0, rate=4.0, cpu=1.0)  # 4 reads a round
    idx.fresh.clear()
    for n, key in enumerate(idx.gauged):
        reader.read_at[key] = n / 100  # all read once, a-0 first
    idx.set_busy(NS, "b-3", True)
    picks = [name for _, name, _, _ in reader.due(10.0)]
    assert picks[0] == "b-3" and picks[1] == "b-0"  # the busy pod, then its longest-unread sibling
    assert len(picks) == 4 and picks[2:] == ["a-0", "a-1"]  # then the others in turn
    for name in picks:  # what the reads record
        reader.read_at[NS, name] = 10.0
    assert [name for _, name, _, _ in reader.due(11.5)][1:] == ["b-1", "a-2", "a-3"]  # the turn goes on
    # every pod busy: the budget still holds, each pod once
    for fn in "abc":
        for i in range(6):
            idx.set_busy(NS, f"{fn}-{i}", True)
    picks = [name for _, name, _, _ in reader.due(13.0)]
    assert len(picks) == 4 and len(set(picks)) == 4
    idx.apply(True, idx.reduce(_fn_pod("d", 0)))  # a new pod is read ahead of the turn
    assert "d-0" in [name for _, name, _, _ in reader.due(14.5)]


def test_the_budget_is_the_rate_or_what_the_cpu_allows_whichever_is_less():
    from backends.kube.indexes import PodIndex
    from backends.kube.inflight import InflightReader

    reader = InflightReader(None, PodIndex(threading.RLock()), threading.Event(), interval=2.0, rate=5.0, cpu=0.003)
    reader.read_cpu = 0.0002  # cheap reads: the rate decides
    assert reader.budget == 10
    reader.read_cpu = 0.002  # 2 ms a read: 3 ms a second allows 3 a round
    assert reader.budget == 3
    reader.read_cpu = 1.0  # however dear, one a round
    assert reader.budget == 1


def test_a_round_reads_the_pods_of_the_functions_on_screen_before_the_turn():
    from backends.kube.indexes import PodIndex
    from backends.kube.inflight import InflightReader

    idx = PodIndex(threading.RLock(), _pod_mappings())
    idx.reset([idx.reduce(_fn_pod(fn, i)) for fn in ("a", "b", "c") for i in range(6)])
    reader = InflightReader(None, idx, threading.Event(), interval=1.0, rate=8.0, cpu=1.0)  # 8 reads a round
    idx.fresh.clear()
    for n, key in enumerate(idx.gauged):
        reader.read_at[key] = n / 100  # all read once, a-0 first
    reader.set_focus(["c", "nowhere", "c"])
    picks = [name for _, name, _, _ in reader.due(10.0)]
    assert picks[:2] == ["c-0", "c-1"]  # a quarter of the budget on the shown function, longest unread first
    assert picks[2:] == ["a-0", "a-1", "a-2", "a-3", "a-4", "a-5"]  # the turn goes on with the rest
    for name in picks:
        reader.read_at[NS, name] = 10.0
    picks = [name for _, name, _, _ in reader.due(11.5)]
    assert picks == ["c-2", "c-3", "b-0", "b-1", "b-2", "b-3", "b-4", "b-5"]  # the next of theirs, then the turn
    for name in picks:
        reader.read_at[NS, name] = 11.5
    reader.set_focus(["a"])  # scrolled: other rows on screen
    picks = [name for _, name, _, _ in reader.due(13.0)]
    assert picks[:2] == ["a-0", "a-1"] and picks[2:4] == ["c-0", "c-1"]
