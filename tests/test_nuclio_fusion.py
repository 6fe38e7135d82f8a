"""The Nuclio backend's FUSE capability against the FAKE Nuclio dashboard
(tests/fakes/nuclio_dashboard.py: Nuclio needs Docker or Kubernetes, neither runs here).
The fake is strict and runs every function, a group's too, as a real process serving HTTP
with Nuclio's Python calling convention. Through the backend and through ``faastui serve
fusionizer``: one Nuclio function per group, dispatching by ``Task-Name``, its members'
calls to each other in-process; regroups under a client calling every 10 ms fail no call."""

from __future__ import annotations

import base64
import json

import pytest

from backends.errors import Conflict, NotFound
from backends.nuclio import NuclioBackend
from backends.nuclio_fusion import GROUP_LABEL
from backends.nuclio_packed import unpack_members
from tests.conftest import run
from tests.fakes.nuclio_dashboard import running_dashboard
from tests.serving import serve_env, serving
from tests.test_serve_fusionizer import TASKS, Client, call, info, post, put, simple_task, task_zip, wait_for


def using(url: str, action):
    async def go():
        async with NuclioBackend(url, deploy_timeout=60) as backend:
            return await action(backend)

    return run(go())


def invoked(dashboard, since: int = 0) -> list[str]:
    """The functions the dashboard was asked to invoke, in order."""
    return [
        r["headers"].get("x-nuclio-function-name")
        for r in dashboard.requests[since:]
        if r["path"] == "/api/function_invocations"
    ]


def group_functions(dashboard) -> list:
    return [f for f in dashboard.functions.values() if f.metadata.get("labels", {}).get(GROUP_LABEL)]


@pytest.fixture()
def dashboard():
    with running_dashboard(build_delay=0.05) as fake:
        yield fake


def test_tasks_deploy_as_packed_source_and_fuse_into_one_function(dashboard):
    helper = task_zip(
        **{
            "function.yaml": "apiVersion: nuclio.io/v1\nkind: NuclioFunction\nspec:\n  handler: main:handler\n",
            "main.py": "from helpers import double\n\n"
            "def handler(context, event, requests_session):\n"
            "    return double(int(event.body['value1']) + int(event.body['value2']))\n",
            "helpers.py": "def double(x):\n    return 2 * x\n",
        }
    )

    async def go(b):
        await b.deploy(task_zip(TASKS / "taska"), name="taska")
        await b.deploy(helper, name="taskb")  # a local module travels with the task
        alone = await b.invoke("taskb", {"value1": 1, "value2": 2})
        group = await b.fuse(["taska", "taskb"], "pair")
        fused = await b.invoke("taskb", {"value1": 2, "value2": 3})
        listed = {f.name: f.fusion_group for f in await b.functions()}
        with pytest.raises(Conflict):
            await b.fuse(["taskb", "taska"], "again")
        return alone, group, fused, listed, await b.fusion_groups(), await b.describe("taska")

    alone, group, fused, listed, groups, described = using(dashboard.url, go)
    assert alone.result == 6 and fused.result == 10
    assert (group.name, group.functions, group.state) == ("pair", ["taska", "taskb"], "warm")
    assert listed == {"taska": "pair", "taskb": "pair"}  # the group's function is not listed
    assert [g.name for g in groups] == ["pair"]
    assert described.fusion_group == "pair" and described.labels["faastui.io/state"] == "ready"
    (fn,) = group_functions(dashboard)
    assert fn.name.startswith("pair-") and fn.process is not None and fn.process.poll() is None
    assert fn.spec["handler"] == "main:faastui_entry"
    assert "pip install requests" in fn.spec["build"]["commands"]
    packed = unpack_members(base64.b64decode(fn.spec["build"]["functionSourceCode"]).decode())
    assert [(m.name, m.handler, m.signature) for m in packed] == [
        ("taska", "main:handler", "fusionizer"),
        ("taskb", "main:handler", "fusionizer"),
    ]
    assert set(packed[1].files) == {"function.yaml", "main.py", "helpers.py"}
    # the fused call went to the group's function, the member's own not at all
    assert invoked(dashboard)[-1] == fn.name


def test_unfuse_sends_calls_back_then_deletes_the_group_function(dashboard):
    async def go(b):
        for task in ("taska", "taskb"):
            await b.deploy(task_zip(TASKS / task), name=task)
        await b.fuse(["taska", "taskb"], "pair")
        members = await b.unfuse("pair")
        with pytest.raises(NotFound):
            await b.unfuse("pair")
        mark = len(dashboard.requests)
        after = await b.invoke("taskb", {"value1": 4, "value2": 4})
        return members, after, mark, await b.fusion_groups()

    members, after, mark, groups = using(dashboard.url, go)
    assert members == ["taska", "taskb"] and after.result == 8 and groups == []
    assert group_functions(dashboard) == [] and invoked(dashboard, mark) == ["taskb"]


def test_a_member_redeployed_or_removed_rebuilds_its_group(dashboard):
    async def go(b):
        for name, body in (("t1", "return 't1'"), ("t2", "return 't2'"), ("t3", "return 't3'")):
            await b.deploy(simple_task(body), name=name)
        await b.fuse(["t1", "t2", "t3"], "three")
        first = group_functions(dashboard)[0].name
        await b.deploy(simple_task("return 't1 v2'"), name="t1")
        rebuilt = await b.invoke("t1", None)
        second = group_functions(dashboard)
        await b.remove("t2")
        left = await b.fusion_groups()
        await b.remove("t3")
        return first, rebuilt, second, left, await b.fusion_groups(), await b.invoke("t1", None)

    first, rebuilt, second, left, gone, alone = using(dashboard.url, go)
    assert rebuilt.result == "t1 v2"
    assert len(second) == 1 and second[0].name != first  # a new function, the old one deleted
    assert [(g.name, g.functions) for g in left] == [("three", ["t1", "t3"])]
    assert gone == [] and alone.result == "t1 v2"


def test_the_fusionizer_flow_over_nuclio(tmp_path, dashboard):
    schedule = tmp_path / "config.json"
    schedule.write_text(json.dumps({"0": [["taska", "taskb"], ["gate"]]}))
    env = serve_env(tmp_path, [{"name": "nu", "backend": "nuclio", "url": dashboard.url}], current="nu")
    with serving("fusionizer", "--schedule", str(schedule), env=env) as served:
        port = served.port
        for task in ("taska", "taskb"):
            assert put(port, task, task_zip(TASKS / task)) == (200, f"Successfully deployed Task '{task}'")
        assert info(port, "taska") == (200, "Task 'taska':\nCurrently deployed with other Tasks: None\nStatus: ready")
        mark = len(dashboard.requests)
        assert post(port, "taska") == (200, "8")  # A -> this server -> B, two invocations
        assert invoked(dashboard, mark) == ["taska", "taskb"]
        put(port, "gate", simple_task("return 'open'"))
        wait_for(lambda: "['taska', 'taskb']" in info(port, "taska")[1], "the fusion")
        assert info(port, "taskb")[1].endswith("Tasks: ['taska', 'taskb']\nStatus: ready")
        mark = len(dashboard.requests)
        assert post(port, "taska") == (200, "8")  # one invocation: B ran in A's process
        (fn,) = group_functions(dashboard)
        assert invoked(dashboard, mark) == [fn.name]
        assert call(port, "DELETE", "/taska") == (200, "Successfully deleted Task 'taska'")
        assert post(port, "taskb", {"value1": 1, "value2": 2}) == (200, "3")
        assert info(port, "taskb")[1].endswith("Tasks: None\nStatus: ready")
        assert group_functions(dashboard) == []


def test_regroups_over_nuclio_fail_no_call(tmp_path, dashboard):
    fused, apart = [["taska", "taskb"]], [["taska"], ["taskb"]]
    schedule = tmp_path / "regroup.json"
    schedule.write_text(json.dumps({"0": [["gate"]], "0.5": fused, "1.5": apart, "2.5": fused}))
    env = serve_env(tmp_path, [{"name": "nu", "backend": "nuclio", "url": dashboard.url}], current="nu")
    with serving("fusionizer", "--schedule", str(schedule), env=env) as served:
        for task in ("taska", "taskb"):
            put(served.port, task, task_zip(TASKS / task))
        client = Client(served.port)
        client.start()
        try:
            wait_for(lambda: client.calls > 0, "the first call")
            put(served.port, "gate", simple_task("return 'open'"))
            wait_for(
                lambda: any("applied the setup at 2.5 s" in ln for ln in served.lines), "the last setup", timeout=120
            )
            calls = client.calls
            wait_for(lambda: client.calls > calls + 5, "calls after the last regroup")
        finally:
            client.halt.set()
            client.join(30)
    assert client.failures == [], client.failures[:5]
    assert client.calls > 20
    assert sum(ln.startswith("applied the setup") for ln in served.lines) >= 3, served.lines


def test_optimize_needs_a_call_graph_which_nuclio_does_not_record(tmp_path, dashboard):
    from tests.serving import run_serve

    env = serve_env(tmp_path, [{"name": "nu", "backend": "nuclio", "url": dashboard.url}], current="nu")
    proc = run_serve("fusionizer", "--port", "0", "--optimize", env=env)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith(
        "error: --optimize needs the calls between tasks: the nuclio backend does not record a call graph"
    ), proc.stderr
