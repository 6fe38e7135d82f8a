"""The seed workflow's own scripts, played with redis-py alone, steer a faastui run.

A run is started in the background on the real engine (`faastui workflow start`),
grown with `faastui scale worker +2`, and then treated exactly as the seed's
scaler and RL environment treat theirs: one SCALE_DOWN SYN in the seed's format
pushed onto ``worker_control_syn_queue``, its ACK read from
``worker_control_ack_queue``, the pool counted, TERMINATE pushed on the three
control queues. Every record is checked field by field against the seed's format.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import redis

from tests.conftest import cli, live, run

TASK_FIELDS = {
    "task_id": str,
    "task_gen_timestamp": float,
    "task_application": str,
    "task_priority": str,
    "task_expected_duration": float,
    "task_data_size": int,
    "task_deadline": float,
    "task_processing_time_simulated": float,
    "task_emit_timestamp": float,
    "task_emit_time": float,
}
OUTPUT_FIELDS = {
    "task_id": str,
    "task_application": str,
    "task_gen_timestamp": float,
    "task_result_data": type(None),
    "task_emit_time": float,
    "task_emit_timestamp": float,
    "task_deadline": float,
    "task_collect_time": float,
    "task_collect_timestamp": float,
    "task_output_size": type(None),
    "task_work_time": float,
    "task_work_timestamp": float,
    "task_completion_time": float,
    "task_QoS": bool,
}


def wait_for(what, check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def status():
    return json.loads(cli("workflow", "status", "-o", "json").stdout)


@pytest.fixture()
def seed_redis(engine):
    cli("context", "add", "seed", "--url", engine.url, "--use")

    async def url():
        async with engine.backend() as b:
            return (await b.info())["redis_url"]

    client = redis.Redis.from_url(run(url()))
    yield client
    client.close()


def test_the_seed_scaler_steers_a_background_run(seed_redis, tmp_path):
    r = seed_redis
    started = json.loads(
        cli(
            "workflow",
            "start",
            "--workers",
            "3",
            "--tasks",
            "150",
            "--rate",
            "25",
            "--duration-ms",
            "60",
            "--serve",
            "-o",
            "json",
        ).stdout
    )
    pid = started["pid"]
    assert started["run_id"] and started["redis_url"]
    wait_for("3 workers", lambda: status()["workers"] == 3)

    # faastui adds 2 from another shell while tasks flow
    scaled = json.loads(cli("scale", "worker", "+2", "-o", "json").stdout)
    assert scaled["name"] == "worker" and scaled["replicas"] == 5
    wait_for("5 workers", lambda: status()["workers"] == 5)

    # the seed's scaler: one SYN, exactly its format, then wait for the ACK
    syn = {"type": "SCALE_DOWN", "action": "SYN", "message": "Scale down request from RL agent", "SYN_timestamp": 12.5}
    r.lpush("worker_control_syn_queue", json.dumps(syn))
    raw = wait_for("the ACK", lambda: r.rpop("worker_control_ack_queue"), timeout=30)
    ack = json.loads(raw)
    assert list(ack) == ["type", "action", "ack_timestamp", "task_id", "pod_name", "message"]
    assert ack["type"] == "SCALE_DOWN" and ack["action"] == "ACK" and ack["task_id"] is None
    assert isinstance(ack["ack_timestamp"], float) and ack["ack_timestamp"] > 0
    assert ack["message"] == "Worker pod is exiting as instructed."
    starts = [json.loads(x) for x in r.lrange("worker_start_queue", 0, -1)]
    assert ack["pod_name"] in {s["pod_name"] for s in starts}

    # the pool stays one smaller: nobody starts a replacement for the worker that left
    s = wait_for("4 workers", lambda: (st := status())["workers"] == 4 and st["stopping"] == 0 and st)
    assert s["desired"] == 4 and s["external_scale_downs"] == 1
    ticks = s["elapsed_s"]
    wait_for("two more seconds of the run", lambda: status()["elapsed_s"] > ticks + 2)
    s = status()
    assert s["workers"] == 4 and s["desired"] == 4
    assert r.llen("worker_start_queue") == 5  # 3 + 2, no replacement
    assert r.llen("worker_control_ack_queue") == 0

    # every task collected, then the seed's env.close(): TERMINATE to every loop
    wait_for("150 tasks collected", lambda: status()["completed"] == 150, timeout=90)
    term = {
        "type": "TERMINATE",
        "action": "SYN",
        "message": "Terminate function from RL environment",
        "SYN_timestamp": 99.0,
    }
    r.lpush("emitter_control_syn_queue", json.dumps(term))
    r.lpush("worker_control_syn_queue", *[json.dumps(term)] * 4)
    r.lpush("collector_control_syn_queue", json.dumps(term))
    wait_for("the run to end", lambda: status()["state"] == "terminated", timeout=30)
    wait_for("the controller to exit", lambda: not live([pid]), timeout=30)
    assert r.llen("worker_control_syn_queue") == 0 and not r.hlen("workflow:workers")

    # the records: every seed field with the seed's type, each task exactly once
    outputs = [json.loads(x) for x in r.lrange("output_queue", 0, -1)]
    assert len(outputs) == 150 == int(r.get("worker_queue:enqueued_total"))
    assert len({o["task_id"] for o in outputs}) == 150
    for o in outputs:
        assert list(o) == list(OUTPUT_FIELDS)
        for key, kind in OUTPUT_FIELDS.items():
            assert type(o[key]) is kind, (key, o[key])
        assert uuid.UUID(o["task_id"]).version == 4
        assert o["task_QoS"] == (o["task_completion_time"] <= o["task_deadline"])
        assert o["task_collect_timestamp"] >= o["task_work_timestamp"] >= o["task_emit_timestamp"]
    # START of every loop, WORKFLOW_INIT once, in the seed's formats
    for q, n in (("worker_start_queue", 5), ("emitter_start_queue", 1), ("collector_start_queue", 1)):
        msgs = [json.loads(x) for x in r.lrange(q, 0, -1)]
        assert len(msgs) == n
        for m in msgs:
            assert list(m) == ["type", "action", "start_timestamp", "pod_name", "message"]
            assert m["type"] == "START" and m["action"] == "SYNC"
            assert isinstance(m["start_timestamp"], str) and float(m["start_timestamp"]) >= 0
            assert m["message"] == f"{m['pod_name']} is ready to start processing tasks."
    init = [json.loads(x) for x in r.lrange("workflow_init_syn_queue", 0, -1)]
    assert len(init) == 1
    assert list(init[0]) == ["type", "action", "message", "SYN_timestamp", "program_start_time"]
    assert init[0]["type"] == "WORKFLOW_INIT" and init[0]["program_start_time"].endswith("+00:00")


def test_a_seed_emitters_tasks_run_on_faastui_workers(seed_redis):
    """Tasks in the seed's format pushed straight onto worker_queue (as its generator
    does) come back as seed results and outputs."""
    r = seed_redis
    cli("workflow", "start", "--workers", "2", "--serve", "-o", "json")
    wait_for("2 workers", lambda: status()["workers"] == 2)
    now = float(status()["elapsed_s"])
    ids = [str(uuid.uuid4()) for _ in range(20)]
    for tid in ids:
        task = {
            "task_id": tid,
            "task_gen_timestamp": now,
            "task_application": "image_processing",
            "task_priority": "normal",
            "task_expected_duration": 0.02,
            "task_data_size": 512,
            "task_deadline": 30.0,
            "task_processing_time_simulated": 0.02,
            "task_emit_timestamp": now,
            "task_emit_time": 0.0,
        }
        assert list(task) == list(TASK_FIELDS)
        r.lpush("worker_queue", json.dumps(task))
    wait_for("20 outputs", lambda: r.llen("output_queue") == 20, timeout=30)
    outs = {json.loads(x)["task_id"]: json.loads(x) for x in r.lrange("output_queue", 0, -1)}
    assert set(outs) == set(ids)
    assert all(o["task_QoS"] is True for o in outs.values())
    cli("workflow", "stop")
    wait_for("the run to stop", lambda: status()["state"] == "stopped", timeout=30)
