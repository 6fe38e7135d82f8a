"""QueueWatcher against a real redis-server: lengths, in-flight, rates, ages, one round trip."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis
from redis.connection import AbstractConnection

from backends.errors import BackendError, Unreachable
from backends.local.redis_server import RedisServer
from backends.queues import DEFAULT_QUEUES, QueueWatcher, redact_url


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("redis"), tcp_port=0) as srv:
        yield srv


@pytest.fixture
def r(server):
    client = redis.Redis.from_url(server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def clock(monkeypatch):
    """A fake monotonic clock for the rate computations: advance with clock[0] += dt."""
    now = [1000.0]
    monkeypatch.setattr("backends.queues.time.monotonic", lambda: now[0])
    return now


def by_name(stats):
    return {s.name: s for s in stats}


def test_default_names_and_lengths(server, r):
    r.lpush("input_queue", "a", "b", "c")
    r.lpush("result_queue", "x")
    with QueueWatcher(server.url) as watcher:
        stats = watcher.poll()
    assert [s.name for s in stats] == list(DEFAULT_QUEUES)
    got = by_name(stats)
    assert got["input_queue"].length == 3
    assert got["result_queue"].length == 1
    assert got["worker_queue"].length == 0 and got["worker_queue"].oldest_age_s is None
    assert all(s.rate_in == 0.0 and s.rate_out == 0.0 for s in stats)  # first poll


@pytest.mark.parametrize("which", ["url", "tcp_url"])
def test_unix_and_tcp_urls(server, r, which):
    r.rpush("q", *range(7))
    with QueueWatcher(getattr(server, which), ["q"]) as watcher:
        assert watcher.poll()[0].length == 7


def test_in_flight_sums_worker_lists(server, r):
    r.lpush("q", "a")
    r.lpush("q:inflight:w1", 1, 2)
    r.lpush("q:inflight:w2", 3)
    r.lpush("other:inflight:w1", 4, 5, 6, 7)  # another queue's, not watched
    r.lpush("q2:inflight:w1", 8)  # a prefix look-alike of q
    r.set("q:inflight:bogus", "not a list")  # ignored: not a list
    stats = by_name(QueueWatcher(server.url, ["q", "q2"]).poll())
    assert stats["q"].in_flight == 3
    assert stats["q2"].in_flight == 1
    assert stats["q"].length == 1


def test_counter_rates_over_two_polls(server, r, clock):
    r.set("q:stats:in", 100)
    r.set("q:stats:out", 40)
    r.lpush("q", *range(5))
    watcher = QueueWatcher(server.url, ["q"])
    first = watcher.poll()[0]
    assert (first.rate_in, first.rate_out) == (0.0, 0.0)
    r.incrby("q:stats:in", 30)
    r.incrby("q:stats:out", 10)
    r.rpop("q")  # the length delta would say something else: counters win
    clock[0] += 2.0
    second = watcher.poll()[0]
    assert second.rate_in == pytest.approx(15.0)
    assert second.rate_out == pytest.approx(5.0)


def test_delta_rates_without_counters(server, r, clock):
    r.lpush("grow", *range(3))
    r.lpush("shrink", *range(10))
    watcher = QueueWatcher(server.url, ["grow", "shrink"])
    assert all(s.rate_in == 0.0 and s.rate_out == 0.0 for s in watcher.poll())
    r.lpush("grow", *range(8))
    r.rpop("shrink", 6)
    clock[0] += 4.0
    stats = by_name(watcher.poll())
    assert (stats["grow"].rate_in, stats["grow"].rate_out) == (2.0, 0.0)
    assert (stats["shrink"].rate_in, stats["shrink"].rate_out) == (0.0, 1.5)


def test_counter_appearing_later_starts_from_zero_then_counts(server, r, clock):
    watcher = QueueWatcher(server.url, ["q"])
    watcher.poll()
    r.set("q:stats:in", 7)
    r.lpush("q", "a")
    clock[0] += 1.0
    assert watcher.poll()[0].rate_in == 1.0  # no previous counter: length delta
    r.incrby("q:stats:in", 4)
    clock[0] += 1.0
    assert watcher.poll()[0].rate_in == 4.0


def test_oldest_age_seconds_and_milliseconds(server, r):
    now = time.time()
    # producers LPUSH: the oldest item is at the right end
    r.lpush(
        "sec",
        json.dumps({"task_id": 1, "task_gen_timestamp": now - 30}),
        json.dumps({"task_id": 2, "task_gen_timestamp": now - 1}),
    )
    r.lpush("ms", json.dumps({"ts": (now - 12.5) * 1000}))
    r.lpush("emit", json.dumps({"timestamp": now - 99, "task_emit_timestamp": now - 7}))
    stats = by_name(QueueWatcher(server.url, ["sec", "ms", "emit"]).poll())
    assert stats["sec"].oldest_age_s == pytest.approx(30, abs=0.5)
    assert stats["ms"].oldest_age_s == pytest.approx(12.5, abs=0.5)
    assert stats["emit"].oldest_age_s == pytest.approx(7, abs=0.5)  # field order decides


def test_oldest_age_left_pop_end(server, r):
    now = time.time()
    r.rpush("q", json.dumps({"ts": now - 50}), json.dumps({"ts": now - 3}))
    assert QueueWatcher(server.url, ["q"], pop_end="left").poll()[0].oldest_age_s == pytest.approx(50, abs=0.5)
    assert QueueWatcher(server.url, ["q"]).poll()[0].oldest_age_s == pytest.approx(3, abs=0.5)


@pytest.mark.parametrize(
    "item",
    [
        b"plain text",
        b"\xff\xfe binary",
        b"[1, 2]",
        b"42",
        json.dumps({"task_id": 1}).encode(),
        json.dumps({"ts": "soon"}).encode(),
    ],
)
def test_oldest_age_none_without_timestamp(server, r, item):
    r.lpush("q", item)
    stat = QueueWatcher(server.url, ["q"]).poll()[0]
    assert stat.length == 1 and stat.oldest_age_s is None


def test_big_item_is_searched_only_in_its_head(server, r):
    now = time.time()
    r.lpush("head", json.dumps({"ts": now - 20, "payload": "x" * 100_000}))
    r.lpush("tail", json.dumps({"payload": "x" * 1000, "ts": now - 20}))
    r.lpush("small", json.dumps({"payload": "x" * 100, "ts": now - 20}))
    stats = by_name(QueueWatcher(server.url, ["head", "tail", "small"], max_item_bytes=256).poll())
    assert stats["head"].oldest_age_s == pytest.approx(20, abs=0.5)  # found textually
    assert stats["tail"].oldest_age_s is None  # beyond the first 256 bytes
    assert stats["small"].oldest_age_s == pytest.approx(20, abs=0.5)  # decoded as JSON


def test_counters_that_are_not_numbers_fall_back_to_length_delta(server, r, clock):
    r.set("q:stats:in", "lots")
    r.hset("q:stats:out", "f", "v")  # not even a string
    watcher = QueueWatcher(server.url, ["q"])
    watcher.poll()
    r.lpush("q", 1, 2)
    clock[0] += 1.0
    stat = watcher.poll()[0]
    assert (stat.rate_in, stat.rate_out) == (2.0, 0.0)


def test_patterns_expand_to_lists_only(server, r):
    r.lpush("jobs:b", 1, 2)
    r.lpush("jobs:a", 1)
    r.lpush("jobs:c", 1, 2, 3)
    r.set("jobs:string", "x")
    r.hset("jobs:hash", "f", "v")
    r.lpush("jobs:a:inflight:w1", 9, 9)  # in-flight of jobs:a, not a queue itself
    r.set("jobs:a:stats:in", 5)  # a counter, not a queue
    r.lpush("other", 1)
    stats = QueueWatcher(server.url, names=["input_queue"], patterns=["jobs:*"]).poll()
    assert [s.name for s in stats] == ["input_queue", "jobs:a", "jobs:b", "jobs:c"]
    got = by_name(stats)
    assert got["jobs:a"].in_flight == 2
    assert [got[n].length for n in ("jobs:a", "jobs:b", "jobs:c")] == [1, 2, 3]


def test_patterns_alone_do_not_add_defaults_and_dedupe(server, r):
    r.lpush("jobs:a", 1)
    r.lpush("tasks:a", 1)
    stats = QueueWatcher(server.url, patterns=["jobs:*", "*:a"]).poll()
    assert [s.name for s in stats] == ["jobs:a", "tasks:a"]


def test_many_keys_scanned_across_pages(server, r):
    with r.pipeline(transaction=False) as pipe:
        for i in range(2500):
            pipe.lpush(f"bulk:{i:04d}", i)
        for i in range(30):
            pipe.lpush(f"bulk:0007:inflight:w{i}", i)
        pipe.execute()
    stats = QueueWatcher(server.url, names=[], patterns=["bulk:*"]).poll()
    assert len(stats) == 2500
    assert by_name(stats)["bulk:0007"].in_flight == 30


def test_named_key_that_is_not_a_list_is_an_error(server, r):
    r.set("input_queue", "oops")
    with pytest.raises(BackendError, match="'input_queue'.*not a list"):
        QueueWatcher(server.url).poll()


def test_poll_is_one_round_trip(server, r, monkeypatch):
    r.lpush("jobs:a", json.dumps({"ts": time.time()}))
    r.lpush("jobs:a:inflight:w", 1)
    watcher = QueueWatcher(server.tcp_url, patterns=["jobs:*"], names=list(DEFAULT_QUEUES))
    watcher.poll()  # loads the script on first use
    sent, reads = [], []
    real_send, real_read = AbstractConnection.send_packed_command, AbstractConnection.read_response

    def send(self, *args, **kwargs):
        sent.append(args)
        return real_send(self, *args, **kwargs)

    def read(self, *args, **kwargs):
        reads.append(1)
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", send)
    monkeypatch.setattr(AbstractConnection, "read_response", read)
    stats = watcher.poll()
    assert len(stats) == 7
    assert len(sent) == 1 and len(reads) == 1
    assert b"EVALSHA" in b"".join(bytes(part) for part in sent[0][0])


def test_script_reloaded_after_flush(server, r):
    watcher = QueueWatcher(server.url, ["q"])
    watcher.poll()
    r.script_flush()
    r.lpush("q", 1)
    assert watcher.poll()[0].length == 1


def test_apoll_runs_in_a_thread(server, r):
    r.lpush("q", 1, 2)
    watcher = QueueWatcher(server.url, ["q"])

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        stats = await watcher.apoll()
        task.cancel()
        return stats, ticks

    stats, ticks = asyncio.run(main())
    assert stats[0].length == 2
    assert ticks > 0  # the loop kept running while poll ran


def test_unreachable_unix_socket(tmp_path):
    url = f"unix://{tmp_path}/missing.sock"
    with pytest.raises(Unreachable, match="missing.sock.*unreachable"):
        QueueWatcher(url).poll()


def test_unreachable_tcp_hides_password(server):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"redis://alice:s3cret@127.0.0.1:{port}/0"
    started = time.monotonic()
    with pytest.raises(Unreachable) as info:
        QueueWatcher(url, timeout=1.0).poll()
    assert time.monotonic() - started < 3
    message = str(info.value)
    assert "s3cret" not in message and "alice:***@127.0.0.1" in message
    assert info.value.exit_code == 4 and "\n" not in message


def test_redact_url():
    assert redact_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert (
        redact_url("rediss://u:pw@h/1?password=pw&ssl_cert_reqs=none")
        == "rediss://u:***@h/1?password=%2A%2A%2A&ssl_cert_reqs=none"
    )
    assert redact_url("unix:///tmp/r.sock") == "unix:///tmp/r.sock"
    assert redact_url("unix:///tmp/r.sock?db=0&password=pw") == "unix:///tmp/r.sock?db=0&password=%2A%2A%2A"


def test_bad_url_is_backend_error():
    with pytest.raises(BackendError, match="invalid Redis URL"):
        QueueWatcher("http://:pw@example.com")
    with pytest.raises(ValueError):
        QueueWatcher("redis://x", pop_end="middle")
