"""Busy Knative pods on a real cluster: each revision pod's queue-proxy autoscaling stats (port
9090, one protobuf ``Stat``; backends/kube/gauges.py has the sources), read through the API
server's pod proxy, against the FAKE Kubernetes API server with Knative (tests/fakes/kube_api.py,
kube_knative.py, kube_podproxy.py: Kubernetes and Knative cannot run here). The fake's
queue-proxy encodes its Stat with its own codec (tests/fakes/protowire.py), never with the
generated code faastui decodes with, and counts the requests its ingress really proxies to
each pod (real processes, real HTTP on loopback). Also: the reads stay within their budget on
many pods, and Nuclio pods are never read. Waits have deadlines."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends.knative import KnativeBackend
from backends.kube import KubeOptions, KubeView, PodMapping
from backends.kube.gauges import queue_proxy_concurrency
from backends.kube.rpc import queue_stat_pb2
from tests.conftest import run
from tests.fakes.kube_podproxy import QueueStat
from tests.kube_support import checked_fake, wait_for

ROOT = Path(__file__).resolve().parents[1]
PROTO = "backends/kube/rpc/queue_stat.proto"
SCHEMA = json.loads((ROOT / "tests" / "data" / "knative_queue_stat_schema.json").read_text())
_TYPES = {1: "double", 3: "int64", 9: "string"}  # FieldDescriptor.type numbers


# ---- the Stat: generated from the .proto, as upstream's, and what the fake's codec writes ---------
def test_the_committed_generated_code_is_what_make_proto_regenerates(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", str(ROOT), f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", str(ROOT / PROTO)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for name in ("queue_stat_pb2.py", "queue_stat_pb2.pyi"):
        fresh = (tmp_path / "backends" / "kube" / "rpc" / name).read_text()
        assert fresh == (ROOT / "backends" / "kube" / "rpc" / name).read_text(), f"{name} is stale: run `make proto`"


def test_the_proto_says_what_upstreams_says():
    desc = queue_stat_pb2.Stat.DESCRIPTOR
    assert desc.full_name == f"{SCHEMA['package']}.{SCHEMA['message']}"
    got = [{"number": f.number, "name": f.name, "type": _TYPES[f.type]} for f in desc.fields]
    assert got == SCHEMA["fields"]


def test_the_concurrency_is_read_from_the_fakes_own_encoding():
    body = QueueStat(pod_name="p-1", average_concurrent_requests=2.5, request_count=7.0, timestamp=1).encode()
    assert queue_proxy_concurrency(body, "application/protobuf") == 2.5
    assert queue_proxy_concurrency(QueueStat(pod_name="p-1").encode(), "application/protobuf") == 0.0
    assert queue_proxy_concurrency(body, "text/plain; version=0.0.4") is None  # not a Stat
    assert queue_proxy_concurrency(b"\x0a\xff\xff", "application/protobuf") is None  # truncated


# ---- a Knative service: busy while its pod serves, through the fake's ingress ---------------------
SLOW = "import time\ndef handle(req):\n    time.sleep(float(req or 0))\n    return 'done'\n"


@pytest.fixture()
def knative(tmp_path):
    with checked_fake(bookmark_interval=0.2) as kube:
        kube.kc = str(kube.kubeconfig(tmp_path / "kubeconfig"))
        yield kube
        procs = kube.processes()
    assert all(p.poll() is not None for p in procs), "harness processes left running"


def cells(snap, fn):
    return {(p.state, p.count) for p in snap.placements if p.function == fn}


def test_a_knative_pod_is_busy_while_it_serves_then_warm_again(knative):
    async def go(b):
        b.kube.view_options.update(inflight_interval=0.05, inflight_timeout=1.0)
        await b.deploy_source(SLOW, name="slow")

        async def until(want):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                snap = await b.snapshot()
                if cells(snap, "slow") == want:
                    return snap
                await asyncio.sleep(0.02)
            raise AssertionError(f"no {want}: {cells(snap, 'slow')}")

        await until({("warm", 1)})
        b.focus(["slow"])  # the dashboard's hint reaches the reader of the started view
        assert b.kube.started_view.inflight.focus == ("slow",)
        call = asyncio.ensure_future(b.invoke("slow", "2"))
        busy = await until({("busy", 1)})
        inv = await call
        warm = await until({("warm", 1)})  # a second after the request ended
        return busy, inv, warm, b.kube.started_view

    busy, inv, warm, view = run(with_knative(knative, go))
    assert inv.result == "done"
    pod = next(r.name for r in view.pods_of("slow"))
    paths = {p for _, p in list(knative.requests)}
    assert f"/api/v1/namespaces/default/pods/{pod}:9090/proxy/metrics" in paths  # queue-proxy's port
    assert not any(":8081/proxy" in p for p in paths)  # never the watchdog's
    assert view.inflight.failures == 0 and busy.errors == warm.errors == []


async def with_knative(fake, go):
    async with KnativeBackend(fake.ingress_url, kubeconfig=fake.kc) as b:
        return await go(b)


def test_a_knative_pod_whose_stats_fail_stays_warm(knative):
    async def go(b):
        b.kube.view_options.update(inflight_interval=0.05, inflight_timeout=0.3)
        await b.deploy_source(SLOW, name="held")
        await b.scale("held", 2)
        view = await b.kube.view()
        await view.ready(10)
        pods = wait_for(lambda: [r.name for r in view.pods_of("held") if r.state in ("warm", "busy")][1:] and
                        sorted(r.name for r in view.pods_of("held")), what="two warm pods")  # fmt: skip
        for pod in pods:
            knative.set_in_flight("default", pod, 1)  # serving, as its queue-proxy reports
        knative.metrics_fault("default", pods[0], "404")
        wait_for(lambda: view.inflight.failures >= 2, what="the faulty pod tried twice")
        wait_for(lambda: ("held", "busy") in {(p.function, p.state) for p in view.placements()}, what="busy")
        states = {r.name: r.state for r in view.pods_of("held")}
        knative.metrics_fault("default", pods[0], None)
        wait_for(lambda: all(r.state == "busy" for r in view.pods_of("held")), what="both busy once read")
        return states, pods

    states, pods = run(with_knative(knative, go))
    assert states == {pods[0]: "warm", pods[1]: "busy"}


# ---- the budget: many warm pods, few reads a round, busy pods first --------------------------------
def test_reads_stay_within_the_budget_busy_pods_first_and_every_pod_in_turn(tmp_path):
    ns = "openfaas-fn"
    with checked_fake(nodes=2, not_ready_nodes=0, bookmark_interval=0.2) as fake:
        for i in range(30):
            fake.add_pod(ns, f"many-{i:02d}", node="kn-node-1", labels={"faas_function": "many"})
        fake.set_in_flight(ns, "many-00", 1)
        view = KubeView(
            KubeOptions(kubeconfig=str(fake.kubeconfig(tmp_path / "kc"))),
            mappings=(PodMapping("faas_function", metrics_port=8081),),
            inflight_interval=0.1,
            inflight_rate=50,  # 5 reads a round
            inflight_cpu=1.0,  # (not the CPU's limit)
            probe_interval=0.5,
        )
        try:
            asyncio.run(view.ready(10))
            reader = view.inflight
            assert reader.budget == 5
            read_at = {}

            def all_read():
                read_at.update(reader.read_at)
                return len(read_at) == 30

            wait_for(all_read, what="every pod read once")
            rounds = reader.rounds
            wait_for(lambda: reader.rounds >= rounds + 5, what="five more rounds")
            fake.set_in_flight(ns, "many-00", 0)
            wait_for(lambda: ("many", "kn-node-1", "warm", 30) in
                     {(p.function, p.node, p.state, p.count) for p in view.placements()}, what="warm")  # fmt: skip
            proxied = [p for _, p in list(fake.requests) if "/proxy/" in p]
            total_rounds = reader.rounds
        finally:
            view.close()
    assert len(proxied) <= 5 * (total_rounds + 1)  # never more than the budget a round
    first = proxied.count(f"/api/v1/namespaces/{ns}/pods/many-00:8081/proxy/metrics")
    others = max(proxied.count(f"/api/v1/namespaces/{ns}/pods/many-{i:02d}:8081/proxy/metrics") for i in range(1, 30))
    assert first > others  # the busy pod was read every round, ahead of the others
    assert reader.cycles >= 1  # the round robin came round


def test_without_the_protobuf_runtime_knative_pods_are_not_read_and_stay_warm(tmp_path):
    with checked_fake(nodes=1, not_ready_nodes=0, bookmark_interval=0.2) as fake:
        for i in range(2):
            fake.add_pod("default", f"kn-{i}", node="kn-node-1", labels={"serving.knative.dev/service": "kn"},
                         container="queue-proxy")  # fmt: skip
            fake.set_in_flight("default", f"kn-{i}", 1)
        mapping = PodMapping("serving.knative.dev/service", metrics_port=9090, metrics_gauge="queue-proxy")
        view = KubeView(KubeOptions(kubeconfig=str(fake.kubeconfig(tmp_path / "kc"))), mappings=(mapping,),
                        inflight_interval=0.05, probe_interval=0.5)  # fmt: skip
        view.inflight.unreadable = {"queue-proxy"}  # what a process without ``protobuf`` has
        try:
            asyncio.run(view.ready(10))
            rounds = view.inflight.rounds
            wait_for(lambda: view.inflight.rounds >= rounds + 3, what="three rounds")
            placed = {(p.function, p.state, p.count) for p in view.placements()}
        finally:
            view.close()
        assert placed == {("kn", "warm", 2)}
        assert not any("/proxy/" in p for _, p in list(fake.requests))
