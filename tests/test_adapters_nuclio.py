"""The Nuclio adapter against a fake Nuclio dashboard (tests/fakes/nuclio_dashboard.py).

Nuclio cannot run here (it needs Docker or Kubernetes), so the dashboard is a fake written
from Nuclio's public API; but it is a real HTTP server, and every deployed function is a
real process serving the handler with Nuclio's Python calling convention. Each test gets
its own dashboard; at the end no process or thread it started is left (checked).
"""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from backends import registry
from backends.base import Capability
from backends.errors import (AuthError, BackendError, Conflict, FunctionNotFound, InvalidRequest,
                             NodeNotFound, Unreachable)
from backends.nuclio import PSEUDO_NODE, NuclioBackend, placement_state
from tests.conftest import FUNCTIONS, cli, run
from tests.fakes.nuclio_dashboard import running_dashboard

SIGNATURES = {
    "classic": ("def handle(req):\n    return {'got': req, 'kind': 'classic'}\n",
                "hi", {"got": "hi", "kind": "classic"}),
    "http": ("def handle(event, context):\n"
             "    return {'statusCode': 201, 'body': {'len': len(event.body), 'path': event.path}}\n",
             "12345", {"len": 5, "path": "/"}),  # the status code travels as the HTTP status
    "iluvatar": ("def main(args):\n    return {'hello': args.get('name', 'world')}\n",
                 {"name": "ada"}, {"hello": "ada"}),
    "nuclio": ("def handler(context, event):\n    return 'nuclio:' + event.body.decode()\n",
               "x", "nuclio:x"),
    # Nuclio's own: a JSON body arrives parsed; context.Response and context.logger work
    "nuclio-native": ("def handler(context, event):\n"
                      "    context.logger.info_with('called', keys=sorted(event.body))\n"
                      "    return context.Response(body={'echo': event.body}, headers={'x-a': 'b'},\n"
                      "                            content_type='application/json', status_code=202)\n",
                      {"k": [1, 2]}, {"echo": {"k": [1, 2]}}),
}


@pytest.fixture()
def dashboard():
    with running_dashboard(build_delay=0.1) as fake:
        yield fake


def using(url: str, action, **options):
    async def go():
        async with NuclioBackend(url, **options) as backend:
            return await action(backend)
    return run(go())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the agent half: source in, every signature out --------------------------------------
def test_registry_loads_the_adapter():
    assert "nuclio" in registry.available() and registry.load("nuclio") is NuclioBackend
    caps = NuclioBackend.capabilities
    assert Capability.INVOKE | Capability.DEPLOY_SOURCE | Capability.DEPLOY in caps
    assert Capability.SCALE | Capability.LOGS in caps
    assert Capability.PREWARM not in caps and Capability.INVOKE_ASYNC not in caps
    with pytest.raises(InvalidRequest) as err:
        NuclioBackend(None)
    assert "--url" in err.value.hint


@pytest.mark.parametrize("kind", list(SIGNATURES))
def test_each_signature_deploys_and_its_process_answers(dashboard, kind):
    source, payload, expect = SIGNATURES[kind]

    async def go(b):
        fn = await b.deploy_source(source, name=f"sig-{kind}")
        return fn, await b.invoke(f"sig-{kind}", payload)
    fn, inv = using(dashboard.url, go)
    assert fn.name == f"sig-{kind}" and fn.runtime == "python:3.11" and fn.available_replicas == 1
    assert fn.handler == "main:faastui_entry"
    assert inv.status == "ok" and inv.result == expect and inv.node == PSEUDO_NODE, inv
    proc = dashboard.function(f"sig-{kind}").process
    assert proc is not None and proc.poll() is None  # a real process served it


def test_redeploy_changes_the_answer_and_keeps_the_scale(dashboard):
    async def go(b):
        await b.deploy_source("def handle(req):\n    return 'v1'\n", name="ver")
        first = await b.invoke("ver", "")
        await b.scale("ver", 2)
        again = await b.deploy_source("def handle(req):\n    return 'v2'\n", name="ver")
        return first, again, await b.invoke("ver", "")
    first, again, second = using(dashboard.url, go)
    assert (first.result, second.result) == ("v1", "v2")
    assert again.replicas == 2  # a redeploy updates the function, it does not reset it
    methods = [(r["method"], r["path"]) for r in dashboard.requests]
    assert ("POST", "/api/functions") in methods and ("PUT", "/api/functions/ver") in methods


def test_a_source_that_fails_to_import_raises_with_the_message(dashboard):
    bad = "import no_such_module_here\n\ndef handle(req):\n    return req\n"
    with pytest.raises(BackendError) as err:
        using(dashboard.url, lambda b: b.deploy_source(bad, name="broken"))
    assert "No module named 'no_such_module_here'" in str(err.value)
    assert "\n" not in err.value.message
    assert dashboard.function("broken").status["state"] == "error"
    with pytest.raises(InvalidRequest, match="does not compile"):  # refused before any request
        using(dashboard.url, lambda b: b.deploy_source("def handle(:\n", name="syntax"))


def test_requirements_become_build_commands_and_the_config_is_nuclios(dashboard):
    fn = using(dashboard.url, lambda b: b.deploy_source(
        "def main(args):\n    return args\n", name="deps", requirements=["requests>=2", "pyyaml"]))
    stored = dashboard.function("deps")
    assert stored.commands == ["pip install 'requests>=2'", "pip install pyyaml"]  # recorded, not run
    spec, meta = stored.spec, stored.metadata
    assert spec["runtime"] == "python:3.11" and spec["handler"] == "main:faastui_entry"
    source = base64.b64decode(spec["build"]["functionSourceCode"]).decode()
    assert source.startswith("def main(args):") and "def faastui_entry(context, event):" in source
    assert meta["labels"]["nuclio.io/project-name"] == "default" and meta["namespace"] == "nuclio"
    assert fn.labels["nuclio.io/project-name"] == "default"
    create = next(r for r in dashboard.requests if r["method"] == "POST")
    assert create["headers"]["x-nuclio-project-name"] == "default"
    assert all(r["headers"].get("x-nuclio-function-namespace") == "nuclio"
               for r in dashboard.requests)


def test_scale_sets_min_and_max_replicas_without_a_rebuild(dashboard):
    async def go(b):
        await b.deploy_source("def handle(req):\n    return 'up'\n", name="sc")
        pid = dashboard.function("sc").process.pid
        three = await b.scale("sc", 3)
        spec3 = dict(dashboard.function("sc").spec)
        zero = await b.scale("sc", 0)
        spec0 = dict(dashboard.function("sc").spec)
        with pytest.raises(InvalidRequest):
            await b.scale("sc", -1)
        with pytest.raises(FunctionNotFound):
            await b.scale("nope", 1)
        return pid, three, spec3, zero, spec0, await b.invoke("sc", "")
    pid, three, spec3, zero, spec0, inv = using(dashboard.url, go)
    assert (spec3["minReplicas"], spec3["maxReplicas"]) == (3, 3) and three.replicas == 3
    assert (spec0["minReplicas"], spec0["maxReplicas"]) == (0, 3)  # Nuclio needs max >= 1
    assert zero.replicas == 1  # min 0 keeps one until Nuclio scales it to zero
    assert dashboard.function("sc").process.pid == pid and inv.result == "up"  # neverBuild
    assert "mode" not in spec0["build"]


def test_remove_then_invoke_is_function_not_found(dashboard):
    async def go(b):
        await b.deploy_source("def handle(req):\n    return req\n", name="gone")
        proc = dashboard.function("gone").process
        await b.remove("gone")
        with pytest.raises(FunctionNotFound):
            await b.invoke("gone", "")
        with pytest.raises(FunctionNotFound):
            await b.remove("gone")
        await b.deploy_source("def handle(req):\n    return req\n", name="hello")
        with pytest.raises(FunctionNotFound) as err:
            await b.describe("helo")
        return proc, err.value
    proc, err = using(dashboard.url, go)
    assert proc.poll() is not None  # DELETE stopped the process
    assert err.hint == "did you mean 'hello'?"


def test_snapshot_maps_states_to_placements_on_one_pseudo_node(dashboard):
    async def go(b):
        await b.deploy_source("def handle(req):\n    return req\n", name="ok-fn")
        with pytest.raises(BackendError):
            await b.deploy_source("raise RuntimeError('boom at import')\ndef handle(r): return r\n",
                                  name="bad-fn")
        await b.scale("ok-fn", 2)
        return await b.snapshot()
    snap = using(dashboard.url, go)
    assert [n.name for n in snap.nodes] == [PSEUDO_NODE]
    node = snap.nodes[0]
    assert node.address == dashboard.url and node.ready and node.containers == 2
    assert {f.name: (f.replicas, f.available_replicas) for f in snap.functions} == \
        {"bad-fn": (1, 0), "ok-fn": (2, 2)}
    assert {(p.function, p.node, p.state, p.count) for p in snap.placements} == \
        {("ok-fn", PSEUDO_NODE, "warm", 2), ("bad-fn", PSEUDO_NODE, "cold", 0)}
    assert dashboard.function("bad-fn").status["message"] == "RuntimeError: boom at import"
    assert [placement_state(s) for s in ("ready", "building", "configuringResources",
                                         "scaledToZero", "error", "imported")] == \
        ["warm", "prewarm", "prewarm", "cold", "cold", "cold"]


def test_function_failures_are_invocations_not_exceptions(dashboard):
    async def go(b):
        await b.deploy_source("import time\n\ndef handle(req):\n"
                              "    if req == 'slow':\n        time.sleep(3)\n"
                              "    raise ValueError('no ' + req)\n", name="fails")
        raised = await b.invoke("fails", "x")
        slow = await b.invoke("fails", "slow")
        with pytest.raises(NodeNotFound):
            await b.invoke("fails", "x", node="node-1")
        return raised, slow
    raised, slow = using(dashboard.url, go, timeout=1.0)
    assert raised.status == "error" and "ValueError: no x" in raised.error
    assert slow.status == "timeout" and "Timeout exceeded" in slow.error


def test_logs_come_from_the_replica(dashboard):
    async def go(b):
        await b.deploy_source(SIGNATURES["nuclio-native"][0], name="talks")
        t0 = time.time()
        await b.invoke("talks", {"zebra": 1, "apple": 2})
        return t0, await b.logs("talks", tail=5), await b.log_lines("talks", 5, since=t0 - 1)
    t0, lines, timed = using(dashboard.url, go)
    assert 0 < len(lines) <= 5
    # a Nuclio log record: its message and fields, its time, its replica
    assert any(ln.startswith('called {"keys": ') and "apple" in ln for ln in lines)
    called = [ln for ln in timed if ln.text.startswith("called ")]
    assert called and called[0].time >= t0 - 0.01 and called[0].instance.startswith("nuclio-talks-")


def test_a_function_folder_deploys_through_the_source_path(dashboard, tmp_path):
    async def go(b):
        fn = await b.deploy(FUNCTIONS / "hello")
        return fn, await b.invoke("hello", {"name": "Nuclio"})
    fn, inv = using(dashboard.url, go)
    assert (fn.memory_mb, fn.cpus, fn.timeout_s, fn.deadline_ms) == (64, 0.25, 10, 50)
    assert inv.result == {"message": "Hello, Nuclio!"}
    with pytest.raises(InvalidRequest, match="holds no function"):
        using(dashboard.url, lambda b: b.deploy(str(tmp_path)))


def test_tokens_unreachable_dashboards_and_conflicts():
    basic = "Basic " + base64.b64encode(b"admin:pw").decode()
    for header, good, bad in (("Bearer s3cret", "s3cret", "wrong"),
                              (basic, "admin:pw", "admin:no")):
        with running_dashboard(authorization=header) as fake:
            assert using(fake.url, lambda b: b.functions(), token=good) == []
            with pytest.raises(AuthError):
                using(fake.url, lambda b: b.functions(), token=bad)
    with pytest.raises(Unreachable) as err:
        using(f"http://127.0.0.1:{free_port()}", lambda b: b.snapshot())
    assert "8070" in err.value.hint
    with running_dashboard(build_delay=5) as fake:  # still building: Nuclio refuses a delete
        source = base64.b64encode(b"def handler(c, e): pass").decode()
        created = httpx.post(f"{fake.url}/api/functions", json={
            "metadata": {"name": "slow"}, "spec": {"runtime": "python:3.11", "handler": "main:handler",
                                                    "build": {"functionSourceCode": source}}})
        assert created.status_code == 202
        with pytest.raises(Conflict, match="being deployed"):
            using(fake.url, lambda b: b.remove("slow"))


def test_the_fake_is_strict_where_nuclio_is(dashboard):
    src = base64.b64encode(b"def handler(context, event):\n    return 'ok'\n").decode()

    def config(name="strict", **spec):
        base = {"runtime": "python:3.11", "handler": "main:handler",
                "build": {"functionSourceCode": src}}
        return {"metadata": {"name": name}, "spec": dict(base, **spec)}

    with httpx.Client(base_url=dashboard.url, timeout=10) as c:
        def post(body, **headers):
            return c.post("/api/functions", json=body, headers=headers)
        assert post(config(name="Bad_Name")).status_code == 400
        assert post(config(name="dashboard")).status_code == 412
        assert post(config(runtime="go")).status_code == 400
        assert post(config(handler="main")).status_code == 400
        assert post(config(build={"functionSourceCode": "%%%"})).status_code == 400
        assert post(config(build={"functionSourceCode": src, "commands": ["apt-get install x"]})
                    ).status_code == 400
        assert post(config(minReplicas=3, maxReplicas=1)).status_code == 400
        assert post(config(minReplicas=0)).status_code == 400
        assert post({"metadata": "x"}).status_code == 400
        ok = post(dict(config(), unknownTopLevel={"ignored": True}),  # as Go's json.Unmarshal
                  **{"x-nuclio-wait-function-action": "true"})
        assert (ok.status_code, ok.content) == (202, b"")
        assert c.get("/api/functions/strict").json()["status"]["state"] == "ready"
        assert post(config()).status_code == 409
        missing = c.get("/api/functions/missing")
        assert missing.status_code == 404 and missing.json()["error"] == "Function not found"
        assert c.request("DELETE", "/api/functions", json={"metadata": {"name": "missing"}}
                         ).status_code == 204
        call = c.post("/api/function_invocations", content=b"",
                      headers={"x-nuclio-function-name": "missing"})
        assert call.status_code == 404 and "Function not found: missing @ nuclio" in call.text
        call = c.post("/api/function_invocations", content=b"",
                      headers={"x-nuclio-function-name": "strict", "x-nuclio-path": "/a/b"})
        assert (call.status_code, call.text) == (200, "ok")
        late = c.post("/api/function_invocations", headers={
            "x-nuclio-function-name": "strict", "x-nuclio-invoke-timeout": "soon"})
        assert late.status_code == 400
        assert c.get("/api/nope").status_code == 404


# ---- the CLI, end to end -----------------------------------------------------------------
def one_line_error(result, *needles: str) -> None:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error: ") and len(lines) <= 2, result.stderr
    for needle in needles:
        assert needle in lines[0], result.stderr


def test_cli_deploys_source_and_invokes_it(dashboard, tmp_path):
    cli("context", "add", "nx", "--backend", "nuclio", "--url", dashboard.url, "--use")
    handler = tmp_path / "handler.py"
    handler.write_text("def handle(req):\n    import json\n"
                       "    return {'message': 'Hello, ' + json.loads(req)['name'] + '!'}\n")
    cli("deploy", "--source", str(handler), "--name", "hello")
    out = json.loads(cli("invoke", "hello", "-d", '{"name": "Ada"}', "-o", "json").stdout)
    assert out["status"] == "ok" and out["result"] == {"message": "Hello, Ada!"}
    assert out["function"] == "hello" and out["node"] == PSEUDO_NODE
    assert "hello" in cli("functions").stdout

    Path(handler).write_text("def handle(req:\n    return req\n")
    one_line_error(cli("deploy", "--source", str(handler), "--name", "hello", code=2),
                   "does not compile")
    Path(handler).write_text("import no_such_module_here\ndef handle(req):\n    return req\n")
    one_line_error(cli("deploy", "--source", str(handler), "--name", "broken", code=1),
                   "No module named 'no_such_module_here'")
    cli("rm", "hello")
    one_line_error(cli("invoke", "hello", code=1), "not found")
