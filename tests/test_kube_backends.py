"""The OpenFaaS, Invokers and Nuclio adapters with a cluster (the kube options), against the
FAKE Kubernetes API server (tests/fakes/kube_api.py; Kubernetes cannot run here) beside a
real gateway (the embedded engine serves the OpenFaaS and Invokers routes) or the fake
Nuclio dashboard (tests/fakes/nuclio_dashboard.py). Real HTTP on loopback, real processes
for the engine and the Nuclio functions; waits have deadlines."""

from __future__ import annotations

import asyncio
import json

import pytest

from backends import registry
from backends.base import Capability
from backends.errors import BackendError, InvalidRequest, NodeNotFound, Unreachable, Unsupported
from backends.invokers import InvokersBackend
from backends.nuclio import NuclioBackend
from backends.openfaas import OpenFaaSBackend
from tests.conftest import cli, run
from tests.fakes.kube_api import fake_kube
from tests.fakes.nuclio_dashboard import running_dashboard
from tests.kube_support import closed_port, unreachable_kubeconfig, wait_for

NS = "openfaas-fn"


@pytest.fixture()
def cluster(tmp_path):
    with fake_kube(nodes=3, not_ready_nodes=1, bookmark_interval=0.2) as fake:
        for i in range(2):
            fake.add_pod(
                NS,
                f"hello-{i}",
                node=f"kn-node-{i + 1}",
                owner="hello-5d8f",
                labels={"faas_function": "hello"},
                image="faastui/hello:latest",
            )
        fake.add_pod(
            NS,
            "echo-0",
            node="kn-node-3",
            labels={"faas_function": "echo"},
            phase="Pending",
            ready=False,
            waiting="ContainerCreating",
        )
        fake.add_event("Pod", NS, "hello-0", "Pulled", "Successfully pulled image", host="kn-node-1")
        fake.set_usage("kn-node-1", "1200m", "3Gi")
        fake.kc = str(fake.kubeconfig(tmp_path / "kubeconfig"))
        yield fake


def using(cls, url, action, **kw):
    async def go():
        async with cls(url, **kw) as b:
            return await action(b)

    return run(go())


def test_without_the_kube_options_the_capabilities_and_behaviour_are_as_before(engine):
    b = OpenFaaSBackend(engine.url)
    assert type(b) is OpenFaaSBackend and b.cluster is None
    assert b.capabilities == OpenFaaSBackend.capabilities
    assert not {Capability.PREWARM, Capability.EVENTS} & set(b.capabilities)
    assert registry.load("openfaas") is OpenFaaSBackend
    snap = using(OpenFaaSBackend, engine.url, lambda b: b.snapshot())
    assert snap.nodes == [] and {p.node for p in snap.placements} == {"cluster"}


def test_openfaas_with_a_cluster_shows_nodes_placement_events_and_cold(engine, cluster):
    b = OpenFaaSBackend(engine.url, kubeconfig=cluster.kc)
    assert type(b) is OpenFaaSBackend  # no class of its own: the instance says what it can
    caps = b.capabilities
    assert {Capability.PREWARM, Capability.NODE_TARGET, Capability.LOGS, Capability.EVENTS} <= set(caps)
    assert Capability.PREWARM not in OpenFaaSBackend.capabilities  # the class is unchanged

    async def go(b):
        return await b.snapshot(), await b.events()

    snap, events = using(OpenFaaSBackend, engine.url, go, kubeconfig=cluster.kc)
    assert [n.name for n in snap.nodes] == ["kn-node-1", "kn-node-2", "kn-node-3", "kn-node-4"]
    assert (snap.nodes[0].used_cpus, snap.nodes[0].used_memory_mb) == (1.2, 3072)
    live = {(p.function, p.node, p.state, p.count) for p in snap.placements if p.state != "cold"}
    assert live == {
        ("hello", "kn-node-1", "warm", 1),
        ("hello", "kn-node-2", "warm", 1),
        ("echo", "kn-node-3", "starting", 1),
    }
    scaled_to_zero = {f.name for f in snap.functions if f.replicas == 0} - {"hello", "echo"}
    assert scaled_to_zero and {p.function for p in snap.placements if p.state == "cold"} == scaled_to_zero
    assert all(p.node == "" and p.count == 0 for p in snap.placements if p.state == "cold")
    assert snap.errors == []
    assert [(e["kind"], e["function"], e["node"], e["reason"]) for e in events] == [
        ("start", "hello", "kn-node-1", "Pulled")
    ]


def test_openfaas_prewarm_on_a_named_node_pins_a_pod_with_a_service(engine, cluster):
    async def go(b):
        warmed = await b.prewarm("hello", "kn-node-2", count=2)
        with pytest.raises(NodeNotFound) as unknown:
            await b.prewarm("hello", "kn-node-9")
        with pytest.raises(BackendError, match="not ready"):
            await b.prewarm("hello", "kn-node-4")
        with pytest.raises(InvalidRequest, match="named node"):
            await b.prewarm("hello", None)
        with pytest.raises(Unsupported):
            await b.invoke("hello", {}, node="kn-node-2")
        for _ in range(300):
            snap = await b.snapshot()
            if ("hello", "kn-node-2", "prewarm", 2) in {
                (p.function, p.node, p.state, p.count) for p in snap.placements
            }:
                break
            await asyncio.sleep(0.02)
        return warmed, unknown.value, snap, await b.logs("hello")

    warmed, unknown, snap, logs = using(OpenFaaSBackend, engine.url, go, kubeconfig=cluster.kc)
    assert [(w.node, w.container_state, w.status) for w in warmed] == [("kn-node-2", "prewarm", "ok")] * 2
    assert all(w.cold_start_ms > 0 for w in warmed)
    assert unknown.hint.startswith("did you mean 'kn-node-")
    assert ("hello", "kn-node-2", "prewarm", 2) in {(p.function, p.node, p.state, p.count) for p in snap.placements}
    pods = [p for p in cluster.store.items("pods", NS) if (p["metadata"].get("labels") or {}).get("prewarm") == "true"]
    assert len(pods) == 2
    pod = pods[0]
    assert pod["metadata"]["labels"]["function"] == "hello-pod"
    assert pod["metadata"]["labels"]["faas_function"] == "hello"
    assert pod["spec"]["nodeName"] == "kn-node-2"
    term = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["kn-node-2"]}
    ]
    assert pod["spec"]["containers"][0]["image"] == "faastui/hello:latest"
    (svc,) = cluster.store.items("services", NS)
    assert svc["metadata"]["name"] == "hello-pod-kn-node-2"
    assert svc["spec"]["selector"]["function"] == "hello-pod"
    assert sum("started on kn-node-2" in line for line in logs) == 2  # each pod's own log


def test_a_prewarm_that_cannot_start_says_why(engine, cluster, tmp_path):
    cluster.missing_images.add("faastui/hello:latest")
    warmed = using(
        OpenFaaSBackend,
        engine.url,
        lambda b: b.prewarm("hello", "kn-node-1"),
        kubeconfig=cluster.kc,
        prewarm_timeout=1.5,
    )
    assert warmed[0].status == "pending" and "Failed to pull image" in warmed[0].error


def test_remove_takes_the_prewarmed_pods_and_services_along(engine, cluster, tmp_path):
    pkg = tmp_path / "kube-tmp"
    pkg.mkdir()
    (pkg / "function.yaml").write_text("name: kube-tmp\nimage: hello\n")

    async def go(b):
        await b.deploy(pkg)
        await b.prewarm("kube-tmp", "kn-node-1")
        await b.remove("kube-tmp")

    using(OpenFaaSBackend, engine.url, go, kubeconfig=cluster.kc)
    wait_for(
        lambda: (
            not [
                p for p in cluster.store.items("pods", NS) if p["metadata"]["labels"].get("function") == "kube-tmp-pod"
            ]
        ),
        what="the prewarmed pod to go",
    )
    assert not cluster.store.items("services", NS)


def test_a_gateway_down_still_shows_the_cluster(cluster):
    snap = using(OpenFaaSBackend, f"http://127.0.0.1:{closed_port()}", lambda b: b.snapshot(), kubeconfig=cluster.kc)
    assert len(snap.nodes) == 4 and [f.name for f in snap.functions] == ["echo", "hello"]
    assert snap.errors[0].startswith("functions: ") and "does not answer" in snap.errors[0]


def test_a_cluster_down_still_shows_the_gateway(engine, cluster, tmp_path):
    kc = unreachable_kubeconfig(cluster, tmp_path)
    snap = using(OpenFaaSBackend, engine.url, lambda b: b.snapshot(), kubeconfig=str(kc), kube_wait=2)
    assert snap.nodes == [] and "hello" in {f.name for f in snap.functions}
    assert snap.errors and snap.errors[0].startswith("nodes: ") and "no data yet" in snap.errors[0]
    with pytest.raises(Unreachable):
        using(OpenFaaSBackend, engine.url, lambda b: b.nodes(), kubeconfig=str(kc), kube_wait=2)


def test_a_bad_kube_context_is_a_usage_error(engine, cluster):
    with pytest.raises(InvalidRequest, match="no kube context"):
        using(OpenFaaSBackend, engine.url, lambda b: b.snapshot(), kubeconfig=cluster.kc, kube_context="nope")


def test_invokers_nodes_from_the_cluster_and_its_prewarm_pods(engine, cluster):
    cluster.add_pod(NS, "echo-pod-kn-node-2", node="kn-node-2", labels={"prewarm": "true", "function": "echo-pod"})
    b = InvokersBackend(engine.url, kubeconfig=cluster.kc)
    assert {Capability.LOGS, Capability.EVENTS} <= set(b.capabilities)
    assert type(b) is InvokersBackend and Capability.EVENTS not in InvokersBackend.capabilities

    async def go(b):
        return await b.nodes(), await b.snapshot()

    nodes, snap = using(InvokersBackend, engine.url, go, kubeconfig=cluster.kc)
    assert [n.name for n in nodes][:1] == ["kn-node-1"]
    assert ("echo", "kn-node-2", "prewarm", 1) in {(p.function, p.node, p.state, p.count) for p in snap.placements}


def test_nuclio_with_a_cluster_has_real_nodes_and_pod_placement(cluster):
    with running_dashboard(build_delay=0.05) as dash:

        async def go(b):
            await b.deploy_source("def handler(context, event):\n    return 'hi'\n", name="nu-a")
            await b.deploy_source("def handler(context, event):\n    return 'hi'\n", name="nu-b")
            cluster.add_pod(
                "nuclio",
                "nuclio-nu-a-7d9",
                node="kn-node-2",
                labels={"nuclio.io/function-name": "nu-a"},
                container="nuclio",
            )
            cluster.set_in_flight("nuclio", "nuclio-nu-a-7d9", 3)  # would be busy, were it read
            for _ in range(300):
                snap = await b.snapshot()
                if any(p.function == "nu-a" for p in snap.placements):
                    break
                await asyncio.sleep(0.02)
            with pytest.raises(Unsupported):
                await b.invoke("nu-a", "x", node="kn-node-2")
            return snap, await b.invoke("nu-a", "x")

        snap, inv = using(NuclioBackend, dash.url, go, kubeconfig=cluster.kc)
    assert [n.name for n in snap.nodes][0] == "kn-node-1" and "nuclio" not in {n.name for n in snap.nodes}
    assert ("nu-a", "kn-node-2", "warm", 1) in {(p.function, p.node, p.state, p.count) for p in snap.placements}
    assert inv.status == "ok" and inv.result == "hi"
    # Nuclio's processor has no in-flight gauge (backends/kube/gauges.py): its pods are never read
    assert not any("/proxy/" in p for _, p in list(cluster.requests))


def test_the_cli_with_a_kube_option(engine, cluster):
    cli("context", "add", "of", "--backend", "openfaas", "--url", engine.url, "-O", f"kubeconfig={cluster.kc}", "--use")
    nodes = json.loads(cli("nodes", "-o", "json").stdout)
    assert [n["name"] for n in nodes] == ["kn-node-1", "kn-node-2", "kn-node-3", "kn-node-4"]
    placed = json.loads(cli("placement", "-o", "json").stdout)
    assert {"function": "echo", "node": "kn-node-3", "state": "starting", "count": 1} in placed
    warmed = json.loads(cli("prewarm", "hello", "--node", "kn-node-3", "-o", "json").stdout)
    assert warmed[0]["node"] == "kn-node-3" and warmed[0]["status"] == "ok"
    assert any("started on kn-node-3" in ln for ln in cli("logs", "hello").stdout.splitlines())
    refused = cli("context", "add", "bad", "--backend", "openfaas", "--url", engine.url, "-O", "kubeconfg=x", code=2)
    assert "kubeconfig" in refused.stderr  # did you mean
