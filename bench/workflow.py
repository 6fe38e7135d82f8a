"""Workflow throughput: tasks/s through emitter -> 4 workers -> collector, next to
the ceiling redis-benchmark measures for the same Redis commands in the same run.

    .venv/bin/python bench/workflow.py [--tasks 50000] [--workers 4] [--batch 50] [--runs 3]

Zero-work tasks, an unpaced emitter (LPUSH in batches of 500), workers taking
up to ``--batch`` tasks per round trip (TAKE_LUA) and storing results in one
FLUSH_LUA per batch, the collector keeping each task id once (COLLECT_LUA).
Every loop is a real process against a private redis-server over its Unix
socket. The figure is completed tasks / (last collect - first emit), median of
``--runs``.

Ceiling: a task costs the server these list/set operations: LPUSH (emit),
LMOVE (take), LPUSH (result), LREM (in-flight), LMOVE (collect), SADD (dedup),
LPUSH (output). ``redis-benchmark -P <batch>`` measures each one's rate on the
same server, and the ceiling is 1 / sum(1 / rate): the tasks/s Redis could
serve if the loops cost nothing. Without redis-benchmark (Debian: ``apt-get
install redis-tools``) the same commands are timed through a redis-py pipeline
instead, and the line says so.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from backends.local.redis_server import RedisServer  # noqa: E402
from backends.workflow import protocol as P  # noqa: E402
from backends.workflow.collector import run_collector  # noqa: E402
from backends.workflow.emitter import run_emitter  # noqa: E402
from backends.workflow.phases import steady  # noqa: E402
from backends.workflow.worker import run_worker  # noqa: E402

# (label, redis-benchmark command): the per-task server work, in order
COMMANDS = [
    ("LPUSH emit", ["LPUSH", "wq", "__rand_int__"]),
    ("LMOVE take", ["LMOVE", "wq", "inflight", "RIGHT", "LEFT"]),
    ("LPUSH result", ["LPUSH", "rq", "__rand_int__"]),
    # a worker's in-flight list is short and the answered task is at the tail,
    # so LREM -1 stops at once: model it on a one-item list
    ("LREM in-flight", ["LREM", "short", "-1", "__rand_int__"]),
    ("LMOVE collect", ["LMOVE", "rq", "cq", "RIGHT", "LEFT"]),
    ("SADD dedup", ["SADD", "done", "__rand_int__"]),
    ("LPUSH output", ["LPUSH", "oq", "__rand_int__"]),
]


def ceiling_redis_benchmark(sock: str, batch: int, n: int = 200_000) -> list[tuple[str, float]] | None:
    exe = shutil.which("redis-benchmark")
    if exe is None:
        return None
    out = []
    r = redis.Redis(unix_socket_path=sock)
    r.flushall()
    r.lpush("short", "x")
    r.close()
    for label, cmd in COMMANDS:
        res = subprocess.run(
            [exe, "-s", sock, "-n", str(n), "-P", str(batch), "-c", "4", "-r", "1000000", "--csv", *cmd],
            capture_output=True,
            text=True,
            check=True,
        )
        lines = [ln for ln in res.stdout.splitlines() if ln and not ln.startswith('"test"')]
        rps = float(lines[-1].split(",")[1].strip('"'))
        out.append((label, rps))
    return out


def ceiling_pipeline(url: str, batch: int, n: int = 100_000) -> list[tuple[str, float]]:
    r = redis.Redis.from_url(url)
    r.flushall()
    r.lpush("short", "x")
    out = []
    for label, cmd in COMMANDS:
        args = [a.replace("__rand_int__", "7") for a in cmd]
        t0 = time.perf_counter()
        for _ in range(n // batch):
            pipe = r.pipeline(transaction=False)
            for _ in range(batch):
                pipe.execute_command(*args)
            pipe.execute()
        out.append((label, n / (time.perf_counter() - t0)))
    r.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with RedisServer(Path(tempfile.mkdtemp(prefix="bench-wf-"))) as srv:
        rates = []
        for _ in range(args.runs):
            rates.append(timed_run(srv.url, args.tasks, args.workers, args.batch))
        rate = statistics.median(rates)
        bench = ceiling_redis_benchmark(str(srv.socket_path), args.batch)
        source = f"redis-benchmark -P {args.batch} -c 4"
        if bench is None:
            print(
                "redis-benchmark: missing (apt-get install redis-tools); ceiling from a redis-py pipeline instead",
                file=sys.stderr,
            )
            bench = ceiling_pipeline(srv.url, args.batch)
            source = f"redis-py pipeline of {args.batch} (NOT redis-benchmark)"
    ceiling = 1.0 / sum(1.0 / r for _, r in bench)
    print(f"workflow: {args.tasks} zero-work tasks, {args.workers} workers, batch {args.batch}, {args.runs} runs")
    print(
        f"  tasks/s through emitter -> workers -> collector: median {rate:,.0f} "
        f"(runs: {', '.join(f'{x:,.0f}' for x in rates)})"
    )
    print(f"  Redis ceiling ({source}):")
    for label, r in bench:
        print(f"    {label:<16}{r:>12,.0f} ops/s")
    print(f"  ceiling for the {len(bench)} commands of one task: {ceiling:,.0f} tasks/s")
    print(f"  ratio workflow / ceiling: {rate / ceiling:.2f}")
    print(f"  goal >= 5,000 tasks/s: {'met' if rate >= 5000 else 'NOT met'}")


def timed_run(url: str, tasks: int, workers: int, batch: int) -> float:
    """One run; the rate is tasks / (collector finished - the workload pushed)."""
    r = redis.Redis.from_url(url)
    r.flushall()
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=run_worker, args=(url, f"w{i}"), kwargs={"batch": batch}) for i in range(workers)]
    collector = ctx.Process(target=run_collector, args=(url,), kwargs={"until": tasks})
    for p in (*procs, collector):
        p.start()
    while r.hlen(P.WORKERS_KEY) < workers:
        time.sleep(0.005)
    emitter = ctx.Process(target=run_emitter, args=(url,), kwargs={"once": True})
    emitter.start()
    while not r.hexists(P.ROLES_KEY, "emitter"):  # the emitter is up and about to read
        time.sleep(0.005)
    t0 = time.time()
    r.lpush(
        P.INPUT_QUEUE,
        json.dumps({"type": "workload", "run_id": "bench", "tasks": tasks, "workload": steady(0.0).to_dict()}),
    )
    collector.join()
    done_at = time.time()
    emitter.join()
    r.set(P.STOP_KEY, "1")
    for p in procs:
        p.join()
    kept, out_len = r.scard(P.DONE_KEY), r.llen(P.OUTPUT_QUEUE)
    r.close()
    if not (kept == out_len == tasks):
        raise SystemExit(f"lost or duplicated tasks: kept {kept}, output {out_len}, tasks {tasks}")
    return tasks / (done_at - t0)


if __name__ == "__main__":
    main()
