"""Call history and the QoS figures computed from it.

A bounded ring of recent calls (time, function, latency, ok, cold, deadline
met); ``qos()`` turns a time window of it into ``QoSStat`` per function.
Appending is O(1) and allocation-free: it is on the invoke path.
"""

from __future__ import annotations

import time
from array import array

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
    """The last ``maxlen`` calls in preallocated columns (a ring): its memory is
    taken once at the start (~21 bytes a call) and never grows, where a deque of
    tuples grew by ~150 bytes a call up to its bound (30 MB at 200k calls)."""

    _OK, _COLD, _HAS_DEADLINE, _MET = 1, 2, 4, 8

    def __init__(self, maxlen: int = 200_000):
        self.maxlen = maxlen
        self.t = array("d", bytes(8 * maxlen))
        self.latency = array("d", bytes(8 * maxlen))
        self.fn = array("I", bytes(4 * maxlen))
        self.flags = bytearray(maxlen)
        self.count = 0  # calls added so far (the ring holds the last maxlen)
        self._names: list[str] = []
        self._ids: dict[str, int] = {}

    def __len__(self) -> int:
        return min(self.count, self.maxlen)

    def add(self, t: float, fn: str, latency_ms: float, ok: bool, cold: bool, deadline_met: bool | None) -> None:
        fid = self._ids.get(fn)
        if fid is None:
            fid = self._ids[fn] = len(self._names)
            self._names.append(fn)
        i = self.count % self.maxlen
        self.t[i] = t
        self.latency[i] = latency_ms
        self.fn[i] = fid
        self.flags[i] = (ok and 1) | (cold and 2) | (0 if deadline_met is None else (12 if deadline_met else 4))
        self.count += 1

    def records(self, since: float):
        """(t, fn, latency_ms, ok, cold, deadline_met or None), newest first, back to ``since``."""
        t, latency, fns, flags, names = self.t, self.latency, self.fn, self.flags, self._names
        for k in range(self.count - 1, self.count - 1 - len(self), -1):
            i = k % self.maxlen
            if t[i] < since:
                return
            f = flags[i]
            yield (t[i], names[fns[i]], latency[i], bool(f & 1), bool(f & 2), bool(f & 8) if f & 4 else None)

    def qos(self, window_s: float = 60.0, now: float | None = None) -> list[QoSStat]:
        since = (now or time.time()) - window_s
        per: dict[str, list[tuple]] = {}
        for rec in self.records(since):
            per.setdefault(rec[1], []).append(rec)
        out = []
        for fn in sorted(per):
            recs = per[fn]
            lat = sorted(r[2] for r in recs)
            with_deadline = [r[5] for r in recs if r[5] is not None]
            out.append(
                QoSStat(
                    subject=fn,
                    window_s=window_s,
                    count=len(recs),
                    errors=sum(1 for r in recs if not r[3]),
                    p50_ms=round(percentile(lat, 0.50), 3),
                    p95_ms=round(percentile(lat, 0.95), 3),
                    p99_ms=round(percentile(lat, 0.99), 3),
                    deadline_met=sum(1 for m in with_deadline if m),
                    deadline_total=len(with_deadline),
                    cold_ratio=round(sum(1 for r in recs if r[4]) / len(recs), 4),
                )
            )
        return out
