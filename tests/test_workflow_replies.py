"""Replies lost on purpose: every workflow script is safe to run twice.

redis-py sends a command again when its connection drops before the reply; a
script that ran and whose reply was lost then runs twice. A TCP proxy (real
sockets on loopback, in front of a real redis-server) forwards a chosen script
call to Redis, lets it run, throws its reply away and closes the connection:
the loop under test reconnects and sends it again. Nothing may be stranded in a
live worker's in-flight list, stored twice, pushed twice or skipped.

Two emitters serving one input item at once (a stalled one and the one that
took over) push exactly the item's tasks between them: the count
``worker_queue:enqueued_total`` is the run's, not a multiple of it.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time

import pytest
import redis

from backends.local.redis_server import RedisServer
from backends.workflow import protocol as P
from backends.workflow._redis import connect
from backends.workflow.collector import COLLECTOR_INFLIGHT, collect_once
from backends.workflow.emitter import run_emitter
from backends.workflow.messages import Clock
from backends.workflow.phases import steady
from backends.workflow.records import new_task
from backends.workflow.worker import run_worker

FAILSAFE_S = 30.0


def sha(script: str) -> bytes:
    return hashlib.sha1(script.encode()).hexdigest().encode()


class LosingProxy:
    """Loopback TCP proxy to Redis that loses the reply of the first ``times`` requests
    containing ``pattern`` (after Redis ran them), closing that client connection."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pattern: bytes | None = None
        self.times = 0
        self.lost = 0
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def lose(self, pattern: bytes, times: int = 1) -> None:
        with self._lock:
            self.pattern, self.times = pattern, times

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            state = {"drop": False}
            threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, state), daemon=True).start()

    def _up(self, client, server, state) -> None:
        try:
            while data := client.recv(65536):
                with self._lock:
                    if self.pattern and self.times > 0 and self.pattern in data:
                        self.times -= 1
                        state["drop"] = True
                server.sendall(data)
        except OSError:
            pass
        finally:
            _close(server)

    def _down(self, server, client, state) -> None:
        try:
            while data := server.recv(65536):
                if state["drop"]:  # Redis ran it; its reply never arrives
                    with self._lock:
                        self.lost += 1
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(server)

    def close(self) -> None:
        self._closed = True
        _close(self.listener)


def _close(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("replies-redis"), tcp_port=0) as srv:
        yield srv


@pytest.fixture
def r(server):
    client = redis.Redis.from_url(server.url)
    client.flushall()
    client.hset(P.RUN_KEY, "program_start", repr(time.time()))
    for script in (P.TAKE_LUA, P.FLUSH_LUA, P.EMIT_LUA, P.COLLECT_KEEP_LUA, P.ACK_LUA):
        client.script_load(script)  # so the call whose reply is lost is the one that runs
    yield client
    client.close()


@pytest.fixture
def proxy(server):
    p = LosingProxy(server.tcp_port)
    yield p
    p.close()


def push_tasks(r, n: int) -> list[str]:
    clock = Clock(time.time())
    tasks = [json.dumps(new_task(f"t-{i:03d}", clock.now(), 0.0, clock.now())) for i in range(n)]
    r.lpush(P.WORKER_QUEUE, *tasks)
    return [json.loads(t)["task_id"] for t in tasks]


def in_thread(fn, *args, **kwargs) -> dict:
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(fn(*args, **kwargs)), daemon=True)
    thread.start()
    thread.join(FAILSAFE_S)
    assert not thread.is_alive(), f"{fn.__name__} did not finish (a task was stranded?)"
    return out


def result_ids(r) -> list[str]:
    return [json.loads(x)["task_id"] for x in r.lrange(P.RESULT_QUEUE, 0, -1)]


def test_a_take_whose_reply_was_lost_strands_nothing(r, proxy):
    ids = push_tasks(r, 20)
    proxy.lose(sha(P.TAKE_LUA))
    out = in_thread(run_worker, proxy.url, "w-take", batch=5, max_tasks=20)
    assert proxy.lost == 1, "a take's reply was lost"
    assert out["reason"] == "max" and out["tasks"] == 20
    assert sorted(result_ids(r)) == ids, "every task answered exactly once"
    assert r.llen(P.inflight_key("w-take")) == 0, "nothing left in the worker's in-flight list"


def test_a_flush_whose_reply_was_lost_stores_nothing_twice(r, proxy):
    ids = push_tasks(r, 20)
    proxy.lose(sha(P.FLUSH_LUA))
    out = in_thread(run_worker, proxy.url, "w-flush", batch=5, max_tasks=20)
    assert proxy.lost == 1 and out["tasks"] == 20
    assert sorted(result_ids(r)) == ids, "each result stored once"
    assert int(r.get(f"{P.RESULT_QUEUE}:stats:in")) == 20


def test_an_emit_whose_reply_was_lost_pushes_nothing_twice(r, proxy):
    spec = {"type": "workload", "run_id": "x", "tasks": 300, "workload": steady(0.0, task_duration_ms=1.0).to_dict()}
    r.lpush(P.INPUT_QUEUE, json.dumps(spec))
    proxy.lose(sha(P.EMIT_LUA), times=3)
    out = in_thread(run_emitter, proxy.url, once=True)
    assert proxy.lost == 3 and out["reason"] == "done"
    ids = [json.loads(x)["task_id"] for x in r.lrange(P.WORKER_QUEUE, 0, -1)]
    assert len(ids) == len(set(ids)) == 300 == int(r.get(P.ENQUEUED_KEY))
    assert int(r.hget(P.STATS_KEY, "emitted")) == 300


def test_a_keep_whose_reply_was_lost_counts_no_duplicate(r, server, proxy):
    ids = push_tasks(r, 10)
    assert in_thread(run_worker, server.tcp_url, "w-k", max_tasks=10)["tasks"] == 10
    c = connect(proxy.url)
    proxy.lose(sha(P.COLLECT_KEEP_LUA))
    kept, dups, _ = collect_once(c)
    c.close()
    assert proxy.lost == 1 and (kept, dups) == (0, 0), "the second run found it done"
    out = sorted(json.loads(x)["task_id"] for x in r.lrange(P.OUTPUT_QUEUE, 0, -1))
    assert out == ids and not r.llen(COLLECTOR_INFLIGHT)
    assert int(r.hget(P.STATS_KEY, "completed")) == 10 and not r.hget(P.STATS_KEY, "duplicates")


def test_an_ack_whose_reply_was_lost_is_pushed_once(r, proxy):
    syn = json.dumps({"type": "SCALE_DOWN", "action": "SYN", "message": "by hand", "SYN_timestamp": 0.0})
    r.lpush(P.SYN_QUEUE, syn)
    proxy.lose(sha(P.ACK_LUA))
    out = in_thread(run_worker, proxy.url, "w-ack")
    assert proxy.lost == 1 and out["reason"] == "scale_down"
    acks = [json.loads(x) for x in r.lrange(P.ACK_QUEUE, 0, -1)]
    assert [a["pod_name"] for a in acks] == ["w-ack"], "one ACK"


def test_two_emitters_on_one_item_push_its_tasks_once(r, server):
    """An emitter stalls (its lease is taken from it mid-item) while a second one waits
    for the lease: the second resumes from the progress, the first is fenced, and
    between them exactly the item's tasks are pushed and counted."""
    spec = {"type": "workload", "run_id": "x", "tasks": 400, "workload": steady(200.0, task_duration_ms=1.0).to_dict()}
    r.lpush(P.INPUT_QUEUE, json.dumps(spec))
    outs: list[dict] = []
    threads = [
        threading.Thread(target=lambda: outs.append(run_emitter(server.url, once=True, lease_ttl_s=0.3)), daemon=True)
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + FAILSAFE_S
    while int(r.get(P.ENQUEUED_KEY) or 0) < 100:
        assert time.monotonic() < deadline, "no emitter emitting"
        time.sleep(0.01)
    r.set(P.lease_key("emitter"), "a-stall", px=500)  # as if its holder stalled past its TTL
    for t in threads:
        t.join(FAILSAFE_S)
        assert not t.is_alive()
    assert sorted(o["reason"] for o in outs) == ["done", "fenced"], outs
    ids = [json.loads(x)["task_id"] for x in r.lrange(P.WORKER_QUEUE, 0, -1)]
    assert len(ids) == len(set(ids)) == 400 == int(r.get(P.ENQUEUED_KEY))
    assert int(r.hget(P.STATS_KEY, "emitted")) == 400
    assert not r.llen(f"{P.INPUT_QUEUE}:inflight:emitter")
