"""Engine behaviour through the LocalBackend: signatures, warmth, isolation, fusion,
scaling, process hygiene. Real daemon, real processes, real Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from backends.errors import (
    CapacityExceeded,
    Conflict,
    FunctionNotFound,
    InvalidRequest,
    NodeNotFound,
    NotFound,
    Unreachable,
)
from backends.local.client import LocalBackend
from backends.local.control import engine_status, start_engine, stop_engine
from backends.model import DispatchStep
from tests.conftest import FUNCTIONS, live, run


def call(engine, coro_fn):
    async def go():
        async with engine.backend() as b:
            return await coro_fn(b)

    return run(go())


@pytest.mark.parametrize(
    "fn,payload,expected",
    [
        ("hello", {"name": "Alex"}, {"message": "Hello, Alex!"}),  # handle(req)
        ("echo", {"x": 1}, {"x": 1}),  # handle(event, context)
        ("data-processor", {"numbers": [1, 2, 3, 4]}, {"count": 4, "sum": 10, "average": 2.5}),  # main(args)
        (
            "json-transformer",
            {"Key": "VALUE", "n": 2.5, "list": [1, "A"]},
            {"KEY": "value", "N": 5.0, "LIST": [2, "a"]},
        ),  # handler(context, event)
        ("fusion-front", {"text": "abc"}, {"front": "ok", "back": {"text": "cba"}, "length": 3}),  # Fusionizer
    ],
)
def test_each_entry_signature(engine, fn, payload, expected):
    inv = call(engine, lambda b: b.invoke(fn, payload))
    assert inv.status == "ok", inv.error
    assert inv.result == expected


def test_cold_then_prewarm_then_warm(fresh_engine):
    async def go(b):
        await b.deploy(FUNCTIONS / "hello")
        first = await b.invoke("hello", {}, node="node-1")
        await b.prewarm("hello", "node-2", 1)
        after_prewarm = await b.invoke("hello", {}, node="node-2")
        then = await b.invoke("hello", {}, node="node-2")
        return first, after_prewarm, then

    first, after_prewarm, then = call(fresh_engine, go)
    assert first.container_state == "cold" and first.cold_start_ms > 0
    assert after_prewarm.container_state == "prewarm" and after_prewarm.cold_start_ms == 0
    assert then.container_state == "warm"
    assert {first.node, after_prewarm.node, then.node} == {"node-1", "node-2"}


def test_async_round_trip_through_backend(engine):
    async def go(b):
        call_id = await b.invoke_async("sleep", {"ms": 50})
        pending = await b.result(call_id)
        done = await b.result(call_id, wait=10)
        return pending, done

    pending, done = call(engine, go)
    assert pending.status in ("pending", "ok")
    assert done.status == "ok" and done.result["slept_ms"] >= 45


def test_chain_dispatch_outputs_feed_next_step(engine):
    steps = [
        DispatchStep("node-1", "json-transformer"),
        DispatchStep("node-2", "json-transformer"),
        DispatchStep("node-3", "json-transformer"),
    ]
    res = call(engine, lambda b: b.dispatch({"v": 1, "s": "AbC"}, steps))
    assert res.output == {"V": 8, "S": "abc"}
    assert [s.node for s in res.steps] == ["node-1", "node-2", "node-3"]
    assert all(s.duration_ms > 0 for s in res.steps)


def test_crash_timeout_and_memory_limit_are_isolated(engine):
    async def go(b):
        raised = await b.invoke("crash", {"mode": "raise"})
        exited = await b.invoke("crash", {"mode": "exit"})
        hung = await b.invoke("crash", {"mode": "hang"})
        hog = await b.invoke("mem-hog", {"mb": 200})
        small = await b.invoke("mem-hog", {"mb": 4})
        again = await b.invoke("crash", {"mode": "ok"})
        hello = await b.invoke("hello", {"name": "still here"})
        return raised, exited, hung, hog, small, again, hello

    raised, exited, hung, hog, small, again, hello = call(engine, go)
    assert raised.status == "error" and "asked to raise" in raised.error
    assert exited.status == "crashed" and "exit code 7" in exited.error
    assert hung.status == "timeout" and "timed out" in hung.error
    assert hog.status == "oom" and "memory limit" in hog.error
    assert small.status == "ok" and small.result == {"allocated_mb": 4}
    assert again.status == "ok"
    assert hello.result == {"message": "Hello, still here!"}


def test_timed_out_worker_is_killed(engine, tmp_path):
    pkg = tmp_path / "hangs"
    pkg.mkdir()
    (pkg / "handler.py").write_text(
        "import os, time\n"
        "def handle(req):\n"
        "    if req == 'hang':\n"
        "        time.sleep(60)\n"
        "    return str(os.getpid())\n"
    )
    (pkg / "function.yaml").write_text("name: hangs\ntimeout: 0.5\n")

    async def go(b):
        await b.deploy(pkg)
        pid = int((await b.invoke("hangs", "pid", node="node-1")).result)
        hung = await b.invoke("hangs", "hang", node="node-1")
        after = int((await b.invoke("hangs", "pid", node="node-1")).result)
        return pid, hung, after

    pid, hung, after = call(engine, go)
    assert hung.status == "timeout"
    assert after != pid, "a fresh worker replaced the one that hung"
    deadline = time.time() + 5
    while live([pid]) and time.time() < deadline:
        time.sleep(0.02)
    assert not live([pid]), "the worker that hung was killed"


def test_fusion_makes_calls_local_and_unfuse_restores_remote(fresh_engine):
    async def go(b):
        await b.deploy(FUNCTIONS / "fusion-front")
        await b.deploy(FUNCTIONS / "fusion-back")
        apart = await b.invoke("fusion-front", {"text": "xy"})
        graph_before = await b._request("GET", "/faastui/v1/callgraph")
        group = await b.fuse(["fusion-front", "fusion-back"], "pair")
        fused = [await b.invoke("fusion-front", {"text": "xy"}) for _ in range(3)]
        groups = await b.fusion_groups()
        fns = {f.name: f.fusion_group for f in await b.functions()}
        with pytest.raises(Conflict):
            await b.fuse(["fusion-back", "fusion-front"], "again")
        members = await b.unfuse("pair")
        after = await b.invoke("fusion-front", {"text": "xy"})
        with pytest.raises(NotFound):
            await b.unfuse("pair")
        return apart, graph_before, group, fused, groups, fns, members, after

    apart, graph, group, fused, groups, fns, members, after = call(fresh_engine, go)
    assert apart.result["back"] == {"text": "yx"}
    assert {"caller": "fusion-front", "callee": "fusion-back", "calls": 1} in graph
    assert group.name == "pair" and sorted(group.functions) == ["fusion-back", "fusion-front"]
    assert all(f.result["back"] == {"text": "yx"} for f in fused)
    pair = next(g for g in groups if g.name == "pair")
    assert pair.calls_local == 3 and pair.calls_remote == 0
    assert fns["fusion-front"] == "pair" and fns["fusion-back"] == "pair"
    assert sorted(members) == ["fusion-back", "fusion-front"]
    assert after.result["back"] == {"text": "yx"}


def test_fusion_one_process_hosts_both(fresh_engine):
    async def go(b):
        await b.deploy(FUNCTIONS / "fusion-front")
        await b.deploy(FUNCTIONS / "fusion-back")
        await b.fuse(["fusion-front", "fusion-back"])
        await b.invoke("fusion-front", {"text": "a"}, node="node-1")
        await b.invoke("fusion-back", {"text": "a"}, node="node-1")
        return await b.snapshot()

    snap = call(fresh_engine, go)
    node1 = next(n for n in snap.nodes if n.name == "node-1")
    assert node1.containers == 1, "one worker process serves both fused functions"
    placed = {(p.function, p.state) for p in snap.placements if p.node == "node-1" and p.count}
    assert placed == {("fusion-front", "warm"), ("fusion-back", "warm")}


def test_scale_keeps_replicas_and_scales_down(fresh_engine):
    async def go(b):
        await b.deploy(FUNCTIONS / "echo")
        up = await b.scale("echo", 3)
        down = await b.scale("echo", 1)
        zero = await b.scale("echo", 0)
        return up, down, zero

    up, down, zero = call(fresh_engine, go)
    assert up.available_replicas == 3
    assert down.available_replicas == 1
    assert zero.available_replicas == 0


def test_bad_names_and_unknowns_raise_typed_errors(engine):
    async def go(b):
        errors = []
        for coro in (
            b.invoke("nope", {}),
            b.invoke("hello", {}, node="node-99"),
            b.prewarm("hello", "node-99"),
            b.prewarm("nope", "node-1"),
            b.scale("hello", -1),
            b.fuse(["hello"]),
            b.unfuse("nothing"),
            b.deploy_source("def handle(r):\n    return r\n", name="Bad Name"),
            b.dispatch("x", [DispatchStep("node-1", "nope")]),
            b.describe("nope"),
        ):
            try:
                await coro
            except Exception as exc:  # noqa: BLE001 - collected and checked below
                errors.append(type(exc))
        return errors

    errors = call(engine, go)
    assert errors == [
        FunctionNotFound,
        NodeNotFound,
        NodeNotFound,
        FunctionNotFound,
        InvalidRequest,
        InvalidRequest,
        NotFound,
        InvalidRequest,
        FunctionNotFound,
        FunctionNotFound,
    ]


def test_capacity_is_respected(tmp_path):
    cluster = tmp_path / "tiny.yaml"
    cluster.write_text("nodes:\n  - name: tiny\n    memory_mb: 100\n    max_containers: 1\n")
    state = tmp_path / "state"
    info = start_engine(state, cluster=cluster, port=0)
    try:

        async def go():
            async with LocalBackend(info["url"]) as b:
                await b.deploy(FUNCTIONS / "hello")
                await b.deploy(FUNCTIONS / "echo")
                started = await b.prewarm("hello", "tiny", 1)
                with pytest.raises(CapacityExceeded):
                    await b.prewarm("hello", "tiny", 1)  # max_containers 1, none idle of others
                echo = await b.invoke("echo", "hi")  # evicts the idle hello container
                snap = await b.snapshot()
                return started, echo, snap

        started, echo, snap = run(go())
        assert len(started) == 1
        assert echo.status == "ok" and echo.container_state == "cold"
        assert snap.nodes[0].containers == 1
    finally:
        stop_engine(state)
        info["process"].wait(10)


def test_second_engine_on_same_state_dir_is_refused(engine):
    proc = subprocess.run(
        [sys.executable, "-m", "backends.local.daemon", "--state-dir", str(engine.state_dir), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "already running" in proc.stderr
    assert engine_status(engine.state_dir)["pid"] == engine.pid


def test_killed_engine_leaves_no_process(tmp_path):
    state = tmp_path / "state"
    info = start_engine(state, port=0, nodes=2)

    async def warm():
        async with LocalBackend(info["url"]) as b:
            await b.deploy(FUNCTIONS / "hello")
            await b.prewarm("hello", "node-1", 2)
            await b.prewarm("hello", "node-2", 1)

    run(warm())
    import psutil

    kids = [p.pid for p in psutil.Process(info["pid"]).children(recursive=True)]
    assert len(kids) >= 6  # redis + 2 zygotes + 3 workers
    os.kill(info["pid"], signal.SIGKILL)
    info["process"].wait(10)
    deadline = time.time() + 10
    while live(kids) and time.time() < deadline:
        time.sleep(0.05)
    assert not live(kids), f"left behind: {live(kids)}"
    assert engine_status(state) is None


def test_unreachable_engine_maps_to_unreachable():
    async def go():
        async with LocalBackend("http://127.0.0.1:9") as b:
            await b.snapshot()

    with pytest.raises(Unreachable) as info:
        run(go())
    assert "faastui up" in str(info.value)


def test_non_loopback_bind_requires_token(tmp_path):
    state = tmp_path / "state"
    info = start_engine(state, port=0, nodes=1, host="0.0.0.0")
    try:
        url = f"http://127.0.0.1:{info['port']}"
        assert httpx.get(url + "/healthz").status_code == 200
        r = httpx.post(url + "/faastui/v1/deploy", json={"id": "x", "handler": "def handle(r):\n  return r\n"})
        assert r.status_code == 401 and r.json()["error"]
        token = (state / "token").read_text()
        assert oct((state / "token").stat().st_mode & 0o777) == "0o600"
        r = httpx.post(
            url + "/faastui/v1/deploy",
            headers={"Authorization": f"Bearer {token}"},
            json={"id": "x", "handler": "def handle(r):\n  return r\n"},
        )
        assert r.status_code == 201

        # the client picks the token up from the state dir
        async def go():
            async with LocalBackend(state_dir=state) as b:
                return await b.invoke("x", "hi")

        assert run(go()).result == "hi"
    finally:
        stop_engine(state)
        info["process"].wait(10)


def test_functions_survive_an_engine_restart(tmp_path):
    state = tmp_path / "state"
    info = start_engine(state, port=0, nodes=1)
    run(_deploy_hello(info["url"]))
    stop_engine(state)
    info["process"].wait(10)
    info = start_engine(state, port=0, nodes=1)
    try:

        async def go():
            async with LocalBackend(info["url"]) as b:
                return await b.invoke("hello", {"name": "again"})

        assert run(go()).result == {"message": "Hello, again!"}
    finally:
        stop_engine(state)
        info["process"].wait(10)


async def _deploy_hello(url):
    async with LocalBackend(url) as b:
        await b.deploy(FUNCTIONS / "hello")


def test_recent_invocations_and_events(engine):
    async def go(b):
        await b.invoke("echo", "recent-1")
        await b.invoke("hello", {"name": "recent-2"})
        calls = await b.invocations(limit=2)
        events = await b.events(0)
        return calls, events

    calls, events = call(engine, go)
    assert [c.function for c in calls] == ["hello", "echo"]  # newest first
    assert all(c.result is None and c.status == "ok" for c in calls)
    assert {"deploy", "start"} <= {e["kind"] for e in events}


def test_keep_alive_evicts_idle_containers_but_keeps_scaled_minimum(tmp_path):
    state = tmp_path / "state"
    info = start_engine(state, port=0, nodes=1, keep_alive=0.3)
    try:

        async def go():
            async with LocalBackend(info["url"]) as b:
                await b.deploy(FUNCTIONS / "hello")
                await b.deploy(FUNCTIONS / "echo")
                await b.prewarm("hello", "node-1", 2)
                await b.scale("echo", 1)
                import asyncio

                for _ in range(100):  # the reaper runs every keep_alive/4 (>= 0.2 s)
                    snap = await b.snapshot()
                    counts = {f.name: f.available_replicas for f in snap.functions}
                    if counts["hello"] == 0:
                        break
                    await asyncio.sleep(0.1)
                return counts

        counts = run(go())
        assert counts == {"hello": 0, "echo": 1}
    finally:
        stop_engine(state)
        info["process"].wait(10)


def test_logs_show_what_a_handler_printed(engine):
    src = "def handle(req):\n    print('log line', req, flush=True)\n    return 'ok'\n"

    async def go(b):
        await b.deploy_source(src, name="printer")
        await b.invoke("printer", "xyz")
        return await b.logs("printer")

    lines = call(engine, go)
    assert "log line xyz" in lines


def _wheel(path, name="faastui_testdep", value=42):
    import zipfile

    whl = path / f"{name}-1.0-py3-none-any.whl"
    dist = f"{name}-1.0.dist-info"
    with zipfile.ZipFile(whl, "w") as zf:
        zf.writestr(f"{name}/__init__.py", f"VALUE = {value}\n")
        zf.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}/RECORD", "")
    return whl


def test_deploy_source_with_requirements(engine, tmp_path):
    """The agent style with a requirement: installed into the function's own folder
    (a local wheel, so the test needs no network)."""
    whl = _wheel(tmp_path)
    src = "import faastui_testdep\ndef handle(req):\n    return {'value': faastui_testdep.VALUE}\n"

    async def go(b):
        await b.deploy_source(src, name="with-deps", requirements=[str(whl)])
        return await b.invoke("with-deps", "")

    assert call(engine, go).result == {"value": 42}


def test_a_killed_zygote_is_restarted_with_its_functions(fresh_engine):
    import psutil

    async def deploy_and_call(b):
        await b.deploy(FUNCTIONS / "hello")
        return await b.invoke("hello", {"name": "before"}, node="node-1")

    first = call(fresh_engine, deploy_and_call)
    assert first.status == "ok"
    zygotes = [
        p for p in psutil.Process(fresh_engine.pid).children() if "backends.local.zygote" in " ".join(p.cmdline())
    ]
    assert len(zygotes) == 2
    victim = next(z for z in zygotes if z.environ().get("FAASTUI_NODE") == "node-1")
    victim.kill()
    victim.wait(5)

    async def call_again(b):
        import asyncio

        for _ in range(100):  # the node comes back within moments
            try:
                return await b.invoke("hello", {"name": "after"}, node="node-1")
            except Exception:  # noqa: BLE001 - not ready yet
                await asyncio.sleep(0.05)
        raise AssertionError("node-1 never came back")

    after = call(fresh_engine, call_again)
    assert after.status == "ok" and after.result == {"message": "Hello, after!"}
    assert after.container_state == "cold"
    events = call(fresh_engine, lambda b: b.events(0))
    assert any(e["kind"] == "error" and "restarting" in e.get("error", "") for e in events)


def test_fuse_starts_one_process_hosting_the_group(fresh_engine):
    async def go(b):
        await b.deploy(FUNCTIONS / "fusion-front")
        await b.deploy(FUNCTIONS / "fusion-back")
        group = await b.fuse(["fusion-front", "fusion-back"], "duo")
        snap = await b.snapshot()
        first = await b.invoke("fusion-back", {"text": "ab"})
        return group, snap, first

    group, snap, first = call(fresh_engine, go)
    assert group.state == "prewarm" and group.node in ("node-1", "node-2")
    assert sum(n.containers for n in snap.nodes) == 1
    assert {(p.function, p.state) for p in snap.placements if p.count} == {
        ("fusion-front", "prewarm"),
        ("fusion-back", "prewarm"),
    }
    assert first.container_state == "prewarm" and first.result == {"text": "ba"}


def test_node_cpu_used_comes_from_the_workers(fresh_engine):
    async def go(b):
        await b.deploy(FUNCTIONS / "cpu-burn")
        await b.invoke("cpu-burn", {"ms": 1}, node="node-1")  # the worker exists
        await b.snapshot()  # a first reading
        await b.invoke("cpu-burn", {"ms": 300}, node="node-1")
        return await b.snapshot()

    snap = call(fresh_engine, go)
    used = {n.name: n.used_cpus for n in snap.nodes}
    assert used["node-1"] > 0.2, used  # ~300 ms busy within a ~0.3 s window (less if the CPU is shared)
    assert used["node-2"] == 0.0
