"""The shared Kubernetes view (backends/kube/) against the FAKE Kubernetes API server
(tests/fakes/kube_api.py: Kubernetes cannot run here; the fake is strict and shares no code
with the view). Real HTTP on loopback, real threads; waits have deadlines, never sleeps."""

from __future__ import annotations

import asyncio
import time

import pytest

from backends.errors import BackendError, InvalidRequest, Unreachable
from backends.kube import KubeOptions, KubeView, PodMapping
from backends.kube.informer import Informer
from tests.fakes.kube_api import fake_kube
from tests.kube_support import checked_fake, unreachable_kubeconfig, wait_for

FAAS = (
    PodMapping("function", require=(("prewarm", "true"),), suffix="-pod", ready_state="prewarm"),
    PodMapping("faas_function"),
)


@pytest.fixture()
def fake():
    with checked_fake(nodes=3, not_ready_nodes=1, bookmark_interval=0.2) as kube:
        yield kube


@pytest.fixture()
def kubeconfig(fake, tmp_path):
    return str(fake.kubeconfig(tmp_path / "kubeconfig"))


class Running:
    """A started view (its threads stopped at the end)."""

    def __init__(self, kubeconfig, **kw):
        kw.setdefault("mappings", FAAS)
        kw.setdefault("probe_interval", 0.2)
        self.view = KubeView(KubeOptions(kubeconfig=kubeconfig, timeout=kw.pop("timeout", 10.0)), **kw)

    def __enter__(self) -> KubeView:
        asyncio.run(self.view.ready(10))
        return self.view

    def __exit__(self, *exc):
        self.view.close()


def seed(fake):
    for i in range(4):
        fake.add_pod(
            "openfaas-fn",
            f"hello-{i}",
            node=f"kn-node-{i % 2 + 1}",
            labels={"faas_function": "hello"},
            requests={"cpu": "250m", "memory": "128Mi"},
        )
    fake.add_pod(
        "openfaas-fn",
        "echo-0",
        node="kn-node-3",
        labels={"faas_function": "echo"},
        phase="Pending",
        ready=False,
        waiting="ContainerCreating",
    )
    fake.add_pod(
        "openfaas-fn",
        "echo-prewarm",
        node="kn-node-2",
        labels={"prewarm": "true", "function": "echo-pod", "faas_function": "echo"},
    )
    fake.add_pod("kube-system", "coredns", node="kn-node-1", labels={"k8s-app": "kube-dns"})


def test_first_state_nodes_usage_and_placements(fake, kubeconfig):
    seed(fake)
    fake.set_usage("kn-node-1", "1500m", "2Gi")
    with Running(kubeconfig) as view:
        assert view.synced()
        nodes = view.nodes()
        placements = view.placements()
    assert [n.name for n in nodes] == ["kn-node-1", "kn-node-2", "kn-node-3", "kn-node-4"]
    first = nodes[0]
    assert (first.cpus, first.memory_mb, first.max_containers) == (3.8, 7168, 110)
    assert (first.used_cpus, first.used_memory_mb) == (1.5, 2048)  # metrics.k8s.io
    assert first.containers == 3  # two hello pods and coredns: every pod of the cluster
    assert [n.ready for n in nodes] == [True, True, True, False]
    assert [(p.function, p.node, p.state, p.count) for p in placements] == [
        ("echo", "kn-node-2", "prewarm", 1),
        ("echo", "kn-node-3", "starting", 1),
        ("hello", "kn-node-1", "warm", 2),
        ("hello", "kn-node-2", "warm", 2),
    ]


def test_without_metrics_usage_is_the_pods_requests(tmp_path):
    with fake_kube(nodes=2, metrics=False) as fake:
        seed(fake)
        kc = str(fake.kubeconfig(tmp_path / "kc"))
        with Running(kc, namespace="openfaas-fn") as view:
            node = view.nodes()[0]
            assert view.metrics_state == "absent"
    assert (node.used_cpus, node.used_memory_mb, node.containers) == (0.5, 256, 2)


def test_changes_arrive_through_the_watch_without_listing_again(fake, kubeconfig):
    seed(fake)
    with Running(kubeconfig) as view:
        fake.update_pod("openfaas-fn", "echo-0", phase="Running", ready=True)
        fake.store.delete("pods", "openfaas-fn", "hello-3")
        fake.add_pod("openfaas-fn", "hello-9", node="kn-node-3", labels={"faas_function": "hello"})
        fake.set_node_ready("kn-node-4", True)
        want = {
            ("echo", "kn-node-3", "warm", 1),
            ("hello", "kn-node-1", "warm", 2),
            ("hello", "kn-node-2", "warm", 1),
            ("hello", "kn-node-3", "warm", 1),
        }
        wait_for(
            lambda: want <= {(p.function, p.node, p.state, p.count) for p in view.placements()},
            what="the watched changes",
        )
        wait_for(lambda: view.nodes()[3].ready, what="the node update")
        stats = view.stats()
    assert stats["pods"]["lists"] == 1 and stats["nodes"]["lists"] == 1
    assert stats["pods"]["events"] >= 3


def test_bookmarks_let_a_watch_resume_after_the_history_is_compacted(fake, kubeconfig):
    """The view watches function pods only; other pods' changes move the cluster's version
    on. Bookmarks carry the new version to the view, so when its watch is cut after the
    history was compacted, it resumes from there: no 410, no second list."""
    seed(fake)
    with Running(kubeconfig, pod_selector="faas_function") as view:
        informer = view.informers["pods"]
        before = informer.bookmarks
        for i in range(20):
            fake.add_pod("web", f"web-{i}", node="kn-node-1", labels={"app": "web"})
        wait_for(lambda: informer.bookmarks >= before + 2, what="bookmarks after the changes")
        fake.compact()
        fake.break_watches()
        fake.add_pod("openfaas-fn", "late", node="kn-node-3", labels={"faas_function": "late"})
        wait_for(lambda: any(p.function == "late" for p in view.placements()), what="the pod made after the reconnect")
        stats = view.stats()["pods"]
    assert stats["expired"] == 0 and stats["lists"] == 1 and stats["bookmarks"] > before


def test_a_410_after_a_gap_means_a_fresh_list_with_everything_missed(fake, kubeconfig):
    seed(fake)
    with Running(kubeconfig) as view:
        fake.stall()  # the watch goes silent: the view misses what comes next
        fake.add_pod("openfaas-fn", "missed", node="kn-node-1", labels={"faas_function": "missed"})
        fake.store.delete("pods", "openfaas-fn", "hello-0")
        fake.compact()
        fake.unstall()
        fake.break_watches()
        wait_for(lambda: view.stats()["pods"]["expired"] >= 1, what="the 410")
        wait_for(lambda: any(p.function == "missed" for p in view.placements()), what="the re-list")
        hello = {p.node: p.count for p in view.placements() if p.function == "hello"}
        stats = view.stats()["pods"]
    assert hello == {"kn-node-1": 1, "kn-node-2": 2} and stats["lists"] >= 2


def test_a_stalled_cluster_keeps_the_last_data_with_its_age_and_recovers(fake, kubeconfig):
    seed(fake)
    with Running(kubeconfig, timeout=1.0) as view:
        before = view.placements()
        fake.stall()
        try:
            problems = wait_for(view.problems, what="the view to notice the stall")
            # reads still answer from memory while the server says nothing
            assert view.placements() == before and len(view.nodes()) == 4
            assert any(p.startswith("nodes: ") and "did not answer" in p and "data from" in p for p in problems), (
                problems
            )
            assert any(p.startswith("placements: ") for p in problems)
        finally:
            fake.unstall()
        wait_for(lambda: not view.problems(), what="the view to recover")
        fake.add_pod("openfaas-fn", "after", node="kn-node-1", labels={"faas_function": "after"})
        wait_for(lambda: any(p.function == "after" for p in view.placements()), what="changes after the recovery")


def test_an_unreachable_cluster_fails_fast_and_never_blocks_a_read(tmp_path, fake):
    kc = unreachable_kubeconfig(fake, tmp_path)
    view = KubeView(KubeOptions(kubeconfig=str(kc)), mappings=FAAS, probe_interval=0.2)
    try:
        assert asyncio.run(view.ready(10)) is False
        err = view.first_error()
        assert isinstance(err, Unreachable) and "does not answer" in err.message
        assert view.nodes() == [] and view.placements() == []
        assert all("no data yet" in p for p in view.problems())
    finally:
        view.close()


def test_a_bad_kubeconfig_or_context_is_a_usage_error(fake, tmp_path):
    kc = str(fake.kubeconfig(tmp_path / "kc", context="team"))
    with pytest.raises(InvalidRequest, match="no kube context"):
        KubeView(KubeOptions(kubeconfig=kc, context="nope")).start()
    with pytest.raises(InvalidRequest, match="kubeconfig"):
        KubeView(KubeOptions(kubeconfig=str(tmp_path / "missing"))).start()


def test_events_name_the_function_and_node_and_only_ours(fake, kubeconfig):
    seed(fake)
    fake.add_event(
        "Pod", "openfaas-fn", "hello-0", "Pulled", "Successfully pulled image", host="kn-node-1", at=1_700_000_000
    )
    fake.add_event("Pod", "kube-system", "coredns", "Pulled", "not a function's pod", at=1_700_000_000)
    with Running(kubeconfig) as view:
        first = view.events()
        fake.add_event(
            "Pod", "openfaas-fn", "echo-0", "Failed", 'Failed to pull image "x"', type="Warning", host="kn-node-3"
        )
        fake.add_event("Pod", "openfaas-fn", "echo-0", "BackOff", 'Back-off pulling image "x"', host="kn-node-3")
        fake.set_node_ready("kn-node-2", False)
        later = wait_for(
            lambda: (lambda e: e if len(e) >= 3 else None)(view.events(first[-1]["t"])), what="the new events"
        )
        # an event that comes late (its time before what was read) is still handed out next
        fake.add_event(
            "Pod", "openfaas-fn", "hello-1", "Killing", "Stopping container", host="kn-node-2", at=1_600_000_000
        )
        late = wait_for(lambda: view.events(later[-1]["t"]), what="the late event")
    assert [(e["kind"], e["function"], e["node"], e["reason"]) for e in first] == [
        ("start", "hello", "kn-node-1", "Pulled")
    ]
    assert first[0]["pod"] == "hello-0" and first[0]["message"] == "Successfully pulled image"
    kinds = [(e["kind"], e.get("function"), e.get("node") or e.get("unit"), e["reason"]) for e in later]
    assert kinds == [
        ("error", "echo", "kn-node-3", "Failed"),
        ("kube", "echo", "kn-node-3", "BackOff"),
        ("node", None, "kn-node-2", "NodeNotReady"),
    ]
    assert later[2] == {
        "t": later[2]["t"],
        "kind": "node",
        "unit": "kn-node-2",
        "reason": "NodeNotReady",
        "message": "Node kn-node-2 status is now: NodeNotReady",
    }
    times = [e["t"] for e in first + later + late]
    assert times == sorted(times) and late[0]["t"] > later[-1]["t"]
    assert [(e["kind"], e["reason"]) for e in late] == [("stop", "Killing")]


def test_logs_of_a_functions_pods(fake, kubeconfig):
    pod = {
        "metadata": {"name": "logger", "labels": {"faas_function": "logger"}},
        "spec": {"containers": [{"name": "logger", "image": "ghcr.io/x/logger:1"}]},
    }
    with Running(kubeconfig) as view:
        asyncio.run(view.call("POST", "/api/v1/namespaces/openfaas-fn/pods", "create", body=pod))
        wait_for(
            lambda: any(p.function == "logger" and p.state == "warm" for p in view.placements()), what="the pod to run"
        )
        lines = asyncio.run(view.logs("logger", 10, ("logger",)))
    assert lines == ["logger started on kn-node-1"]


def test_a_forbidden_cluster_scope_falls_back_to_the_namespace(tmp_path):
    with fake_kube(forbid_cluster_pods=True) as fake:
        seed(fake)
        kc = str(fake.kubeconfig(tmp_path / "kc", namespace="openfaas-fn"))
        with Running(kc) as view:
            placements = view.placements()
            problems = view.problems()
    assert {p.function for p in placements} == {"hello", "echo"}
    assert problems == ["placements: pods seen in namespace openfaas-fn only (listing all namespaces is forbidden)"]


def test_in_cluster_with_the_service_account_over_tls(tmp_path, monkeypatch):
    with fake_kube(tls=True) as fake:
        seed(fake)
        env = fake.service_account(tmp_path / "sa", namespace="openfaas-fn")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        view = KubeView(
            KubeOptions(in_cluster=True, service_account=str(tmp_path / "sa")), mappings=FAAS, probe_interval=0.2
        )
        try:
            assert asyncio.run(view.ready(10))
            assert view.conn.server.startswith("https://127.0.0.1:")
            assert view.conn.namespace == "openfaas-fn"
            assert any(p.function == "hello" for p in view.placements())
        finally:
            view.close()


def test_backoff_doubles_with_jitter_up_to_the_cap(fake, kubeconfig):
    informer = Informer(None, "/api/v1/pods", None, what="pods", backoff_max=3.0)
    informer._stopping.set()  # _failed returns at once instead of waiting
    delays = []
    for failures in range(1, 8):
        informer._failed(BackendError("no"), failures)
        delays.append(informer.retry_at - time.monotonic())
    for failures, delay in zip(range(1, 8), delays):
        top = min(3.0, 0.2 * 2 ** (failures - 1))
        assert 0.5 * top - 0.05 <= delay <= top + 0.01
    assert delays[-1] > delays[0] * 4
