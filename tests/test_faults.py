"""Faults injected on a real engine, and what survives them.

Redis is killed (SIGKILL) during async calls and during a workflow run, and kept down
to see the engine degraded; the daemon is killed and started again; a worker is
killed from outside; a handler exits with code 3; a function prints more than its
log may hold. Everything is real: the daemon, its Redis, zygotes and workers. Waits
are for conditions under a fail-safe deadline, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import threading
import time

import psutil
import pytest
import redis

from backends.local.client import LocalBackend
from backends.local.control import engine_status, start_engine, stop_engine
from backends.local.redis_server import find_redis_server

from .conftest import FUNCTIONS, cli, live, run, running_engine

FAILSAFE_S = 60.0


def wait_for(condition, what: str, timeout: float = FAILSAFE_S):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def redis_pid(engine_pid: int) -> int | None:
    for p in psutil.Process(engine_pid).children():
        try:
            if "redis-server" in p.name() and p.status() != psutil.STATUS_ZOMBIE:
                return p.pid
        except psutil.NoSuchProcess:
            pass
    return None


def kill_redis(engine) -> int:
    pid = redis_pid(engine.pid)
    assert pid
    os.kill(pid, signal.SIGKILL)
    return pid


def use(engine, coro_fn):
    async def go():
        async with LocalBackend(engine.url) as b:
            return await coro_fn(b)

    return run(go())


def test_async_calls_survive_a_redis_kill(fresh_engine):
    use(fresh_engine, lambda b: b.deploy(FUNCTIONS / "sleep"))
    killed = []

    async def go(b):
        ids = []
        for i in range(30):
            if i == 10:
                killed.append(kill_redis(fresh_engine))  # calls 10.. run into the restart
            ids.append(await b.invoke_async("sleep", {"ms": 20}))
        return ids, [await b.result(call_id, wait=30) for call_id in ids]

    ids, results = use(fresh_engine, go)
    assert len(set(ids)) == 30
    assert [r.status for r in results] == ["ok"] * 30, [r.error for r in results]
    assert redis_pid(fresh_engine.pid) not in (None, killed[0])
    events = use(fresh_engine, lambda b: b.events())
    assert any("redis died (signal 9 (SIGKILL))" in str(e.get("error")) for e in events)
    assert any(e["kind"] == "redis" and e["state"] == "up" for e in events)


def test_results_stored_before_a_redis_kill_are_still_there(fresh_engine):
    call_id = use(fresh_engine, lambda b: _deploy_and_call(b, "hello", {"name": "kept"}))
    wait_for(lambda: _stored(fresh_engine, call_id), "the result in Redis")
    kill_redis(fresh_engine)  # its append-only file has it
    result = use(fresh_engine, lambda b: b.result(call_id, wait=10))
    assert result.status == "ok" and result.result == {"message": "Hello, kept!"}


async def _deploy_and_call(b, fn: str, payload) -> str:
    await b.deploy(FUNCTIONS / fn)
    return await b.invoke_async(fn, payload)


def _stored(engine, call_id: str) -> bool:
    info = use(engine, lambda b: b.info())
    try:
        raw = redis.Redis.from_url(info["redis_url"], socket_timeout=2).get(f"faastui:call:{call_id}")
    except redis.RedisError:
        return False
    return raw is not None and json.loads(raw)["status"] == "ok"


@pytest.fixture()
def breakable_redis(tmp_path, monkeypatch):
    """A redis-server on PATH that refuses to start while ``flag`` exists (the real one else)."""
    real = find_redis_server()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    flag = tmp_path / "refuse"
    wrapper = bin_dir / "redis-server"
    wrapper.write_text(
        f"#!/bin/sh\nif [ -e '{flag}' ]; then echo 'refusing to start (test)'; exit 1; fi\nexec '{real}' \"$@\"\n"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return flag


def test_while_redis_is_down_the_engine_says_degraded_and_waits(tmp_path, breakable_redis):
    with running_engine(tmp_path / "state", nodes=1) as engine:
        use(engine, lambda b: b.deploy(FUNCTIONS / "hello"))
        cli("context", "add", "t", "--url", engine.url, "--use")
        assert "state:" in cli("status").stdout and "degraded" not in cli("status").stdout
        breakable_redis.touch()
        kill_redis(engine)
        wait_for(
            lambda: any(e.startswith("redis: down") for e in use(engine, lambda b: b.snapshot()).errors), "degraded"
        )

        status = cli("status").stdout
        assert "state:" in status and "degraded" in status and "redis: down since" in status
        assert "redis: down since" in _dashboard_status(engine)
        queues = cli("queues", code=1)
        assert queues.stdout == ""
        lines = queues.stderr.strip().splitlines()
        assert lines[0].startswith("error: redis: down since") and len(lines) == 2, lines

        outcome = {}

        def async_call():  # waits in the engine for Redis to come back
            try:
                outcome["id"] = use(engine, lambda b: b.invoke_async("hello", {"name": "later"}))
            except Exception as exc:  # noqa: BLE001 - the assertion below shows it
                outcome["error"] = exc

        thread = threading.Thread(target=async_call)
        thread.start()
        wait_for(
            lambda: any("1 call(s) waiting" in e for e in use(engine, lambda b: b.snapshot()).errors), "a waiting call"
        )
        breakable_redis.unlink()  # Redis may start again
        thread.join(FAILSAFE_S)
        assert "error" not in outcome, outcome
        result = use(engine, lambda b: b.result(outcome["id"], wait=30))
        assert result.status == "ok" and result.result == {"message": "Hello, later!"}
        assert use(engine, lambda b: b.snapshot()).errors == []
        assert "state:" in cli("status").stdout and "degraded" not in cli("status").stdout
        cli("queues")


def _dashboard_status(engine) -> str:
    """The dashboard's status line after its first snapshot (Textual's Pilot)."""
    from faastui.tui.app import Dashboard

    async def go():
        app = Dashboard(engine.backend, interval=30.0, remember_theme=False)
        async with app.run_test(size=(170, 50)) as pilot:
            deadline = time.monotonic() + FAILSAFE_S
            while app.refreshes < 1:
                assert time.monotonic() < deadline, "no first snapshot"
                await pilot.pause(0.05)
            return str(app.query_one("#status").render())

    return run(go())


def test_a_workflow_run_survives_a_redis_kill(fresh_engine):
    from backends.workflow import protocol as P
    from backends.workflow.controller import RunConfig, WorkflowController
    from backends.workflow.launchers import EngineLauncher
    from backends.workflow.phases import steady

    async def setup(b):
        for role in ("emitter", "collector", "worker"):
            await b.deploy(FUNCTIONS / role)
        return (await b.info())["redis_url"]

    url = use(fresh_engine, setup)
    killed = []

    def chaos(status):
        if not killed and status.completed >= 300:
            killed.append(kill_redis(fresh_engine))

    launcher = EngineLauncher(lambda: LocalBackend(fresh_engine.url))
    config = RunConfig(tasks=1500, workers=2, workload=steady(400.0, task_duration_ms=1.0), tick_s=0.05)
    controller = WorkflowController(url, launcher, config, on_tick=chaos)
    try:
        summary = controller.run(timeout_s=120)
    finally:
        controller.close()
    assert killed, "Redis was killed mid-run"
    r = redis.Redis.from_url(url)
    ids = [json.loads(x)["task_id"] for x in r.lrange(P.OUTPUT_QUEUE, 0, -1)]
    r.close()
    assert summary.state == "done" and summary.lost == 0
    assert len(ids) == 1500 and len(set(ids)) == 1500, "every task collected exactly once"


def _cluster_file(tmp_path):
    path = tmp_path / "cluster.yaml"
    path.write_text(
        "nodes:\n  - {name: edge-1, memory_mb: 1024}\n  - {name: edge-2, memory_mb: 1024}\n"
        "  - {name: core-1, memory_mb: 2048, cpus: 4}\n"
    )
    return path


def test_a_killed_daemon_comes_back_with_cluster_scale_fusion_labels_and_results(tmp_path):
    import httpx

    from .conftest import EngineHandle

    state = tmp_path / "state"
    first = EngineHandle(start_engine(state, port=0, cluster=_cluster_file(tmp_path), functions_dir=FUNCTIONS), state)
    try:

        async def setup(b):
            for fn in ("hello", "fusion-front", "fusion-back", "sleep"):
                await b.deploy(FUNCTIONS / fn)
            await b.scale("hello", 2)
            await b.fuse(["fusion-front", "fusion-back"], name="fg")
            done = await b.invoke_async("hello", {"name": "before"})
            running = await b.invoke_async("sleep", {"ms": 4000})
            return done, running

        done, running = use(first, setup)
        relabel = httpx.put(
            first.url + "/system/functions",
            json={"service": "hello", "image": str(FUNCTIONS / "hello"), "labels": {"team": "edge"}},
        )
        assert relabel.status_code == 200, relabel.text
        wait_for(lambda: _stored(first, done), "the finished call's result in Redis")
        kids = first.descendants()
    except BaseException:
        stop_engine(state)
        raise
    os.kill(first.pid, signal.SIGKILL)
    first.process.wait(10)
    wait_for(lambda: not live(kids), "the killed engine's processes to go")
    assert engine_status(state) is None

    with running_engine(state) as again:  # no --cluster, no --nodes: resume
        assert again.info["cluster"].startswith("resumed from the last run"), again.info
        assert again.info["nodes"] == ["edge-1", "edge-2", "core-1"]

        async def check(b):
            async with asyncio.timeout(FAILSAFE_S):  # the scale minimum's containers come back
                while (await b.describe("hello")).available_replicas < 2:
                    await asyncio.sleep(0.02)
            return (
                [n.name for n in await b.nodes()],
                await b.describe("hello"),
                await b.fusion_groups(),
                await b.result(done),
                await b.result(running),
            )

        nodes, hello, groups, done_result, running_result = use(again, check)
        assert nodes == ["edge-1", "edge-2", "core-1"]
        assert hello.replicas == 2 and hello.available_replicas == 2
        assert hello.labels.get("team") == "edge"
        assert [(g.name, sorted(g.functions)) for g in groups] == [("fg", ["fusion-back", "fusion-front"])]
        assert done_result.status == "ok" and done_result.result == {"message": "Hello, before!"}
        assert running_result.status == "interrupted" and "not re-run" in running_result.error

    with running_engine(state, nodes=1) as third:  # --nodes says otherwise
        assert third.info["cluster"] == "1 node from --nodes"
        assert [n.name for n in use(third, lambda b: b.nodes())] == ["node-1"]
        assert [g.name for g in use(third, lambda b: b.fusion_groups())] == ["fg"]


def test_up_says_which_cluster_it_started(tmp_path):
    cluster = _cluster_file(tmp_path)
    up = cli("up", "--port", "0", "--cluster", str(cluster))
    try:
        assert f"cluster from {cluster}: edge-1, edge-2, core-1" in up.stderr
    finally:
        cli("down")
    again = cli("up", "--port", "0")
    try:
        assert "cluster resumed from the last run" in again.stderr
        assert "edge-1, edge-2, core-1" in again.stderr
    finally:
        cli("down")


def test_a_handler_exiting_with_code_3_is_a_crash_not_oom(fresh_engine, tmp_path):
    pkg = tmp_path / "exit3"
    pkg.mkdir()
    (pkg / "handler.py").write_text("import os\ndef handle(req):\n    os._exit(3)\n")
    (pkg / "function.yaml").write_text("name: exit3\n")

    async def go(b):
        await b.deploy(pkg)
        await b.deploy(FUNCTIONS / "mem-hog")
        return await b.invoke("exit3", ""), await b.invoke("mem-hog", {"mb": 200})

    exited, hog = use(fresh_engine, go)
    assert exited.status == "crashed", exited
    assert "crashed (exit code 3)" in exited.error and "memory" not in exited.error
    assert hog.status == "oom" and "memory limit" in hog.error  # the limit did stop this one


def test_a_worker_killed_from_outside_becomes_an_event(fresh_engine, tmp_path):
    pkg = tmp_path / "whoami"
    pkg.mkdir()
    (pkg / "handler.py").write_text("import os\ndef handle(req):\n    return str(os.getpid())\n")
    (pkg / "function.yaml").write_text("name: whoami\n")

    async def go(b):
        await b.deploy(pkg)
        return int((await b.invoke("whoami", "", node="node-1")).result)

    pid = use(fresh_engine, go)
    os.kill(pid, signal.SIGKILL)

    def crash_event():
        return [e for e in use(fresh_engine, lambda b: b.events()) if e["kind"] == "crash" and e.get("pid") == pid]

    [event] = wait_for(crash_event, "the crash event")
    assert event["unit"] == "whoami" and event["node"] == "node-1"
    assert "died while warm (signal 9 (SIGKILL)); not stopped by the engine" in event["error"]
    again = use(fresh_engine, lambda b: b.invoke("whoami", ""))  # and the engine goes on
    assert again.status == "ok" and int(again.result) != pid


def test_a_function_log_is_rotated_at_its_cap(tmp_path):
    pkg = tmp_path / "chatty"
    pkg.mkdir()
    (pkg / "handler.py").write_text(
        "def handle(req):\n"
        "    for i in range(int(req)):\n"
        "        print(f'line {i:06d} ' + 'x' * 80)\n"
        "    return 'done'\n"
    )
    (pkg / "function.yaml").write_text("name: chatty\n")
    with running_engine(tmp_path / "state", nodes=1, logs={"max_bytes": 20000, "backups": 2}) as engine:

        async def go(b):
            await b.deploy(pkg)
            out = await b.invoke("chatty", "20000")  # ~1.8 MB of output
            async with asyncio.timeout(FAILSAFE_S):  # the pipe drains after the call returns
                while (await b.logs("chatty", 1)) != ["line 019999 " + "x" * 80]:
                    await asyncio.sleep(0.02)
            return out, await b.logs("chatty", 3)

        out, last = use(engine, go)
        files = sorted(p.name for p in (engine.state_dir / "logs").glob("chatty.log*"))
        sizes = [p.stat().st_size for p in (engine.state_dir / "logs").glob("chatty.log*")]
    assert out.result == "done"
    assert files == ["chatty.log", "chatty.log.1", "chatty.log.2"]
    assert max(sizes) <= 20000 and sum(sizes) <= 60000
    assert last == [f"line {i:06d} " + "x" * 80 for i in (19997, 19998, 19999)]


def test_a_clean_stop_waits_for_running_async_calls(tmp_path):
    state = tmp_path / "state"
    with running_engine(state, nodes=1) as engine:
        call_id = use(engine, lambda b: _deploy_and_call(b, "sleep", {"ms": 1500}))
        wait_for(
            lambda: (
                use(engine, lambda b: b.snapshot()).placements
                and any(p.state == "busy" for p in use(engine, lambda b: b.snapshot()).placements)
            ),
            "the call",
        )
    with running_engine(state) as again:  # `down` drained it: its result is in Redis
        result = use(again, lambda b: b.result(call_id, wait=10))
    assert result.status == "ok" and result.result["slept_ms"] >= 1500


def _run_killing(engine, role: str, when, tasks: int, rate: float):
    """A workflow run on the engine whose ``role`` loop is SIGKILLed once ``when(status)``;
    returns (summary, status at the kill, output task ids, the emitter's START count)."""
    from backends.workflow import protocol as P
    from backends.workflow.controller import RunConfig, WorkflowController
    from backends.workflow.launchers import EngineLauncher
    from backends.workflow.phases import steady

    async def setup(b):
        for name in ("emitter", "collector", "worker"):
            await b.deploy(FUNCTIONS / name)
        return (await b.info())["redis_url"]

    url = use(engine, setup)
    killed = []

    def chaos(status):
        if not killed and when(status):
            [pid] = [
                e["pid"] for e in use(engine, lambda b: b.events()) if e["kind"] == "start" and e.get("unit") == role
            ]
            os.kill(pid, signal.SIGKILL)
            killed.append(status)

    controller = WorkflowController(
        url,
        EngineLauncher(lambda: LocalBackend(engine.url)),
        RunConfig(
            tasks=tasks, workers=2, tick_s=0.05, heartbeat_ttl_s=1.0, workload=steady(rate, task_duration_ms=1.0)
        ),
        on_tick=chaos,
    )
    try:
        summary = controller.run(timeout_s=FAILSAFE_S)
    finally:
        controller.close()
    r = redis.Redis.from_url(url)
    ids = [json.loads(x)["task_id"] for x in r.lrange(P.OUTPUT_QUEUE, 0, -1)]
    starts = r.llen(P.EMITTER_START_QUEUE), r.llen(P.COLLECTOR_START_QUEUE)
    enqueued = int(r.get(P.ENQUEUED_KEY) or 0)
    r.close()
    assert killed, f"the {role} was killed mid-run"
    return summary, killed[0], ids, starts, enqueued


def test_a_workflow_run_survives_its_collector_being_killed(fresh_engine):
    summary, _, ids, starts, enqueued = _run_killing(
        fresh_engine, "collector", lambda s: s.completed >= 200, tasks=600, rate=400.0
    )
    assert summary.state == "done" and summary.lost == 0
    assert len(ids) == len(set(ids)) == 600 == enqueued, "every task collected exactly once"
    assert starts == (1, 2), "one emitter; a second collector took over"


def test_a_workflow_run_survives_its_emitter_being_killed(fresh_engine):
    """The emitter dies mid-run: another resumes where it was (nothing re-emitted, nothing
    skipped: exactly 600 tasks pushed, each collected once)."""
    summary, at_kill, ids, starts, enqueued = _run_killing(
        fresh_engine, "emitter", lambda s: s.enqueued_total >= 100, tasks=600, rate=150.0
    )
    assert at_kill.enqueued_total < 600, "killed while it still had tasks to emit"
    assert summary.state == "done" and summary.lost == 0
    assert enqueued == 600 and summary.duplicates_dropped == 0, "no task pushed twice"
    assert len(ids) == len(set(ids)) == 600, "every task collected exactly once"
    assert starts == (2, 1), "a second emitter took over"


def test_calls_right_after_a_zygote_dies_wait_for_its_functions_to_load(fresh_engine):
    async def deploy_all(b):
        for fn in ("hello", "echo", "sleep", "data-processor", "json-transformer"):
            await b.deploy(FUNCTIONS / fn)
        return (await b.invoke("hello", {"name": "x"}, node="node-1")).status

    assert use(fresh_engine, deploy_all) == "ok"
    [zygote] = [
        p
        for p in psutil.Process(fresh_engine.pid).children()
        if "backends.local.zygote" in " ".join(p.cmdline()) and p.environ().get("FAASTUI_NODE") == "node-1"
    ]
    zygote.kill()

    async def hammer(b):
        outcomes = []
        async with asyncio.timeout(FAILSAFE_S):
            while not outcomes or outcomes[-1] != "ok":
                try:
                    outcomes.append((await b.invoke("json-transformer", {"A": 1}, node="node-1")).status)
                except Exception as exc:  # noqa: BLE001 - what it raised is the point
                    outcomes.append(f"{type(exc).__name__}: {exc}")
        return outcomes

    outcomes = use(fresh_engine, hammer)
    assert not [o for o in outcomes if "not loaded here" in o], outcomes
