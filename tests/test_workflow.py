"""The workflow against a real redis-server with real worker processes.

No loss and no duplicates while workers are SIGKILLed and the pool scales at
random; graceful scale-down where every stopped worker ACKs; the reaper and
the collector's idempotence on their own.
"""

from __future__ import annotations

import json
import random
import time
import uuid

import pytest
import redis

from backends.local.redis_server import RedisServer
from backends.workflow import protocol as P
from backends.workflow.collector import collect_once
from backends.workflow.controller import RunConfig, WorkflowController, read_status
from backends.workflow.launchers import ProcessLauncher
from backends.workflow.messages import Clock
from backends.workflow.phases import steady
from backends.workflow.reaper import reap


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("wf-redis")) as srv:
        yield srv


@pytest.fixture
def r(server):
    client = redis.Redis.from_url(server.url)
    client.flushall()
    yield client
    client.close()


def output_ids(r) -> list[str]:
    return [json.loads(x)["task_id"] for x in r.lrange(P.OUTPUT_QUEUE, 0, -1)]


def test_1000_tasks_survive_sigkill_and_random_scaling(server, r):
    """Workers are SIGKILLed and the pool resized at random: exactly 1,000 results, none twice."""
    launcher = ProcessLauncher(server.url)
    rng = random.Random(5)
    kills, resizes = [], []
    controller = None

    def chaos(status):
        if status.completed >= 950:
            return
        roll = rng.random()
        workers = [k for k in launcher.alive("worker")]
        if roll < 0.12 and workers:
            victim = rng.choice(workers)
            if launcher.kill(victim):
                kills.append(victim)
        elif roll < 0.20:
            n = rng.randint(1, 8)
            controller.scale(n)
            resizes.append(n)

    config = RunConfig(
        tasks=1000, workers=4, workload=steady(500.0, task_duration_ms=4.0), batch=10, heartbeat_ttl_s=0.6, tick_s=0.05
    )
    controller = WorkflowController(server.url, launcher, config, on_tick=chaos)
    summary = controller.run(timeout_s=60)
    controller.close()
    print(f"kills={len(kills)} resizes={resizes} {summary.to_dict()}")

    ids = output_ids(r)
    assert summary.state == "done"
    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert int(r.get(P.ENQUEUED_KEY)) == 1000  # every task pushed was collected, once
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert summary.completed == 1000 and summary.lost == 0 and summary.duplicates == 0
    assert len(kills) >= 3 and len(resizes) >= 3
    assert summary.reaped_workers >= 1  # dead workers were found and their tasks returned
    assert not launcher.procs  # every process joined
    assert r.llen(P.WORKER_QUEUE) == 0 and not list(r.scan_iter(match=P.inflight_key("*")))


def test_graceful_scale_down_acks_and_loses_nothing(server, r):
    launcher = ProcessLauncher(server.url)
    scaled = []

    def shrink(status):
        if not scaled and status.completed >= 100 and status.workers == 6:
            controller.scale(2)
            scaled.append(status.completed)

    config = RunConfig(
        tasks=600, workers=6, workload=steady(250.0, task_duration_ms=10.0), batch=1, heartbeat_ttl_s=2.0, tick_s=0.05
    )
    controller = WorkflowController(server.url, launcher, config, on_tick=shrink)
    summary = controller.run(timeout_s=60)
    controller.close()

    assert scaled, "the pool never reached 6 workers"
    ids = output_ids(r)
    assert len(ids) == 600 and len(set(ids)) == 600
    assert summary.lost == 0 and summary.duplicates == 0
    # four workers were told to stop and each acknowledged after its current task
    acked = [a["pod_name"] for a in controller.acks]
    assert len(acked) == 4 and len(set(acked)) == 4
    assert all(a["type"] == "SCALE_DOWN" and a["action"] == "ACK" for a in controller.acks)
    # the controller's own ACKs stay off the seed's queue (its scaler reads that one)
    assert r.llen(P.ACK_QUEUE) == 0 and summary.external_scale_downs == 0
    # graceful: nobody had to be reaped, no task went back to the queue
    assert summary.requeued == 0 and summary.reaped_workers == 0
    starts = [json.loads(x)["pod_name"] for x in r.lrange(P.WORKER_START_QUEUE, 0, -1)]
    assert set(acked) <= set(starts) and len(starts) == 6


def test_loops_left_by_an_earlier_run_do_not_inflate_the_next_runs_count(server, r):
    """The soak's stalled runs reported more tasks emitted than they had (2,634 and 5,748
    of 1,500): loops of a run that ended without its own stop (its controller failed; the
    soak then set the stop flag and started the next run at once, whose start cleared
    the flag before they looked) lived on, and every such emitter served the next run's
    item too, from the one shared in-flight list, pushing and counting its tasks again.
    Now a run's start stops the loops it finds (workers' heartbeats and the emitter's and
    the collector's leases) before it clears anything, a stop applies to the loops
    running when it was asked, and a push needs the emitter's lease: the count is the
    run's, and the output has each task once."""
    import multiprocessing as mp

    from backends.workflow.collector import run_collector
    from backends.workflow.emitter import run_emitter

    ctx = mp.get_context("fork")
    leftovers = [
        ctx.Process(target=run_emitter, args=(server.url,), daemon=True),
        ctx.Process(target=run_emitter, args=(server.url,), daemon=True),
        ctx.Process(target=run_collector, args=(server.url,), daemon=True),
    ]
    for proc in leftovers:
        proc.start()
    deadline = time.monotonic() + 30
    while not (r.exists(P.lease_key("emitter")) and r.exists(P.lease_key("collector"))):
        assert time.monotonic() < deadline, "the leftover loops did not start"
        time.sleep(0.02)
    config = RunConfig(
        tasks=300, workers=2, workload=steady(300.0, task_duration_ms=1.0), heartbeat_ttl_s=1.0, tick_s=0.05
    )
    controller = WorkflowController(server.url, ProcessLauncher(server.url), config)
    summary = controller.run(timeout_s=60)
    controller.close()
    for proc in leftovers:
        proc.join(30)
        assert not proc.is_alive(), "a leftover loop outlived the next run"
    assert summary.state == "done" and summary.lost == 0
    assert summary.enqueued_total == 300 == int(r.get(P.ENQUEUED_KEY))
    assert int(r.hget(P.STATS_KEY, "emitted")) == 300 and summary.duplicates_dropped == 0
    ids = output_ids(r)
    assert len(ids) == len(set(ids)) == 300


def test_reaper_returns_tasks_of_a_dead_worker_only(r):
    for i in range(5):
        r.lpush(P.inflight_key("dead-1"), json.dumps({"task_id": f"d{i}"}))
    r.lpush(P.inflight_key("alive-1"), json.dumps({"task_id": "a0"}))
    r.set(P.hb_key("alive-1"), "1", px=5000)
    r.hset(P.WORKERS_KEY, mapping={"dead-1": "running", "alive-1": "running", "idle-dead": "running"})
    assert reap(r) == {"dead-1": 5, "idle-dead": 0}
    # oldest taken task (pushed first, at the right) is served first again
    assert json.loads(r.lindex(P.WORKER_QUEUE, -1))["task_id"] == "d0"
    assert r.llen(P.WORKER_QUEUE) == 5 and r.llen(P.inflight_key("alive-1")) == 1
    assert r.exists(P.dead_key("dead-1")) and r.hkeys(P.WORKERS_KEY) == [b"alive-1"]
    assert reap(r) == {}  # idempotent


def test_fenced_worker_cannot_store_results(r):
    """A stalled worker whose tasks were reaped must not add a second result."""
    flush = r.register_script(P.FLUSH_LUA)
    task = json.dumps({"task_id": "x"})
    r.lpush(P.inflight_key("slow"), task)
    reap(r)  # no heartbeat: reaped, fenced
    keys = [P.RESULT_QUEUE, P.inflight_key("slow"), P.dead_key("slow"), "a", "b"]
    assert flush(keys=keys, args=[1, json.dumps({"task_id": "x", "late": True}), task]) == -1
    assert r.llen(P.RESULT_QUEUE) == 0 and r.llen(P.WORKER_QUEUE) == 1


def test_collector_keeps_each_task_id_once(r):
    def result(i, gen):
        return json.dumps(
            {
                "task_id": f"t{i}",
                "task_gen_timestamp": gen,
                "task_deadline": 5.0,
                "task_work_timestamp": gen + 0.1,
                "status": "completed",
            }
        )

    clock = Clock(time.time())
    for i in [1, 2, 2, 3, 1, 1]:
        r.lpush(P.RESULT_QUEUE, result(i, clock.now()))
    assert collect_once(r, clock) == (3, 3, 3)
    r.lpush(P.RESULT_QUEUE, result(2, clock.now() - 60))  # late: a duplicate all the same
    r.lpush(P.RESULT_QUEUE, b"not json")  # a bad item goes on as a missed task, never lost
    assert collect_once(r, clock) == (1, 1, 0)
    ids = sorted(output_ids(r))
    assert ids[1:] == ["t1", "t2", "t3"] and ids[0].startswith("rejected-")
    stats = r.hgetall(P.STATS_KEY)
    assert stats[b"completed"] == b"4" and stats[b"duplicates"] == b"4"
    assert r.llen("result_queue:inflight:collector") == 0


def test_status_reads_a_finished_run(server, r):
    launcher = ProcessLauncher(server.url)
    controller = WorkflowController(server.url, launcher, RunConfig(tasks=200, workers=2, tick_s=0.05))
    summary = controller.run(timeout_s=30)
    controller.close()
    st = read_status(r)
    assert st.state == "done" and st.completed == 200 and st.tasks == 200
    assert st.qos is not None and 0.0 <= st.qos <= 1.0
    assert summary.mean_workers > 0
