"""The collector loop: results -> ``output_queue``, each task id exactly once.

It waits (BLMOVE) for a result to land in its own in-flight list, then one
``COLLECT_LUA`` call moves up to ``batch`` more and, atomically, keeps the
first result of every task id (a Redis set of done ids), counts duplicates
and the deadline hits, and clears its in-flight list. A collector killed at
any point leaves its in-flight results for the next one: nothing is lost and
nothing is kept twice. It also runs the reaper once a second, so dead workers'
tasks come back even when no controller is watching.
"""

from __future__ import annotations

import time

from . import protocol as P
from ._redis import connect
from .reaper import Reaper

__all__ = ["run_collector", "collect_once"]

COLLECTOR_INFLIGHT = f"{P.RESULT_QUEUE}:inflight:collector"
BLOCK_S = 0.2
_KEYS = [P.RESULT_QUEUE, COLLECTOR_INFLIGHT, P.OUTPUT_QUEUE, P.DONE_KEY, P.STATS_KEY,
         f"{P.OUTPUT_QUEUE}:stats:in", f"{P.RESULT_QUEUE}:stats:out"]


def collect_once(r, script=None, batch: int = 500) -> tuple[int, int, int]:
    """One collect round without blocking: (kept, duplicates, deadline met)."""
    script = script or r.register_script(P.COLLECT_LUA)
    kept, dups, met = script(keys=_KEYS, args=[batch])
    return int(kept), int(dups), int(met)


def run_collector(url: str, *, batch: int = 500, reap_every_s: float = 1.0,
                  until: int | None = None) -> dict:
    """Collect until the run is stopped (``workflow:stop``) or ``until`` results are kept.

    Returns: {"kept", "duplicates", "reason"}.
    """
    r = connect(url)
    script = r.register_script(P.COLLECT_LUA)
    reaper = Reaper(r)
    kept_total = dups_total = 0
    next_reap = time.monotonic() + reap_every_s
    reason = "stop"
    try:
        while True:
            kept, dups, _ = collect_once(r, script, batch)
            kept_total += kept
            dups_total += dups
            if until is not None and int(r.hget(P.STATS_KEY, "completed") or 0) >= until:
                reason = "done"
                break
            if time.monotonic() >= next_reap:
                reaper.reap()
                next_reap = time.monotonic() + reap_every_s
                if r.exists(P.STOP_KEY):
                    break
            if kept or dups:
                continue
            r.blmove(P.RESULT_QUEUE, COLLECTOR_INFLIGHT, BLOCK_S, "RIGHT", "LEFT")
    finally:
        r.close()
    return {"kept": kept_total, "duplicates": dups_total, "reason": reason}
