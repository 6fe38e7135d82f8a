"""The reaper: return the in-flight tasks of dead workers to ``worker_queue``.

A worker is dead when its heartbeat key has expired. ``reap(r)`` scans the
in-flight lists once and runs ``REAP_LUA`` for each, which re-checks the
heartbeat and moves the tasks back atomically, so running it from several
places at once (the controller and the collector both do) is safe.
"""

from __future__ import annotations

from . import protocol as P

__all__ = ["reap", "Reaper"]

TOMBSTONE_TTL_S = 3600
_PREFIX = P.inflight_key("")


class Reaper:
    """Holds the registered script for one client; ``reap()`` is one pass."""

    def __init__(self, r):
        self.r = r
        self._script = r.register_script(P.REAP_LUA)

    def reap(self) -> dict[str, int]:
        """One pass. Returns {dead worker id: tasks returned}."""
        out: dict[str, int] = {}
        candidates = set()
        for key in self.r.scan_iter(match=_PREFIX + "*", count=1000):
            candidates.add(key.decode() if isinstance(key, bytes) else key)
        # registered workers whose heartbeat lapsed before they took anything
        for wid in self.r.hkeys(P.WORKERS_KEY):
            candidates.add(P.inflight_key(wid.decode() if isinstance(wid, bytes) else wid))
        for key in candidates:
            wid = key[len(_PREFIX) :]
            n = self._script(
                keys=[key, P.hb_key(wid), P.dead_key(wid), P.WORKER_QUEUE, P.WORKERS_KEY, P.STATS_KEY],
                args=[wid, TOMBSTONE_TTL_S],
            )
            if n >= 0:
                out[wid] = int(n)
        return out


def reap(r) -> dict[str, int]:
    return Reaper(r).reap()
