"""The dashboard on a real-cluster context: the OpenFaaS backend with its kube option, over a
real gateway (a private embedded engine) and the FAKE Kubernetes API server
(tests/fakes/kube_api.py; Kubernetes cannot run here). The snapshot shows the cluster's
nodes with their usage, the placement grid from the function pods (warm, starting, prewarm)
and the cluster's events; the other test stalls the cluster under a running dashboard.

The fake's pods, usage and events are fixed and the clock is frozen, so the SVG is the same
on every run. Update it with ``pytest tests/test_tui_kube.py --snapshot-update``.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from backends.openfaas import OpenFaaSBackend
from faastui.tui.app import Dashboard
from tests.conftest import FUNCTIONS, run
from tests.fakes.kube_api import fake_kube
from tests.test_tui_snapshots import _utc  # noqa: F401 - the same pinned time zone

SIZE = (160, 46)
NOW = 1_700_000_003.0
NS = "openfaas-fn"
DEPLOYED = ("data-processor", "echo", "hello", "sleep")


@pytest.fixture()
def gateway(fresh_engine):
    async def deploy():
        async with fresh_engine.backend() as b:
            for name in DEPLOYED:
                await b.deploy(FUNCTIONS / name)

    run(deploy())
    return fresh_engine


def seed(fake) -> None:
    """A small cluster: 4 nodes (one NotReady), function pods in three states, events."""
    usage = {"kn-node-1": ("2100m", "3Gi"), "kn-node-2": ("900m", "1536Mi"), "kn-node-3": ("300m", "700Mi")}
    for node, (cpu, mem) in usage.items():
        fake.set_usage(node, cpu, mem)
    pods = [
        ("hello-6f9c-a1", "kn-node-1", "hello", {}),
        ("hello-6f9c-b2", "kn-node-1", "hello", {}),
        ("hello-6f9c-c3", "kn-node-2", "hello", {}),
        ("echo-77d4-a1", "kn-node-3", "echo", {"phase": "Pending", "ready": False, "waiting": "ContainerCreating"}),
        ("data-processor-5b-a1", "kn-node-2", "data-processor", {}),
    ]
    for name, node, fn, state in pods:
        fake.add_pod(NS, name, node=node, labels={"faas_function": fn}, **state)
    fake.add_pod(
        NS,
        "sleep-prewarm-kn-node-3-x1",
        node="kn-node-3",
        labels={"prewarm": "true", "function": "sleep-pod", "faas_function": "sleep"},
    )
    fake.add_event(
        "Pod",
        NS,
        "hello-6f9c-c3",
        "Scheduled",
        "Successfully assigned openfaas-fn/hello-6f9c-c3 to kn-node-2",
        component="default-scheduler",
        at=NOW - 42,
    )
    fake.add_event("Pod", NS, "hello-6f9c-c3", "Started", "Started container hello", host="kn-node-2", at=NOW - 40)
    fake.add_event(
        "Pod",
        NS,
        "echo-77d4-a1",
        "Failed",
        'Failed to pull image "ghcr.io/x/echo:2": not found',
        type="Warning",
        host="kn-node-3",
        at=NOW - 20,
    )
    fake.add_event(
        "Node",
        "",
        "kn-node-4",
        "NodeNotReady",
        "Node kn-node-4 status is now: NodeNotReady",
        component="node-controller",
        at=NOW - 10,
    )


def dashboard(url: str, kubeconfig: str, **kw) -> Dashboard:
    return Dashboard(
        lambda: OpenFaaSBackend(url, kubeconfig=kubeconfig, **kw),
        theme="faastui-dark",
        interval=kw.pop("interval", 3600),
        clock=lambda: NOW,
        remember_theme=False,
        context_name="prod-cluster",
    )


def test_dashboard_on_a_cluster(snap_compare, gateway, tmp_path):
    with fake_kube(nodes=3, not_ready_nodes=1) as fake:
        seed(fake)
        kc = str(fake.kubeconfig(tmp_path / "kubeconfig"))

        async def settle(pilot):
            app = pilot.app
            while app.refreshes < 1:
                await pilot.pause(0.05)
            await pilot.pause()

        assert snap_compare(dashboard(gateway.url, kc), terminal_size=SIZE, run_before=settle)


def test_a_stalled_cluster_never_freezes_the_dashboard(gateway, tmp_path):
    """The cluster stops answering under a running dashboard: ticks go on (from memory),
    keys answer, the panes keep their rows and say what is wrong and since when; when the
    cluster answers again the error goes and new pods show."""
    with fake_kube(nodes=3, not_ready_nodes=1) as fake:
        seed(fake)
        kc = str(fake.kubeconfig(tmp_path / "kubeconfig"))

        async def go():
            app = Dashboard(
                lambda: OpenFaaSBackend(gateway.url, kubeconfig=kc, kube_timeout=1, kube_probe=0.2),
                theme="faastui-dark",
                interval=0.25,
                remember_theme=False,
                context_name="prod-cluster",
            )
            async with app.run_test(size=SIZE) as pilot:

                async def until(check, what, timeout=20.0):
                    deadline = time.monotonic() + timeout
                    while not check():
                        assert time.monotonic() < deadline, f"timed out waiting for {what}"
                        await pilot.pause(0.05)

                await until(lambda: app.refreshes >= 1, "the first snapshot")
                nodes = app.panes["nodes"]
                assert len(nodes.table.rows_all) == 4
                fake.stall()
                try:
                    await until(
                        lambda: nodes.error and "did not answer" in nodes.error, "the nodes pane to show the stall"
                    )
                    ticks = app.refreshes
                    await until(lambda: app.refreshes >= ticks + 3, "ticks during the stall")
                    assert len(nodes.table.rows_all) == 4  # the last good data stays
                    assert "data from" in nodes.error
                    assert app.panes["placements"].error is not None
                    await pilot.press("colon")  # keys still answer
                    await until(lambda: app.focused is not None and app.focused.id == "prompt", "the command bar")
                    await pilot.press("escape")
                finally:
                    fake.unstall()
                await until(lambda: nodes.error is None, "the error to clear")
                fake.add_pod(NS, "hello-new", node="kn-node-3", labels={"faas_function": "hello"})
                grid = app.panes["placements"]
                await until(lambda: grid.counts.get("hello", {}).get("kn-node-3"), "the new pod in the grid")

        asyncio.run(go())
