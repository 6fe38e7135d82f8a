"""`faastui workflow run|status|stop` and `faastui scale worker` against the session engine."""

from __future__ import annotations

import json

import pytest

from tests.conftest import cli


@pytest.fixture()
def ctx(engine):
    cli("context", "add", "t", "--url", engine.url, "--use")
    return engine


def test_run_json_status_and_scale(ctx, tmp_path):
    phases = tmp_path / "p.yaml"
    phases.write_text(
        "task_duration_ms: 2\nphases:\n"
        "  - {type: steady, duration_s: 1, rate: 150}\n"
        "  - {type: ramp, duration_s: 1, from_rate: 100, to_rate: 300}\n"
    )
    res = cli(
        "workflow",
        "run",
        "--tasks",
        "300",
        "--workers",
        "2",
        "--phases",
        str(phases),
        "--autoscale",
        "target",
        "-o",
        "json",
    )
    data = json.loads(res.stdout)  # one object on stdout, nothing else
    assert data["completed"] == 300 and data["duplicates"] == 0 and data["lost"] == 0
    assert 0.0 <= data["qos"] <= 1.0 and data["mean_workers"] > 0 and data["duration_s"] > 0
    assert data["policy"] == "target"

    status = json.loads(cli("workflow", "status", "-o", "json").stdout)
    assert status["state"] == "done" and status["completed"] == 300 and status["tasks"] == 300
    text = cli("workflow", "status").stdout
    assert "collected 300" in text and "QoS" in text

    # scale worker records the target the controller follows (loops, not idle containers)
    fn = json.loads(cli("scale", "worker", "3", "-o", "json").stdout)
    assert fn["name"] == "worker"
    cli("workflow", "stop")


def test_run_table_summary_and_progress_on_stderr(ctx):
    res = cli("workflow", "run", "--tasks", "100", "--workers", "1", "--rate", "400")
    assert "completed:" in res.stdout and "100/100" in res.stdout and "lost:" in res.stdout
    assert "collected" in res.stderr  # the progress bars


def test_usage_errors(ctx, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("phases:\n  - {type: sine, duration_s: 1}\n")
    res = cli("workflow", "run", "--phases", str(bad), code=2)
    assert "type must be one of" in res.stderr
    res = cli("workflow", "run", "--autoscale", "psychic", code=2)
    assert "unknown policy" in res.stderr
    res = cli("workflow", "start", "--phase-duration", "5", code=2)
    assert "--phase-duration goes with --phases seed" in res.stderr
    res = cli("workflow", "run", "--tasks", "0", code=2)
    assert "needs tasks" in res.stderr and "--serve" in res.stderr
    res = cli("scale", "worker", "+x", code=2)
    assert "bad replica count" in res.stderr


def test_a_stop_with_nothing_running_leaves_no_flag_for_the_next_collector(ctx):
    """A finished run's stop and a `workflow stop` with nothing running stop nothing that
    starts later: a collector invoked afterwards collects, and ends on its TERMINATE."""
    import time

    import redis

    from backends.local.client import LocalBackend
    from backends.workflow import protocol as P
    from backends.workflow.messages import Clock
    from backends.workflow.records import new_task, result_of
    from tests.conftest import run

    async def info():
        async with LocalBackend(ctx.url) as b:
            return (await b.info())["redis_url"]

    r = redis.Redis.from_url(run(info()))
    cli("workflow", "run", "--tasks", "20", "--workers", "1", "--no-progress")
    assert "no workflow is running; nothing to stop" in cli("workflow", "stop").stderr

    call_id = cli("invoke", "collector", "--async").stdout.strip().split()[-1]
    deadline = time.monotonic() + 30
    while r.hget(P.ROLES_KEY, "collector") != b"running" or not r.exists(P.lease_key("collector")):
        assert time.monotonic() < deadline, "the collector did not start"
        time.sleep(0.02)
    clock = Clock(time.time())
    task = new_task("after-the-stop", clock.now(), 0.0, clock.now())
    r.lpush(P.RESULT_QUEUE, json.dumps(result_of(task, 0.0, clock.now(), True)))
    while not r.sismember(P.DONE_KEY, "after-the-stop"):
        assert time.monotonic() < deadline, "the collector did not collect"
        time.sleep(0.02)
    assert r.hget(P.ROLES_KEY, "collector") == b"running"
    r.lpush(
        P.COLLECTOR_SYN_QUEUE,
        json.dumps({"type": "TERMINATE", "action": "SYN", "message": "done", "SYN_timestamp": 0.0}),
    )
    out = json.loads(cli("result", call_id, "--wait", "--timeout", "30", "-o", "json").stdout)
    r.close()
    assert out["result"]["reason"] == "terminate", out
