"""The emitter loop: turn a workload spec from ``input_queue`` into timed tasks.

It waits on ``input_queue`` for a run spec (JSON: ``run_id``, ``tasks``,
``workload`` as ``phases.Workload.to_dict()``, optional ``t0``), moving it into its
own in-flight list, and emits exactly ``tasks`` tasks into ``worker_queue`` at
Poisson arrival times of the workload's phases (``rate`` 0 in a steady phase
means as fast as possible). Tasks that are due together go in one LPUSH
(with the ``emitted`` counter, in one MULTI), so a fast workload costs few
round trips. Task ids are ``<run id>:<n>``; an emitter restarted mid-run
resumes after the ``emitted`` count with the same seed, so a restart neither
skips nor repeats a task.
"""

from __future__ import annotations

import itertools
import json
import random
import time

from . import protocol as P
from ._redis import connect
from .phases import parse_workload

__all__ = ["run_emitter", "make_task", "EMITTER_INFLIGHT"]

EMITTER_INFLIGHT = f"{P.INPUT_QUEUE}:inflight:emitter"
MAX_BATCH = 500
BLOCK_S = 0.25


def make_task(task_id: str, gen_ts: float, expected_s: float, emit_ts: float) -> dict:
    return {"task_id": task_id, "task_gen_timestamp": gen_ts,
            "task_expected_duration": expected_s, "task_deadline": P.deadline_for(expected_s),
            "task_emit_timestamp": emit_ts, "task_work_time": None,
            "task_completion_time": None, "task_QoS": None}


def run_emitter(url: str, *, once: bool = False) -> dict:
    """Serve run specs from ``input_queue`` until the run is stopped.

    Args:
        once: return after one spec (tests, benches).

    Returns: {"runs", "emitted", "reason"}.
    """
    r = connect(url)
    runs = emitted = 0
    reason = "stop"
    try:
        while True:
            if r.exists(P.STOP_KEY):
                break
            raw = r.lindex(EMITTER_INFLIGHT, -1)  # a spec a killed emitter left half done
            if raw is None:
                raw = r.blmove(P.INPUT_QUEUE, EMITTER_INFLIGHT, BLOCK_S, "RIGHT", "LEFT")
                if raw is None:
                    continue
            spec = json.loads(raw)
            n, finished = _emit(r, spec)
            emitted += n
            if not finished:
                break  # stopped mid-run: leave the spec for a restart
            r.lrem(EMITTER_INFLIGHT, -1, raw)
            runs += 1
            if once:
                reason = "done"
                break
    finally:
        r.close()
    return {"runs": runs, "emitted": emitted, "reason": reason}


def _emit(r, spec: dict) -> tuple[int, bool]:
    run_id = str(spec["run_id"])
    total = int(spec["tasks"])
    workload = parse_workload(spec["workload"])
    seed = workload.seed if workload.seed is not None else hash(run_id) & 0xFFFFFFFF
    arrival_rng, size_rng = random.Random(seed), random.Random(seed + 1)
    # the clock starts at the first pick-up; a restarted emitter keeps it
    r.hsetnx(P.RUN_KEY, "t0", repr(float(spec.get("t0") or time.time())))
    t0 = float(r.hget(P.RUN_KEY, "t0"))
    unpaced = all(p.type == "steady" and p.rate <= 0 for p in workload.phases)
    arrivals = (itertools.repeat(0.0) if unpaced else workload.arrivals(arrival_rng))
    done = int(r.hget(P.STATS_KEY, "emitted") or 0)
    for _ in range(done):  # resume: replay the random streams past what was emitted
        a = next(arrivals, None)
        workload.task_duration_s(a or 0.0, size_rng)
    i = done
    pending = next(arrivals, None)
    next_stop_check = time.monotonic() + BLOCK_S
    while i < total and pending is not None:
        now = time.time()
        due = t0 + pending
        if due > now:
            time.sleep(min(due - now, 0.05))
            if time.monotonic() >= next_stop_check:
                if r.exists(P.STOP_KEY):
                    return i - done, False
                next_stop_check = time.monotonic() + BLOCK_S
            continue
        batch = []
        while pending is not None and i < total and len(batch) < MAX_BATCH and t0 + pending <= now:
            expected = workload.task_duration_s(pending, size_rng)
            gen = now if unpaced else t0 + pending
            batch.append(json.dumps(make_task(f"{run_id}:{i}", gen, expected, now),
                                    separators=(",", ":")))
            i += 1
            pending = next(arrivals, None)
        pipe = r.pipeline(transaction=True)
        pipe.lpush(P.WORKER_QUEUE, *batch)
        pipe.hincrby(P.STATS_KEY, "emitted", len(batch))
        pipe.incrby(f"{P.WORKER_QUEUE}:stats:in", len(batch))
        pipe.execute()
    return i - done, True
