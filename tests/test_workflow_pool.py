"""The worker pool's launch timeout (``--launch-timeout``): a launch that does not register
in time is noted and no longer counted, so the next reconcile starts another; one that
registers in time is counted as live. Real Redis; the launcher only records its calls."""

from __future__ import annotations

import time
from types import SimpleNamespace

import redis

from backends.local.redis_server import RedisServer
from backends.workflow.pool import WorkerPool


class RecordingLauncher:
    def __init__(self):
        self.launched: list[str] = []

    def launch(self, role, payload):
        self.launched.append(payload["worker_id"])
        return payload["worker_id"]

    def poll(self):
        pass


def make_pool(r, launch_timeout_s):
    notes: list[str] = []
    config = SimpleNamespace(launch_timeout_s=launch_timeout_s, batch=1, heartbeat_ttl_s=10.0, work=None)
    pool = WorkerPool(
        r, RecordingLauncher(), config, "run1", lambda role, **extra: dict(extra), notes.append, lambda: None
    )
    return pool, notes


def test_a_launch_that_does_not_register_in_time_is_noted_and_dropped(tmp_path):
    with RedisServer(tmp_path / "redis") as srv:
        r = redis.Redis.from_url(srv.url)
        pool, notes = make_pool(r, launch_timeout_s=40.0)
        pool.launch()
        (wid,) = pool.pending
        t0 = pool.pending[wid]
        pool.track({"workers": []}, t0 + 39.0)  # within the timeout: still on its way
        assert wid in pool.pending and notes == []
        pool.track({"workers": []}, t0 + 41.0)
        assert wid not in pool.pending
        assert notes == [f"worker {wid} did not start within 40 s"]
        r.close()


def test_a_launch_that_registers_in_time_is_live(tmp_path):
    with RedisServer(tmp_path / "redis") as srv:
        r = redis.Redis.from_url(srv.url)
        pool, notes = make_pool(r, launch_timeout_s=40.0)
        pool.launch()
        (wid,) = pool.pending
        pool.track({"workers": [[wid, 0, 1]]}, time.monotonic())
        assert pool.pending == {} and wid in pool.launched and notes == []
        r.close()
