"""The Queues pane: one row per Redis queue — length, in flight, rates, the oldest
message's age, and a sparkline of the length."""

from __future__ import annotations

from collections import deque

from backends.model import Snapshot

from ..cells import spark_cell, sparkline, styled
from .base import HISTORY, TablePane, sort_bindings

__all__ = ["QueuesPane"]


class QueuesPane(TablePane):
    part, title = "queues", "Queues"
    columns = [
        ("name", "QUEUE", 25),
        ("length", "LEN", 6),
        ("in_flight", "INFL", 5),
        ("rate_in", "IN/s", 7),
        ("rate_out", "OUT/s", 7),
        ("oldest", "OLDEST", 7),
        ("trend", "LENGTH TREND", 13),
    ]
    sorts = {
        "name": ("N", lambda q: q.name, False),
        "length": ("L", lambda q: q.length, True),
        "in_flight": ("U", lambda q: q.in_flight, True),
        "rate_in": ("R", lambda q: q.rate_in, True),
        "rate_out": ("O", lambda q: q.rate_out, True),
        "oldest": ("A", lambda q: q.oldest_age_s, True),
    }
    BINDINGS = sort_bindings(sorts)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.history: dict[str, deque] = {}
        self._last_taken = None

    def apply(self, snap: Snapshot) -> None:
        if snap.taken_at != self._last_taken:
            self._last_taken = snap.taken_at
            names = set()
            for q in snap.queues:
                names.add(q.name)
                self.history.setdefault(q.name, deque(maxlen=HISTORY)).append(q.length)
            for gone in set(self.history) - names:
                del self.history[gone]
        super().apply(snap)

    def always_changes(self, key: str) -> bool:
        h = self.history.get(key)
        return bool(h) and len(set(h)) > 1  # the sparkline moves even when the numbers don't

    def restyle(self, key: str, row: tuple) -> tuple:
        return row[:-1] + (spark_cell(sparkline(self.history.get(key, ()), 12, lo=0), self.palette.bar),)

    def cells(self, q) -> tuple:
        p = self.palette
        oldest = "-" if q.oldest_age_s is None else f"{q.oldest_age_s:.1f}s"
        length = styled(str(q.length), p.warn if q.length > 100 else "")
        return (
            q.name,
            length,
            str(q.in_flight),
            f"{q.rate_in:.1f}",
            f"{q.rate_out:.1f}",
            oldest,
            spark_cell(sparkline(self.history.get(q.name, ()), 12, lo=0), p.bar),
        )
