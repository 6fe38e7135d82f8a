"""The workflow on a cluster, as the seed runs it on OpenFaaS: here on the FAKE Knative
(tests/fakes/kube_api.py), the FAKE Nuclio dashboard (tests/fakes/nuclio_dashboard.py)
and the FAKE OpenFaaS gateway (tests/fakes/openfaas_gateway.py, from OpenFaaS's OpenAPI
spec), which cannot run for real here; all run every deployed function as a real
process on loopback, and those processes talk to this test's real redis-server. On
OpenFaaS the functions run the image given with ``--worker-image``: the fake's image is
the handler ``python -m backends.workflow.bundle worker`` writes, as a user builds it.

`faastui workflow start --redis-url` deploys the emitter, the collector and one function
per worker (``worker-1..N``, handler source: no image), `faastui scale worker +2` and `-1`
change the pool from another "shell" (a worker that ACKed has its function removed, as
the seed's scaler does), and every task is collected exactly once.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import pytest
import redis

from backends.local.redis_server import RedisServer
from tests.conftest import ROOT, cli
from tests.fakes.kube_api import fake_kube
from tests.fakes.nuclio_dashboard import running_dashboard
from tests.fakes.openfaas_gateway import running_gateway

IMAGE = "registry.example/faastui-workflow:test"


def wait_for(what, check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {status()} {sorted(functions())}")


@contextlib.contextmanager
def platform(name, tmp_path, monkeypatch):
    """A fake cluster and a faastui context on it; yields a function lister."""
    if name == "knative":
        with fake_kube() as kube:
            monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig(tmp_path / "kubeconfig")))
            cli(
                "context",
                "add",
                "cluster",
                "--backend",
                "knative",
                "--url",
                kube.ingress_url,
                "--kube-context",
                "fake",
                "--use",
            )
            yield kube
            procs = kube.processes()
        assert all(p.poll() is not None for p in procs)
    elif name == "openfaas":
        image = tmp_path / "image"  # the workflow's image, built as the README says
        image.mkdir()
        with open(image / "handler.py", "wb") as f:
            subprocess.run([sys.executable, "-m", "backends.workflow.bundle", "worker"], stdout=f, check=True, cwd=ROOT)
        with running_gateway({IMAGE: image}) as gateway:
            cli("context", "add", "cluster", "--backend", "openfaas", "--url", gateway.url, "--use")
            yield gateway
    else:
        with running_dashboard(build_delay=0.05) as dashboard:
            cli("context", "add", "cluster", "--backend", "nuclio", "--url", dashboard.url, "--use")
            yield dashboard


def functions() -> set[str]:
    return {f["name"] for f in json.loads(cli("functions", "-o", "json").stdout)}


def status() -> dict:
    return json.loads(cli("workflow", "status", "-o", "json").stdout)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ["knative", "nuclio", "openfaas"])
def test_the_workflow_on_a_cluster_scales_and_loses_nothing(name, tmp_path, monkeypatch):
    with RedisServer(tmp_path / "redis") as srv, platform(name, tmp_path, monkeypatch) as plat:
        r = redis.Redis.from_url(srv.url)
        image = ["--worker-image", IMAGE] if name == "openfaas" else []
        started = json.loads(
            cli(
                "workflow",
                "start",
                "--redis-url",
                srv.url,
                "--workers",
                "2",
                "--tasks",
                "100",
                "--rate",
                "10",
                "--duration-ms",
                "40",
                *image,
                "--serve",
                "--wait",
                "120",
                "--launch-timeout",  # a loaded machine's fake cluster may be slow; no relaunch
                "90",
                "-o",
                "json",
            ).stdout
        )
        try:
            wait_for("2 workers", lambda: status()["workers"] == 2)
            assert {"emitter", "collector", "worker-1", "worker-2"} <= functions()
            if name == "openfaas":  # deployed from the image, each replica a live process
                assert {f.deployment["image"] for f in plat.functions.values()} == {IMAGE}
                assert all(p.proc.poll() is None for f in plat.functions.values() for p in f.pods)

            assert json.loads(cli("scale", "worker", "+2", "-o", "json").stdout)["replicas"] == 4
            wait_for("4 workers", lambda: status()["workers"] == 4)
            assert {"worker-3", "worker-4"} <= functions()

            assert json.loads(cli("scale", "worker", "-1", "-o", "json").stdout)["replicas"] == 3
            wait_for("3 workers", lambda: (s := status())["workers"] == 3 and not s["stopping"])
            # the worker that ACKed is gone with its function, as the seed's scaler removes it
            wait_for("its function removed", lambda: len({f for f in functions() if f.startswith("worker-")}) == 3)

            wait_for("100 tasks collected", lambda: status()["completed"] == 100, timeout=90)
            assert status()["workers"] == 3  # no replacement for the worker that left
        finally:
            cli("workflow", "stop", "--wait", "60")
        wait_for("the run to end", lambda: status()["state"] == "stopped", timeout=60)
        wait_for(
            "the functions removed",
            lambda: not {f for f in functions() if f in ("emitter", "collector") or f.startswith("worker-")},
        )
        outputs = [json.loads(x) for x in r.lrange("output_queue", 0, -1)]
        assert len(outputs) == 100 == int(r.get("worker_queue:enqueued_total"))
        assert len({o["task_id"] for o in outputs}) == 100
        starts = {json.loads(x)["pod_name"] for x in r.lrange("worker_start_queue", 0, -1)}
        assert starts == {"worker-1", "worker-2", "worker-3", "worker-4"}
        r.close()
        assert started["redis_url"] == srv.url
