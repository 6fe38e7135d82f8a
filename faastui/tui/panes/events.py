"""The Events pane: the dashboard's own actions, the engine's events and the latest finished
calls, newest first; calls have their own bound so they never push the actions out."""

from __future__ import annotations

import time
from collections import deque

from rich.text import Text

from backends.model import Snapshot

from .._textual_compat import mark_dimensions_stale
from .base import TablePane, sort_bindings

__all__ = ["EventsPane"]


def _event_text(e: dict) -> str:
    """An engine event in a line: ``unit @node`` first, then the other fields."""
    head = ""
    if e.get("unit") or e.get("function"):
        head = str(e.get("unit") or e.get("function"))
        if e.get("node"):
            head += f" @{e['node']}"
    rest = "  ".join(
        f"{k}={_short(v)}"
        for k, v in e.items()
        if k not in ("t", "kind", "unit", "function", "node") and v not in (None, "")
    )
    return f"{head}  {rest}".strip()


def _short(v) -> str:
    return f"{v:.1f}" if isinstance(v, float) else str(v)


class EventsPane(TablePane):
    """The latest invocations and actions, newest first, bounded."""

    part, title = "events", "Events"
    columns = [("time", "TIME", 13), ("kind", "KIND", 10), ("what", "WHAT", 52)]
    sorts = {"time": ("A", None, True), "kind": ("K", None, False), "what": ("W", None, False)}
    BINDINGS = sort_bindings(sorts)
    LIMIT = 200

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.events: deque[tuple[str, float, str, Text]] = deque(maxlen=self.LIMIT)
        # calls get their own bound, so a busy cluster's calls never push the actions out
        self.calls: deque[tuple[str, float, str, Text]] = deque(maxlen=self.LIMIT // 2)
        self.seq = 0
        self.details: dict[str, dict] = {}  # row key -> the event's fields (Enter shows them)
        self.last_engine_t = 0.0
        self.last_call: tuple[float, str] = (0.0, "")  # (ended_at, call_id) of the newest shown

    def apply(self, snap: Snapshot) -> None:  # events come from add(), not the snapshot
        pass

    def sort_value(self, column: str):
        """Events sort by their own fields (time, kind, text), not by a model."""
        if column not in self.sorts:
            return None
        details = self.details
        if column == "time":
            return (lambda key, cells: (details.get(key, {}).get("t") or 0.0, key)), True
        index = 1 if column == "kind" else 2
        return (lambda key, cells: cells[index].plain if isinstance(cells[index], Text) else str(cells[index])), False

    def add(self, t: float, kind: str, what: str | Text, style: str = "", fields: dict | None = None) -> None:
        """Add a row; ``fields`` are what Enter on it shows (default: time, kind, what)."""
        self.seq += 1
        key = f"e{self.seq:08d}"
        text = what if isinstance(what, Text) else Text(what, style=style)
        bound = self.calls if kind == "call" else self.events
        if len(bound) == bound.maxlen:
            self.details.pop(bound[-1][0], None)
        bound.appendleft((key, t, kind, text))
        self.details[key] = fields if fields is not None else {"t": t, "kind": kind, "what": text.plain}

    def add_engine(self, events: list[dict]) -> None:
        for e in events:
            t = float(e.get("t", 0.0))
            if t <= self.last_engine_t:
                continue
            self.last_engine_t = t
            kind = str(e.get("kind", "?"))
            self.add(t, kind, _event_text(e), self.palette.bad if kind == "error" else "", dict(e))

    def on_resize(self) -> None:
        """The WHAT column takes the pane's spare width (its text is the longest)."""
        fixed = sum(w for key, _, w in self.columns if key != "what")
        width = max(30, self.size.width - fixed - 2)  # 2: the border
        column = self.table.columns.get("what")
        if column is not None and column.width != width:
            column.width = width
            mark_dimensions_stale(self.table)

    def add_calls(self, calls: list) -> None:
        """Finished calls (newest first, as ``Backend.invocations`` gives them) not shown yet."""
        p = self.palette
        fresh = [c for c in calls if (c.ended_at, c.call_id) > self.last_call]
        for c in reversed(fresh):  # oldest first, so the newest ends up on top
            where = f" @{c.node}" if c.node else ""
            state = f" {c.container_state}" if c.container_state else ""
            if c.cold_start_ms:
                state += f" (start {c.cold_start_ms:.1f} ms)"
            what = f"{c.function}{where}{state}  {c.duration_ms:.1f} ms  {c.status}"
            if c.error:
                what += f": {c.error}"
            fields = {
                "t": c.ended_at or c.started_at,
                "kind": "call",
                **{k: v for k, v in c.to_dict().items() if k != "result"},
            }
            self.add(c.ended_at or c.started_at, "call", what, "" if c.status == "ok" else p.bad, fields)
        if fresh:
            self.last_call = max(self.last_call, max((c.ended_at, c.call_id) for c in fresh))

    def flush(self) -> None:
        merged = sorted((*self.events, *self.calls), key=lambda e: (e[1], e[0]), reverse=True)
        rows = {
            key: (time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}", kind, what)
            for key, t, kind, what in merged
        }
        self.table.sync(rows, [])
