"""The collector loop: results -> ``output_queue``, each task id exactly once.

It pushes a START on ``collector_start_queue``, then waits (BLMOVE) for a result
to land in its own in-flight list; ``COLLECT_MOVE_LUA`` moves up to ``batch``
more and returns what is in flight, the collector turns each result into the
seed's output record (``task_collect_time``, ``task_completion_time`` and
``task_QoS`` as a bool, measured now), and ``COLLECT_KEEP_LUA`` keeps, in one
atomic script, the first record of every task id (a Redis set of done ids),
counts duplicates and deadline hits, and removes exactly those items from its
in-flight list. A collector killed at any point leaves its in-flight results for
the next one: nothing is lost and nothing is kept twice. It also runs the reaper
once a second, so dead workers' tasks come back even when no controller is
watching. A TERMINATE SYN on ``collector_control_syn_queue`` stops it; on the
run's stop it first keeps what the last workers answer as they finish their tasks.

It holds the collector's lease (``lease.py``) while it runs: the controller
launches another collector when the lease lapses (this one was killed), and one
that finds its lease taken over stops.
"""

from __future__ import annotations

import time

from . import messages as M
from . import protocol as P
from . import records as R
from ._redis import connect, quiet_redis_errors
from .lease import Lease
from .reaper import Reaper

__all__ = ["run_collector", "collect_once", "COLLECTOR_INFLIGHT"]

COLLECTOR_INFLIGHT = f"{P.RESULT_QUEUE}:inflight:collector"
BLOCK_S = 0.2
_KEEP_KEYS = [
    COLLECTOR_INFLIGHT,
    P.OUTPUT_QUEUE,
    P.DONE_KEY,
    P.STATS_KEY,
    f"{P.OUTPUT_QUEUE}:stats:in",
    f"{P.RESULT_QUEUE}:stats:out",
]


class _Scripts:
    def __init__(self, r):
        self.move = r.register_script(P.COLLECT_MOVE_LUA)
        self.keep = r.register_script(P.COLLECT_KEEP_LUA)


def collect_once(
    r, clock: M.Clock | None = None, batch: int = 500, scripts: _Scripts | None = None
) -> tuple[int, int, int]:
    """One collect round without blocking: (kept, duplicates, deadline met)."""
    scripts = scripts or _Scripts(r)
    clock = clock or M.Clock(M.read_program_start(r))
    items = scripts.move(keys=[P.RESULT_QUEUE, COLLECTOR_INFLIGHT], args=[batch])
    if not items:
        return 0, 0, 0
    items = list(reversed(items))  # oldest first: the first result of a task id wins
    now = clock.now()
    ids, outs, flags = [], [], []
    for raw in items:
        result, ok = R.parse_record(raw)
        out = R.output_of(result, now, ok)
        ids.append(str(result["task_id"]))
        outs.append(M.dumps(out))
        flags.append("1" if out["task_QoS"] else "0")
    kept, dups, met = scripts.keep(keys=_KEEP_KEYS, args=[len(items), *items, *ids, *outs, *flags])
    return int(kept), int(dups), int(met)


@quiet_redis_errors("collector")
def run_collector(
    url: str,
    *,
    batch: int = 500,
    reap_every_s: float = 1.0,
    until: int | None = None,
    collector_id: str = "collector",
    program_start: float | None = None,
    lease_ttl_s: float = 3.0,
) -> dict:
    """Collect until TERMINATE, the run's stop, or ``until`` results are kept.

    Returns: {"kept", "duplicates", "reason"} with reason "terminate", "stop", "done",
    "fenced" (another collector took over) or "redis" (Redis stayed away).
    """
    r = connect(url)
    started = P.redis_time(r)
    clock = M.Clock(program_start if program_start is not None else M.read_program_start(r))
    lease = Lease(r, url, "collector", lease_ttl_s)
    if not lease.acquire(lambda: P.stop_applies(r.get(P.STOP_KEY), started)):
        r.close()
        return {"kept": 0, "duplicates": 0, "reason": "stop"}
    r.lpush(P.COLLECTOR_START_QUEUE, M.dumps(M.start(collector_id, clock)))
    r.hset(P.ROLES_KEY, collector_id, "running")
    scripts = _Scripts(r)
    reaper = Reaper(r)
    kept_total = dups_total = 0
    next_reap = time.monotonic() + reap_every_s
    next_control = 0.0
    reason = "failed"  # until the loop says why it ends
    try:
        while True:
            kept, dups, _ = collect_once(r, clock, batch, scripts)
            kept_total += kept
            dups_total += dups
            if until is not None and int(r.hget(P.STATS_KEY, "completed") or 0) >= until:
                reason = "done"
                break
            now = time.monotonic()
            if now >= next_reap:
                reaper.reap()
                next_reap = now + reap_every_s
            if lease.lost.is_set():
                reason = "fenced"
                break
            if now >= next_control:
                next_control = now + BLOCK_S
                why = _control(r, started)
                if why:
                    reason = why
                    if why == "stop":  # the workers finish their tasks: keep what they answer
                        k, d = _drain(r, clock, batch, scripts)
                        kept_total, dups_total = kept_total + k, dups_total + d
                    break
            if kept or dups:
                continue
            r.blmove(P.RESULT_QUEUE, COLLECTOR_INFLIGHT, BLOCK_S, "RIGHT", "LEFT")
    finally:
        lease.release()
        try:
            if reason != "fenced":  # the collector that took over is the one running
                r.hset(P.ROLES_KEY, collector_id, P.role_state(reason))
        finally:
            r.close()
    return {"kept": kept_total, "duplicates": dups_total, "reason": reason}


def _drain(r, clock, batch: int, scripts: _Scripts, timeout: float = 10.0) -> tuple[int, int]:
    """After the run's stop: collect until no worker is left and nothing waits (bounded)."""
    kept = dups = 0
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        k, d, _ = collect_once(r, clock, batch, scripts)
        kept, dups = kept + k, dups + d
        if not (k or d) and not r.hlen(P.WORKERS_KEY) and not r.llen(P.RESULT_QUEUE):
            break
        if not (k or d):
            time.sleep(0.05)
    return kept, dups


def _control(r, started: float) -> str | None:
    if P.stop_applies(r.get(P.STOP_KEY), started):
        return "stop"
    while True:
        raw = r.rpop(P.COLLECTOR_SYN_QUEUE)
        if raw is None:
            return None
        msg = M.parse_message(raw) or {}
        if msg.get("action") == "SYN" and msg.get("type") == "TERMINATE":
            return "terminate"
