"""Benchmark QueueWatcher.poll() for 100 queues against a plain LLEN pipeline.

Starts a private redis-server (backends.local.redis_server) in a temp dir,
fills 100 queues with JSON items, in-flight lists and counters, then times
``poll()`` over TCP and the Unix socket next to a baseline in the same run: a
redis-py pipeline of 100 LLEN (which gives far less: lengths only). Goal from
the issue: poll median <= 2 ms for 100 queues.

    .venv/bin/python bench/queues.py [--polls 500] [--queues 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from backends.local.redis_server import RedisServer  # noqa: E402
from backends.queues import QueueWatcher  # noqa: E402

GOAL_MS = 2.0


def fill(client: redis.Redis, queues: int) -> list[str]:
    now = time.time()
    names = [f"bench:q{i:03d}" for i in range(queues)]
    with client.pipeline(transaction=False) as pipe:
        for i, name in enumerate(names):
            items = [
                json.dumps(
                    {"task_id": f"{i}-{j}", "task_gen_timestamp": now - j, "task_deadline": 1.0, "payload": "x" * 64}
                )
                for j in range(i % 20 + 1)
            ]
            pipe.lpush(name, *items)
            for worker in range(i % 3):
                pipe.lpush(f"{name}:inflight:w{worker}", *items[:2])
            pipe.set(f"{name}:stats:in", 1000 + i)
            pipe.set(f"{name}:stats:out", 900 + i)
        pipe.execute()
    return names


def timed(fn, runs: int) -> list[float]:
    for _ in range(min(50, runs)):  # warm up: connection, script cache, CPU clocks
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=500)
    parser.add_argument("--queues", type=int, default=100)
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="faastui-bench-") as tmp:
        started = time.perf_counter()
        server = RedisServer(Path(tmp), tcp_port=0).start()
        start_ms = (time.perf_counter() - started) * 1000.0
        try:
            setup = redis.Redis.from_url(server.url)
            names = fill(setup, opts.queues)
            keys = setup.dbsize()
            print(f"redis-server up in {start_ms:.1f} ms; {opts.queues} queues, {keys} keys, {opts.polls} polls each\n")
            print(f"{'transport':9}  {'what':28} {'median ms':>9} {'p99 ms':>8} {'x LLEN pipe':>11}")
            worst = 0.0
            for transport, url in (("tcp", server.tcp_url), ("unix", server.url)):
                watcher = QueueWatcher(url, names)
                assert len(watcher.poll()) == opts.queues
                plain = redis.Redis.from_url(url)

                def pipeline_llen(plain=plain):
                    with plain.pipeline(transaction=False) as pipe:
                        for name in names:
                            pipe.llen(name)
                        return pipe.execute()

                base_med, base_p99 = summary(timed(pipeline_llen, opts.polls))
                setup.config_resetstat()
                poll_med, poll_p99 = summary(timed(watcher.poll, opts.polls))
                script_ms = setup.info("commandstats")["cmdstat_evalsha"]["usec_per_call"] / 1000
                worst = max(worst, poll_med)
                print(f"{transport:9}  {'pipeline of LLEN (baseline)':28} {base_med:9.3f} {base_p99:8.3f} {1.0:11.2f}")
                print(
                    f"{transport:9}  {'QueueWatcher.poll()':28} {poll_med:9.3f} "
                    f"{poll_p99:8.3f} {poll_med / base_med:11.2f}"
                )
                print(f"{transport:9}  {'  of which script in server':28} {script_ms:9.3f} (mean)")
                watcher.close()
                plain.close()
            setup.close()
        finally:
            server.stop()
    verdict = "meets" if worst <= GOAL_MS else "MISSES"
    print(f"\nworst poll median {worst:.3f} ms {verdict} the goal of <= {GOAL_MS} ms for {opts.queues} queues")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
