"""The Knative adapter against a FAKE Kubernetes API + Knative controller
(tests/fakes/kube_api.py: Kubernetes and Knative cannot run here). The fake is strict
about the API conventions and runs each ksvc's container for real, so every deployed
handler answers through real HTTP, via the fake's ingress (routing by Host)."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from backends import registry
from backends.agent import HARNESS
from backends.base import Capability
from backends.errors import (
    AuthError,
    BackendError,
    Conflict,
    FunctionNotFound,
    InvalidRequest,
    NotFound,
    Unreachable,
    Unsupported,
)
from backends.knative import KnativeBackend
from tests.conftest import cli, run
from tests.fakes.kube_api import fake_kube

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {  # the four entry signatures, as in test_agent.py
    "classic": ("def handle(req):\n    return {'got': req}\n", {"a": 1}, {"got": '{"a": 1}'}),
    "http": (
        "def handle(event, context):\n"
        "    body = {'len': len(event.body), 'path': event.path}\n"
        "    return {'statusCode': 201, 'body': body}\n",
        "12345",
        {"len": 5, "path": "/"},
    ),
    "iluvatar": (
        "def main(args):\n    return {'hello': args.get('name', 'world')}\n",
        {"name": "ada"},
        {"hello": "ada"},
    ),
    "nuclio": ("def handler(context, event):\n    return 'nuclio:' + event.body.decode()\n", "x", "nuclio:x"),
}


@pytest.fixture(scope="module")
def fake():
    threads_before = set(threading.enumerate())
    with fake_kube() as kube:
        yield kube
        procs = kube.processes()
    assert all(p.poll() is not None for p in procs), "harness processes left running"
    assert not kube.processes()
    left = [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert not left, left


@pytest.fixture()
def kubeconfig(fake, tmp_path):
    return fake.kubeconfig(tmp_path / "kubeconfig")


def with_backend(fake, kubeconfig, coro_fn, **kw):
    async def go():
        async with KnativeBackend(kw.pop("url", fake.ingress_url), kubeconfig=str(kubeconfig), **kw) as b:
            return await coro_fn(b)

    return run(go())


def ksvc(fake, name, ns="default") -> dict:
    with fake.lock:
        return json.loads(json.dumps(fake.ksvcs[ns, name]))


def test_registry_and_capabilities():
    assert registry.load("knative") is KnativeBackend
    caps = KnativeBackend.capabilities
    for cap in (
        Capability.INVOKE,
        Capability.SCALE,
        Capability.DEPLOY,
        Capability.DEPLOY_SOURCE,
        Capability.PREWARM,
        Capability.LOGS,
    ):
        assert cap in caps
    assert Capability.DISPATCH not in caps and Capability.FUSE not in caps


def test_importing_the_adapter_imports_neither_kubernetes_nor_httpx():
    code = (
        "import sys, backends.knative\nprint(sorted({'kubernetes', 'httpx'} & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "[]", out.stderr


def test_deploy_source_then_invoke_every_signature(fake, kubeconfig):
    async def go(b):
        out = {}
        for kind, (source, payload, _) in SOURCES.items():
            fn = await b.deploy_source(source, name=f"sig-{kind}")
            out[kind] = (fn, await b.invoke(f"sig-{kind}", payload))
        return out

    out = with_backend(fake, kubeconfig, go)
    for kind, (fn, inv) in out.items():
        assert inv.status == "ok", inv
        assert inv.result == SOURCES[kind][2] and inv.duration_ms > 0
        assert fn.available_replicas == 1 and fn.labels["knative/ready"] == "True"
        assert fn.runtime == "python" and fn.image == "python:3.11-slim"
    obj = ksvc(fake, "sig-classic")
    assert obj["metadata"]["labels"]["faastui.io/source"] == "true"
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-c", HARNESS]
    assert container["ports"] == [{"containerPort": 8080}]
    assert {e["name"] for e in container["env"]} >= {"FAASTUI_HANDLER", "FAASTUI_ENTRY"}
    assert obj["status"]["url"] == "http://sig-classic.default.example.com"


def test_a_function_error_is_an_invocation_not_an_exception(fake, kubeconfig):
    async def go(b):
        await b.deploy_source("def handle(req):\n    return 1 / 0\n", name="divide")
        return await b.invoke("divide", "x")

    inv = with_backend(fake, kubeconfig, go)
    assert inv.status == "error" and "ZeroDivisionError" in inv.error and inv.result is None


def test_redeploy_rolls_a_new_revision_with_the_new_answer(fake, kubeconfig):
    async def go(b):
        await b.deploy_source("def handle(req):\n    return 'v1'\n", name="rolling")
        first = await b.invoke("rolling", "")
        old = fake.processes("rolling")
        await b.deploy_source("def handle(req):\n    return 'v2'\n", name="rolling")
        return first, old, await b.invoke("rolling", ""), await b.describe("rolling")

    first, old, second, fn = with_backend(fake, kubeconfig, go)
    assert (first.result, second.result) == ("v1", "v2")
    assert fn.labels["knative/revision"] == "rolling-00002"
    assert all(p.poll() is not None for p in old)  # the old revision's pod is gone


def test_bad_source_is_refused_before_any_api_call(fake, kubeconfig):
    before = len(fake.requests)

    async def go(b):
        for source, name in [("def handle(req:\n", "ok"), ("x = 1\n", "ok"), ("def handle(r): return r\n", "Bad_Name")]:
            with pytest.raises(InvalidRequest):
                await b.deploy_source(source, name=name)
        with pytest.raises(InvalidRequest, match="too big for Knative"):
            await b.deploy_source("def handle(r): return r\n" + "#" * 200_000, name="big")

    with_backend(fake, kubeconfig, go)
    assert len(fake.requests) == before


def test_a_handler_that_cannot_start_fails_the_deploy_with_knatives_message(fake, kubeconfig):
    async def go(b):
        with pytest.raises(BackendError) as err:
            await b.deploy_source("import no_such_module_here\ndef handle(r): return r\n", name="broken")
        return err.value

    err = with_backend(fake, kubeconfig, go)
    assert "not ready" in err.message and "failed to load" in err.message


def test_the_wait_for_ready_is_bounded(fake, kubeconfig):
    async def go(b):
        with pytest.raises(BackendError, match="not ready after 0.3 s") as err:
            await b.deploy_source("import time\ntime.sleep(1.5)\ndef handle(r): return 'late'\n", name="slow")
        return err.value

    err = with_backend(fake, kubeconfig, go, ready_timeout=0.3)
    assert "faastui functions" in err.hint
    fake.wait_idle()  # it does come up in the end
    assert with_backend(fake, kubeconfig, lambda b: b.invoke("slow", "")).result == "late"


def test_scale_sets_min_scale_and_prewarm_starts_pods(fake, kubeconfig):
    async def go(b):
        await b.deploy_source("def handle(req):\n    return 'ok'\n", name="scaled")
        scaled = await b.scale("scaled", 2)
        annotations = ksvc(fake, "scaled")["spec"]["template"]["metadata"]["annotations"]
        with pytest.raises(Unsupported):
            await b.prewarm("scaled", "kn-node-1")
        warm = await b.prewarm("scaled", count=3)
        prewarm_annotations = ksvc(fake, "scaled")["spec"]["template"]["metadata"]["annotations"]
        return scaled, annotations, warm, prewarm_annotations, await b.snapshot()

    scaled, annotations, warm, prewarm_annotations, snap = with_backend(fake, kubeconfig, go)
    assert annotations["autoscaling.knative.dev/min-scale"] == "2"
    assert scaled.replicas == scaled.available_replicas == 2
    assert scaled.labels["knative/min-scale"] == "2"
    assert prewarm_annotations["autoscaling.knative.dev/initial-scale"] == "3"
    assert len(warm) == 3 and {w.container_state for w in warm} == {"prewarm"}
    assert {w.node for w in warm} <= {"kn-node-1", "kn-node-2"} and warm[0].cold_start_ms > 0
    assert sum(p.count for p in snap.placements if p.function == "scaled") == 3


def test_scale_respects_max_scale(fake, kubeconfig):
    async def go(b):
        await b.deploy_source("def handle(req):\n    return 'ok'\n", name="capped")
        await b.kube.patch(
            "capped", {"spec": {"template": {"metadata": {"annotations": {"autoscaling.knative.dev/max-scale": "2"}}}}}
        )
        with pytest.raises(InvalidRequest, match="max-scale"):
            await b.scale("capped", 3)
        with pytest.raises(InvalidRequest):
            await b.scale("capped", -1)

    with_backend(fake, kubeconfig, go)


def test_remove_deletes_and_stops_the_process(fake, kubeconfig):
    async def go(b):
        await b.deploy_source("def handle(req):\n    return 'bye'\n", name="gone")
        procs = fake.processes("gone")
        await b.remove("gone")
        with pytest.raises(FunctionNotFound):
            await b.invoke("gone", {})
        with pytest.raises(FunctionNotFound):
            await b.remove("gone")
        with pytest.raises(FunctionNotFound) as err:
            await b.describe("gonne")
        return procs, err.value

    procs, err = with_backend(fake, kubeconfig, go)
    assert procs and all(p.poll() is not None for p in procs)
    assert ("default", "gone") not in fake.ksvcs
    assert err.hint is not None


def test_snapshot_nodes_functions_placements_and_a_failed_image(fake, kubeconfig):
    async def go(b):
        await b.deploy_source("def handle(req):\n    return 'snap'\n", name="snap")
        await b.invoke("snap", "")
        b.image = "nginx:latest"  # no harness can run in it: the fake's ImagePullBackOff
        with pytest.raises(BackendError) as err:
            await b.deploy_source("def handle(req):\n    return 'never'\n", name="snap")
        still = await b.invoke("snap", "")  # the last ready revision keeps serving
        return err.value, still, await b.snapshot(), await b.logs("snap")

    err, still, snap, logs = with_backend(fake, kubeconfig, go)
    assert "Back-off pulling image" in err.message and still.result == "snap"
    assert [n.name for n in snap.nodes] == ["kn-node-1", "kn-node-2", "kn-node-3"]
    assert [n.ready for n in snap.nodes] == [True, True, False]
    first = snap.nodes[0]
    assert (first.cpus, first.memory_mb, first.max_containers) == (3.8, 7168, 110)
    assert sum(n.containers for n in snap.nodes) >= 2 and snap.nodes[2].containers == 0
    fn = next(f for f in snap.functions if f.name == "snap")
    assert fn.labels["knative/ready"] == "False" and fn.available_replicas == 1
    # the serving pod (busy for a second after it served: its queue-proxy's stats) and the one
    # stuck pulling its image
    states = {"warm" if p.state == "busy" else p.state for p in snap.placements if p.function == "snap"}
    assert states == {"warm", "starting"}
    assert any(q.subject == "snap" and q.count == 2 for q in snap.qos) and snap.errors == []
    assert any("faastui harness: snap" in line for line in logs)
    assert any("no logs" in line for line in logs)  # the pending pod


def test_snapshot_and_events_come_from_the_watched_view(fake, kubeconfig):
    """The snapshot reads the shared view (list + watch): a second snapshot sees a new
    revision's pods without listing again, and the cluster's events name the function."""

    async def go(b):
        await b.deploy_source("def handle(req):\n    return 'w'\n", name="watched")
        first = await b.snapshot()
        lists = b.kube.started_view.stats()["pods"]["lists"]
        await b.scale("watched", 2)
        for _ in range(300):
            snap = await b.snapshot()
            if sum(p.count for p in snap.placements if p.function == "watched" and p.state == "warm") == 2:
                break
            await asyncio.sleep(0.02)
        return first, snap, lists, b.kube.started_view.stats()["pods"]["lists"], await b.events()

    first, snap, before, after, events = with_backend(fake, kubeconfig, go)
    assert sum(p.count for p in first.placements if p.function == "watched") == 1
    assert sum(p.count for p in snap.placements if p.function == "watched") == 2
    assert before == after == 1  # the second state came through the watch
    started = [e for e in events if e.get("function") == "watched" and e["reason"] == "Started"]
    assert started and started[0]["kind"] == "start" and started[0]["node"].startswith("kn-node-")


def test_a_ksvc_faastui_did_not_deploy_is_listed_but_never_overwritten(fake, kubeconfig):
    foreign = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "foreign"},
        "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/x/y:1"}]}}},
    }

    async def go(b):
        await b.kube.create(foreign)  # straight through the API, as kubectl would
        with pytest.raises(Conflict, match="already exists"):
            await b.kube.create(foreign)
        with pytest.raises(Conflict, match="did not deploy"):
            await b.deploy_source("def handle(r): return r\n", name="foreign")
        with pytest.raises(Conflict, match="has been modified") as stale:  # a stale resourceVersion
            await b.kube.patch("foreign", {"metadata": {"resourceVersion": "1"}})
        assert "again" in stale.value.hint
        invalid = {**foreign, "metadata": {"name": "Not_DNS"}, "spec": {"template": {"spec": {}}}}
        with pytest.raises(InvalidRequest, match="metadata.name.*containers"):
            await b.kube.create(invalid)
        return await b.functions()

    fns = with_backend(fake, kubeconfig, go)
    f = next(f for f in fns if f.name == "foreign")
    assert f.runtime == "knative" and f.image == "ghcr.io/x/y:1" and f.handler == ""


def test_deploy_a_folder_and_refuse_a_multi_module_zip(fake, kubeconfig, tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "handler.py").write_text("def handle(req):\n    return 'h'\ndef main(args):\n    return {'main': args}\n")
    (pkg / "function.yaml").write_text(
        "name: folder-fn\nhandler: handler:main\nmemory: 64\ncpus: 0.25\ntimeout: 10\nenv: {GREETING: hi}\n"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("fn/handler.py", "import helper\ndef handle(r): return r\n")
        z.writestr("fn/helper.py", "X = 1\n")

    async def go(b):
        fn = await b.deploy(pkg)
        with pytest.raises(InvalidRequest, match="helper.py"):
            await b.deploy(buf.getvalue())
        return fn, await b.invoke("folder-fn", {"k": 1})

    fn, inv = with_backend(fake, kubeconfig, go)
    assert fn.name == "folder-fn" and fn.handler == "handler:main"
    assert (fn.memory_mb, fn.cpus, fn.timeout_s) == (64, 0.25, 10)
    assert inv.result == {"main": {"k": 1}}
    env = ksvc(fake, "folder-fn")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "GREETING", "value": "hi"} in env


def test_namespace_comes_from_the_kube_context(fake, tmp_path):
    kc = fake.kubeconfig(tmp_path / "kc", namespace="team-a", context="team")

    async def go(b):
        await b.deploy_source("def handle(r): return 'team'\n", name="ns-fn")
        return await b.invoke("ns-fn", ""), b.namespace

    inv, ns = with_backend(fake, kc, go, kube_context="team")
    assert inv.result == "team" and ns == "team-a" and ("team-a", "ns-fn") in fake.ksvcs
    with pytest.raises(InvalidRequest, match="no kube context"):
        with_backend(fake, kc, lambda b: b.functions(), kube_context="nope")


def test_without_an_ingress_url_calls_go_to_status_url(fake, kubeconfig, monkeypatch):
    """No context URL: the POST goes to status.url itself. The fake ingress is the HTTP
    proxy here, so nothing is looked up or sent beyond 127.0.0.1."""
    monkeypatch.setenv("HTTP_PROXY", fake.ingress_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the API server itself is called directly
    monkeypatch.delenv("no_proxy", raising=False)

    async def go(b):
        await b.deploy_source("def handle(req):\n    return 'direct'\n", name="direct")
        with pytest.raises(Unsupported):
            await b.invoke("direct", {}, node="kn-node-1")
        return await b.invoke("direct", "")

    assert with_backend(fake, kubeconfig, go, url=None).result == "direct"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed}")
    with pytest.raises(Unreachable) as err:
        with_backend(fake, kubeconfig, lambda b: b.invoke("direct", ""), url=None)
    assert "direct.default.example.com" in err.value.message and "ingress" in err.value.hint
    with pytest.raises(Unreachable, match="does not answer"):
        with_backend(fake, kubeconfig, lambda b: b.invoke("direct", ""), url=f"http://127.0.0.1:{closed}")


def test_wrong_token_is_an_auth_error(fake, kubeconfig, tmp_path):
    with pytest.raises(AuthError) as err:
        with_backend(fake, kubeconfig, lambda b: b.snapshot(), token="wrong")
    assert "401" in err.value.message and "token" in err.value.hint
    bad = fake.kubeconfig(tmp_path / "bad", token="also-wrong")
    with pytest.raises(AuthError):
        with_backend(fake, bad, lambda b: b.invoke("sig-classic", {}))


def test_unreachable_api_and_missing_kubeconfig(fake, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kc = tmp_path / "kc"
    kc.write_text(fake.kubeconfig(tmp_path / "orig").read_text().replace(fake.api_url, f"http://127.0.0.1:{port}"))
    for call in (lambda b: b.snapshot(), lambda b: b.describe("x")):
        with pytest.raises(Unreachable) as err:
            with_backend(fake, kc, call)
        assert err.value.exit_code == 4 and "cluster-info" in err.value.hint
    with pytest.raises(InvalidRequest, match="kubeconfig"):
        with_backend(fake, tmp_path / "missing", lambda b: b.functions())


def test_a_cluster_without_knative_serving():
    with fake_kube(serving=False) as kube:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            kc = kube.kubeconfig(Path(tmp) / "kc")
            with pytest.raises(NotFound, match="Knative Serving is not installed"):
                with_backend(kube, kc, lambda b: b.describe("x"))
            snap = with_backend(kube, kc, lambda b: b.snapshot())
    assert len(snap.nodes) == 3 and any("not installed" in e for e in snap.errors)


# ---- the CLI, end to end ----------------------------------------------------------------
def test_cli_deploy_source_and_invoke(fake, kubeconfig, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    cli("context", "add", "kn", "--backend", "knative", "--url", fake.ingress_url, "--kube-context", "fake", "--use")
    handler = tmp_path / "handler.py"
    handler.write_text("def handle(req):\n    return {'hello': req}\n")
    deployed = json.loads(cli("deploy", "--source", str(handler), "--name", "hello", "-o", "json").stdout)
    assert deployed["name"] == "hello" and deployed["available_replicas"] == 1
    inv = json.loads(cli("invoke", "hello", "-d", '{"n": 1}', "-o", "json").stdout)
    assert inv["status"] == "ok" and inv["result"] == {"hello": '{"n": 1}'}
    assert "hello" in {f["name"] for f in json.loads(cli("functions", "-o", "json").stdout)}
    bad = tmp_path / "bad.py"
    bad.write_text("def handle(req:\n    pass\n")
    result = cli("deploy", "--source", str(bad), "--name", "bad", code=2)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines[0].startswith("error: handler source does not compile") and len(lines) == 1
    assert any("faastui harness: hello" in ln for ln in cli("logs", "hello").stdout.splitlines())
    result = cli("prewarm", "hello", "--node", "kn-node-1", code=3)
    assert "cannot prewarm on node" in result.stderr
    cli("rm", "hello")
    assert "not found" in cli("invoke", "hello", code=1).stderr
