"""The QoS pane: one row per function or workflow — latency percentiles, errors, the share
of deadlines met, cold starts, and sparklines of p95 and of the deadline share."""

from __future__ import annotations

from collections import deque

from textual.binding import Binding

from backends.model import Snapshot

from ..cells import ms, pct, spark_cell, sparkline, styled
from .base import HISTORY, TablePane, sort_bindings

__all__ = ["QoSPane"]


class QoSPane(TablePane):
    part, title = "qos", "QoS"
    columns = [
        ("subject", "SUBJECT", 17),
        ("kind", "KIND", 5),
        ("count", "COUNT", 6),
        ("errors", "ERR", 4),
        ("p50", "P50ms", 7),
        ("p95", "P95ms", 7),
        ("p99", "P99ms", 7),
        ("deadline", "DL MET", 7),
        ("cold", "COLD", 5),
        ("p95_trend", "P95 TREND", 11),
        ("dl_trend", "DL TREND", 10),
    ]
    sorts = {
        "subject": ("N", lambda q: q.subject, False),
        "count": ("C", lambda q: q.count, True),
        "errors": ("E", lambda q: q.errors, True),
        "p50": ("M", lambda q: q.p50_ms, True),
        "p95": ("P", lambda q: q.p95_ms, True),
        "p99": ("T", lambda q: q.p99_ms, True),
        "deadline": ("L", lambda q: q.deadline_ratio, False),
        "cold": ("O", lambda q: q.cold_ratio, True),
    }
    BINDINGS = sort_bindings(sorts) + [Binding("K", "sort('kind')", "Sort by kind", show=False, id="sort_kind")]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.p95: dict[str, deque] = {}
        self.deadline: dict[str, deque] = {}
        self.functions: set[str] = set()
        self._last_taken = None

    def key_of(self, q) -> str:
        return q.subject

    def apply(self, snap: Snapshot) -> None:
        self.functions = {f.name for f in snap.functions}
        if snap.taken_at != self._last_taken:
            self._last_taken = snap.taken_at
            for q in snap.qos:
                self.p95.setdefault(q.subject, deque(maxlen=HISTORY)).append(q.p95_ms)
                self.deadline.setdefault(q.subject, deque(maxlen=HISTORY)).append(q.deadline_ratio)
            live = {q.subject for q in snap.qos}
            for d in (self.p95, self.deadline):
                for gone in set(d) - live:
                    del d[gone]
        super().apply(snap)

    def sort_value(self, column: str):
        if column == "kind":  # fn or wf: from the functions, not the QoSStat
            return (lambda key, cells: "fn" if key in self.functions else "wf"), False
        return super().sort_value(column)

    def sort_help(self) -> str:
        return super().sort_help() + ", K kind"

    def always_changes(self, key: str) -> bool:
        h = self.p95.get(key)
        return bool(h) and len(h) > 1 and len(set(h)) > 1

    def restyle(self, key: str, row: tuple) -> tuple:
        p = self.palette
        return row[:-2] + (
            spark_cell(sparkline(self.p95.get(key, ()), 10, lo=0), p.bar),
            spark_cell(sparkline(self.deadline.get(key, ()), 9, lo=0, hi=1), p.ok),
        )

    def cells(self, q) -> tuple:
        p = self.palette
        ratio = q.deadline_ratio
        dl_style = "" if ratio is None else p.ok if ratio >= 0.99 else p.warn if ratio >= 0.9 else p.bad
        kind = "fn" if q.subject in self.functions else "wf"
        errors = styled(str(q.errors), p.bad if q.errors else "")
        return (
            q.subject,
            kind,
            str(q.count),
            errors,
            ms(q.p50_ms),
            ms(q.p95_ms),
            ms(q.p99_ms),
            styled(pct(ratio), dl_style),
            pct(q.cold_ratio),
            spark_cell(sparkline(self.p95.get(q.subject, ()), 10, lo=0), p.bar),
            spark_cell(sparkline(self.deadline.get(q.subject, ()), 9, lo=0, hi=1), p.ok),
        )
