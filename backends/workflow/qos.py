"""The workflow's QoS as a ``QoSStat`` (subject ``workflow``) for snapshots.

The engine's snapshot adds it to ``Snapshot.qos`` so the dashboard's QoS pane
shows the workflow's deadline % next to the functions'. Deadline counts come
from the collector's counters; the percentiles from the latest output records'
``task_completion_time`` (seconds from the task's arrival to its collection).
"""

from __future__ import annotations

import json
import time

from ..model import QoSStat
from . import protocol as P

__all__ = ["workflow_qos", "qos_from"]

SAMPLE = 200


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def qos_from(stats: dict, run: dict, recent: list) -> QoSStat | None:
    """Build the stat from HGETALL workflow:stats, HGETALL workflow:run and LRANGE output."""

    def text(d):
        return {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in d.items()
        }

    stats, run = text(stats), text(run)
    if not run:
        return None
    completed = int(stats.get("completed", 0))
    times = []
    for raw in recent:
        try:
            times.append(float(json.loads(raw).get("task_completion_time") or 0.0) * 1000.0)
        except (ValueError, TypeError, AttributeError):
            continue
    started = float(run.get("started_at") or 0.0)
    ended = float(run.get("ended_at") or 0.0) or time.time()
    return QoSStat(
        subject="workflow",
        window_s=round(max(0.0, ended - started), 3) if started else 0.0,
        count=completed,
        errors=0,
        p50_ms=round(_pct(times, 0.5), 3),
        p95_ms=round(_pct(times, 0.95), 3),
        p99_ms=round(_pct(times, 0.99), 3),
        deadline_met=int(stats.get("qos_met", 0)),
        deadline_total=completed,
        cold_ratio=0.0,
    )


async def workflow_qos(aredis) -> QoSStat | None:
    """The current (or last) run's QoS from a ``redis.asyncio`` client; None if no run."""
    pipe = aredis.pipeline(transaction=False)
    pipe.hgetall(P.STATS_KEY)
    pipe.hgetall(P.RUN_KEY)
    pipe.lrange(P.OUTPUT_QUEUE, 0, SAMPLE - 1)
    stats, run, recent = await pipe.execute()
    return qos_from(stats, run, recent)
