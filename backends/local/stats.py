"""Call history and the QoS figures computed from it.

A bounded ring of recent calls (time, function, latency, ok, cold, deadline
met); ``qos()`` turns a time window of it into ``QoSStat`` per function.
Appending is O(1) and allocation-light: it is on the invoke path.
"""

from __future__ import annotations

import time
from collections import deque

from ..model import QoSStat

__all__ = ["History", "percentile"]


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


class History:
    def __init__(self, maxlen: int = 200_000):
        self.calls: deque[tuple] = deque(maxlen=maxlen)

    def add(self, t: float, fn: str, latency_ms: float, ok: bool, cold: bool,
            deadline_met: bool | None) -> None:
        self.calls.append((t, fn, latency_ms, ok, cold, deadline_met))

    def qos(self, window_s: float = 60.0, now: float | None = None) -> list[QoSStat]:
        since = (now or time.time()) - window_s
        per: dict[str, list[tuple]] = {}
        for rec in reversed(self.calls):
            if rec[0] < since:
                break
            per.setdefault(rec[1], []).append(rec)
        out = []
        for fn in sorted(per):
            recs = per[fn]
            lat = sorted(r[2] for r in recs)
            with_deadline = [r[5] for r in recs if r[5] is not None]
            out.append(QoSStat(
                subject=fn, window_s=window_s, count=len(recs),
                errors=sum(1 for r in recs if not r[3]),
                p50_ms=round(percentile(lat, 0.50), 3), p95_ms=round(percentile(lat, 0.95), 3),
                p99_ms=round(percentile(lat, 0.99), 3),
                deadline_met=sum(1 for m in with_deadline if m),
                deadline_total=len(with_deadline),
                cold_ratio=round(sum(1 for r in recs if r[4]) / len(recs), 4)))
        return out
