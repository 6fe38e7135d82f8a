"""The workflow as engine functions: loops started by async calls, `scale worker N`
through the Backend, the workflow's QoS in the snapshot."""

from __future__ import annotations

import json
import time

import redis

from backends.local.client import LocalBackend
from backends.workflow import protocol as P
from backends.workflow.controller import RunConfig, WorkflowController
from backends.workflow.launchers import EngineLauncher
from backends.workflow.phases import steady

from .conftest import FUNCTIONS, run


def test_workflow_on_the_engine_scales_through_backend_scale(fresh_engine):
    async def setup():
        async with fresh_engine.backend() as b:
            for role in ("emitter", "collector", "worker"):
                await b.deploy(FUNCTIONS / role)
            return (await b.info())["redis_url"]

    url = run(setup())
    r = redis.Redis.from_url(url)
    launcher = EngineLauncher(lambda: LocalBackend(fresh_engine.url))
    seen = {"scaled_up": None, "scaled_down": None, "replicas": []}

    def steer(status):
        # the same call `faastui scale worker N` and the dashboard's `s` make
        if seen["scaled_up"] is None and status.workers == 2 and status.completed >= 50:
            launcher.call(launcher.backend.scale("worker", 4))
            seen["scaled_up"] = status.completed
        elif seen["scaled_up"] is not None and seen["scaled_down"] is None and status.workers == 4:
            seen["replicas"].append(launcher.call(launcher.backend.describe("worker")).replicas)
            launcher.call(launcher.backend.scale("worker", 1))
            seen["scaled_down"] = status.completed

    config = RunConfig(tasks=600, workers=2, workload=steady(200.0, task_duration_ms=5.0), batch=1, tick_s=0.05)
    controller = WorkflowController(url, launcher, config, on_tick=steer)
    summary = controller.run(timeout_s=90)
    controller.close()

    ids = [json.loads(x)["task_id"] for x in r.lrange(P.OUTPUT_QUEUE, 0, -1)]
    assert summary.state == "done"
    assert len(ids) == 600 and len(set(ids)) == 600 and summary.lost == 0
    assert seen["scaled_up"] is not None and seen["scaled_down"] is not None
    assert seen["replicas"] == [4]  # replicas of a loop function = loops running
    assert summary.acks == 3  # 4 -> 1: three SYNs, three ACKs
    assert r.get(P.SCALE_KEY) == b"1"

    async def after():
        async with fresh_engine.backend() as b:
            snap = await b.snapshot()
            deadline = time.monotonic() + 10
            while (await b.describe("worker")).available_replicas and time.monotonic() < deadline:
                await _sleep(0.1)  # loops end after the stop; their containers go
            return snap, await b.describe("worker")

    snap, worker = run(after())
    wf = [q for q in snap.qos if q.subject == "workflow"]
    assert wf and wf[0].deadline_total == 600 and wf[0].deadline_met <= 600
    assert worker.available_replicas == 0
    r.close()


async def _sleep(s):
    import asyncio

    await asyncio.sleep(s)
