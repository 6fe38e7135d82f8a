"""The dashboard's panes: each renders its part of one ``Snapshot`` (model objects only).

Every pane has a title, a data-age badge (border subtitle) and its own error
state (a failed poll, or a part named in ``Snapshot.errors``). Tables are
synced by diff (``KeyedTable``): a pane first compares model objects with the
previous tick and builds cells only for rows whose object changed. Histories
for sparklines are bounded deques.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Tree

from backends.model import Snapshot

from .cells import (PLACEMENT_WIDTH, Palette, age_text, metric_cell, ms, pct, placement_cell,
                    spark_cell, sparkline, styled)
from .table import KeyedTable

__all__ = ["Pane", "TablePane", "NodesPane", "PlacementPane", "QueuesPane", "QoSPane",
           "FusionPane", "EventsPane", "PANES", "HISTORY"]

HISTORY = 24  # points kept per sparkline
_WARM = ("warm", "prewarm", "busy")  # states counted in the nodes pane's WARM column


class Pane(Vertical):
    """A titled box around one view of the snapshot."""

    part = ""  # which Snapshot field (and error prefix) this pane shows
    title = ""
    ALLOW_MAXIMIZE = True  # `:nodes` etc. show one pane full screen

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.border_title = self.title
        self.ok_at: float | None = None
        self.error: str | None = None
        self.palette = Palette()

    def body(self):
        raise NotImplementedError

    def apply(self, snap: Snapshot) -> None:
        """Show ``snap`` (called on the UI thread with a fetched snapshot)."""
        raise NotImplementedError

    def set_error(self, error: str | None) -> None:
        self.error = error
        self.set_class(error is not None, "-error")

    def badge(self, now: float) -> None:
        """Refresh the data-age badge (and the error text, if any)."""
        text = f"{self.count_text()} · {age_text(self.ok_at, now)}"
        if self.error:
            text = f"⚠ {self.error[:60]} · data {age_text(self.ok_at, now)}"
        stale = self.ok_at is not None and now - self.ok_at > 10
        self.set_class(stale, "-stale")
        if self.border_subtitle != text:
            self.border_subtitle = text

    def count_text(self) -> str:
        return ""

    def repaint(self) -> None:
        """Rebuild cell styles (the theme changed)."""


class TablePane(Pane):
    columns: list[tuple[str, str, int | None]] = []

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.table = KeyedTable(self.columns, id=f"{self.part}-table")
        self.models: dict[str, Any] = {}
        self._items: list | None = None  # last tick's objects, for _apply_diff

    def compose(self):
        yield self.table

    def count_text(self) -> str:
        shown, total = len(self.table.target), len(self.table.rows_all)
        return f"{total}" if shown == total else f"{shown}/{total} /{self.table.filter_text}"

    def key_of(self, obj) -> str:
        return obj.name

    def cells(self, obj) -> tuple:
        raise NotImplementedError

    def items(self, snap: Snapshot) -> list:
        return getattr(snap, self.part)

    def apply(self, snap: Snapshot) -> None:
        items = self.items(snap)
        prev_items, self._items = self._items, items
        if prev_items is not None and self._apply_diff(prev_items, items):
            return
        rows: dict[str, tuple] = {}
        changed = []
        old = self.models
        new: dict[str, Any] = {}
        prev_rows = self.table.rows_all
        for obj in items:
            key = self.key_of(obj)
            new[key] = obj
            was = old.get(key)
            if (was is obj or was == obj) and key in prev_rows:
                row = prev_rows[key]
                if self.always_changes(key):
                    new_row = self.restyle(key, row)
                    if new_row != row:
                        changed.append(key)
                    row = new_row
                rows[key] = row
            else:
                rows[key] = self.cells(obj)
                changed.append(key)
        self.models = new
        self.table.sync(rows, changed)

    def _apply_diff(self, prev_items: list, items: list) -> bool:
        """The common tick: the same rows in the same order, a few objects replaced. Only the
        positions whose object is not the one of last tick are looked at (plus the rows
        ``always_changing`` names); False (nothing done) when the shape differs."""
        prev_rows, models = self.table.rows_all, self.models
        n = len(items)
        if len(prev_items) != n or len(prev_rows) != n or len(models) != n:
            return False
        diff = [i for i, (a, b) in enumerate(zip(prev_items, items)) if a is not b]
        if len(diff) > n // 4:
            return False  # mostly new objects (a fresh parse): the full comparison
        key_of = self.key_of
        for i in diff:
            key = key_of(items[i])
            if key != key_of(prev_items[i]) or models.get(key) is not prev_items[i]:
                return False
        rows = dict(prev_rows)
        models = dict(models)
        changed = set()
        for i in diff:
            obj = items[i]
            key = key_of(obj)
            models[key] = obj
            if obj != prev_items[i]:
                rows[key] = self.cells(obj)
                changed.add(key)
        self.models = models
        for key in self.always_changing():
            if key in changed or key not in rows:
                continue
            row = rows[key]
            new_row = self.restyle(key, row)
            if new_row != row:
                rows[key] = new_row
                changed.add(key)
        self.table.sync(rows, changed)
        return True

    def always_changing(self):
        """The keys ``always_changes`` is true for (override when a pane knows them)."""
        return [k for k in self.models if self.always_changes(k)]

    def always_changes(self, key: str) -> bool:
        return False

    def restyle(self, key: str, row: tuple) -> tuple:
        """A row whose model did not change but whose derived cells may (sparklines)."""
        return self.cells(self.models[key])

    def repaint(self) -> None:
        self.models = {}


class NodesPane(TablePane):
    part, title = "nodes", "Nodes"
    columns = [("name", "NODE", 12), ("ready", "READY", 6), ("cpu", "CPU", 16),
               ("mem", "MEMORY MB", 19), ("containers", "CONT", 6), ("warm", "WARM", 5)]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.warm: dict[str, int] = {}
        self._placements: list | None = None  # last tick's list, for the warm-count diff

    def apply(self, snap: Snapshot) -> None:
        placements = snap.placements
        prev = self._placements
        self._placements = placements
        diff = None
        if prev is not None and len(prev) == len(placements):
            diff = [i for i, (a, b) in enumerate(zip(prev, placements)) if a is not b]
            if len(diff) > len(placements) // 4:
                diff = None  # mostly new objects (a fresh parse): count from scratch
        if diff is None:
            warm: dict[str, int] = {}
            for p in placements:
                if p.state in _WARM and p.count:
                    warm[p.node] = warm.get(p.node, 0) + p.count
            self._changed_warm = {k for k in set(warm) | set(self.warm)
                                  if warm.get(k) != self.warm.get(k)}
        else:  # only the placements that are not the same objects as last tick move counts
            warm = dict(self.warm)
            touched = set()
            for i in diff:
                for p, sign in ((prev[i], -1), (placements[i], 1)):
                    if p.state in _WARM and p.count:
                        n = warm.get(p.node, 0) + sign * p.count
                        if n:
                            warm[p.node] = n
                        else:
                            warm.pop(p.node, None)
                        touched.add(p.node)
            self._changed_warm = {k for k in touched if warm.get(k) != self.warm.get(k)}
        self.warm = warm
        super().apply(snap)

    def always_changes(self, key: str) -> bool:
        return key in self._changed_warm

    def always_changing(self):
        return self._changed_warm

    def restyle(self, key: str, row: tuple) -> tuple:
        return row[:-1] + (str(self.warm.get(key, 0)),)  # only the warm count moved

    def cells(self, n) -> tuple:
        p = self.palette
        cpu = metric_cell(n.used_cpus, n.cpus, f" {n.used_cpus:.1f}/{n.cpus:g}", p)
        mem = metric_cell(n.used_memory_mb, n.memory_mb,
                          f" {n.used_memory_mb:.0f}/{n.memory_mb:.0f}", p)
        ready = styled("yes", p.ok) if n.ready else styled("NO", p.bad)
        return (n.name, ready, cpu, mem, f"{n.containers}/{n.max_containers}",
                str(self.warm.get(n.name, 0)))


class PlacementPane(TablePane):
    """Functions x nodes; a cell shows busy/warm/prewarm counts, coloured by the hottest.

    Node columns are a window (``[`` and ``]`` page through them): a DataTable with a
    thousand columns measures and renders every cell of a row, so the grid never has
    more than ``WINDOW`` node columns (bench/tui.py).
    """

    part, title = "placements", "Placement"
    columns = [("function", "FUNCTION", 19)]
    WINDOW = 12
    BINDINGS = [Binding("left_square_bracket", "page_nodes(-1)", "Prev nodes", id="nodes_prev",
                        show=False),
                Binding("right_square_bracket", "page_nodes(1)", "Next nodes", id="nodes_next",
                        show=False)]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # fn -> node -> state -> n, for the nodes in the window only
        self.counts: dict[str, dict[str, dict[str, int]]] = {}
        self.node_names: list[str] = []
        self.window: list[str] = []
        self.node_offset = 0
        self.marked: set[str] = set()
        self._snap: Snapshot | None = None

    def count_text(self) -> str:
        base = super().count_text()
        n = len(self.node_names)
        span = (f"nodes {self.node_offset + 1}-{self.node_offset + len(self.window)} of {n} ([ ])"
                if n > len(self.window) else f"{n} nodes")
        return f"{base} fn x {span}" + (f" · {len(self.marked)} marked" if self.marked else "")

    def action_page_nodes(self, step: int) -> None:
        if not self.node_names:
            return
        last = max(0, len(self.node_names) - self.WINDOW)
        self.node_offset = max(0, min(last, self.node_offset + step * self.WINDOW))
        if self._snap is not None:
            self.apply(self._snap)
            self.badge(time.time())

    def apply(self, snap: Snapshot) -> None:
        self._snap = snap
        nodes = [n.name for n in snap.nodes]
        if nodes != self.node_names:
            self.node_names = nodes
            self.node_offset = max(0, min(self.node_offset, len(nodes) - self.WINDOW))
        window = nodes[self.node_offset:self.node_offset + self.WINDOW]
        if window != self.window:
            self.window = window
            self.table.set_columns([("function", "FUNCTION", 19)]
                                   + [(f"n:{n}", n, max(PLACEMENT_WIDTH, len(n) + 1)) for n in window])
            self.table.rows_all = {}
        index = {n: i + 1 for i, n in enumerate(window)}
        # only the window's nodes are counted: a change on a node off screen must not mark
        # its function's row as changed (with 1,000 nodes nearly every row would be)
        counts: dict[str, dict[str, dict[str, int]]] = {}
        for pl in snap.placements:
            if pl.count and pl.node in index:
                per = counts.setdefault(pl.function, {}).setdefault(pl.node, {})
                per[pl.state] = per.get(pl.state, 0) + pl.count
        rows: dict[str, tuple] = {}
        changed = []
        prev = self.table.rows_all
        old = self.counts
        palette = self.palette
        for fn in snap.functions:
            key = fn.name
            c = counts.get(key, {})
            o = old.get(key, {})
            row = prev.get(key)
            name_ok = row is not None and (key in self.marked) == row[0].plain.startswith("●")
            if row is not None and name_ok and c == o:
                rows[key] = row
                continue
            changed.append(key)
            if row is not None:
                cells = list(row)  # only the cells of nodes whose counts changed are rebuilt
                for node in set(c) | set(o):
                    i = index.get(node)
                    if i is not None and c.get(node) != o.get(node):
                        cells[i] = placement_cell(c.get(node), palette)
                if not name_ok:
                    cells[0] = self._name_cell(key)
                rows[key] = tuple(cells)
            else:
                rows[key] = (self._name_cell(key),) + tuple(placement_cell(c.get(n), palette)
                                                            for n in window)
        self.counts = counts
        self.table.sync(rows, changed)

    def node_at(self, column: int) -> str | None:
        """The node of a grid column (0 is the function column)."""
        return self.window[column - 1] if 1 <= column <= len(self.window) else None

    def _name_cell(self, fn: str) -> Text:
        if fn in self.marked:
            return Text("● " + fn, style="bold")
        return Text(fn)

    def toggle_mark(self, fn: str) -> None:
        self.marked ^= {fn}
        rows = dict(self.table.rows_all)
        if fn in rows:
            rows[fn] = (self._name_cell(fn),) + tuple(rows[fn][1:])
            self.table.sync(rows, [fn])

    def repaint(self) -> None:
        self.counts = {}
        self.table.rows_all = {}


class QueuesPane(TablePane):
    part, title = "queues", "Queues"
    columns = [("name", "QUEUE", 25), ("length", "LEN", 6), ("in_flight", "INFL", 5),
               ("rate_in", "IN/s", 7), ("rate_out", "OUT/s", 7), ("oldest", "OLDEST", 7),
               ("trend", "LENGTH TREND", 13)]

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
        return (q.name, length, str(q.in_flight), f"{q.rate_in:.1f}", f"{q.rate_out:.1f}", oldest,
                spark_cell(sparkline(self.history.get(q.name, ()), 12, lo=0), p.bar))


class QoSPane(TablePane):
    part, title = "qos", "QoS"
    columns = [("subject", "SUBJECT", 17), ("kind", "KIND", 5), ("count", "COUNT", 6),
               ("errors", "ERR", 4), ("p50", "P50ms", 7), ("p95", "P95ms", 7), ("p99", "P99ms", 7),
               ("deadline", "DL MET", 7), ("cold", "COLD", 5), ("p95_trend", "P95 TREND", 11),
               ("dl_trend", "DL TREND", 10)]

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

    def always_changes(self, key: str) -> bool:
        h = self.p95.get(key)
        return bool(h) and len(h) > 1 and len(set(h)) > 1

    def restyle(self, key: str, row: tuple) -> tuple:
        p = self.palette
        return row[:-2] + (spark_cell(sparkline(self.p95.get(key, ()), 10, lo=0), p.bar),
                           spark_cell(sparkline(self.deadline.get(key, ()), 9, lo=0, hi=1), p.ok))

    def cells(self, q) -> tuple:
        p = self.palette
        ratio = q.deadline_ratio
        dl_style = "" if ratio is None else p.ok if ratio >= 0.99 else p.warn if ratio >= 0.9 else p.bad
        kind = "fn" if q.subject in self.functions else "wf"
        errors = styled(str(q.errors), p.bad if q.errors else "")
        return (q.subject, kind, str(q.count), errors, ms(q.p50_ms), ms(q.p95_ms), ms(q.p99_ms),
                styled(pct(ratio), dl_style), pct(q.cold_ratio),
                spark_cell(sparkline(self.p95.get(q.subject, ()), 10, lo=0), p.bar),
                spark_cell(sparkline(self.deadline.get(q.subject, ()), 9, lo=0, hi=1), p.ok))


class FusionPane(Pane):
    """A tree: fusion group -> member functions -> node, with local vs remote calls."""

    part, title = "fusion_groups", "Fusion groups"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.group_tree: Tree = Tree("fusion groups", id="fusion-tree")
        self.group_tree.show_root = False
        self.groups: list = []

    def compose(self):
        yield self.group_tree

    def count_text(self) -> str:
        return str(len(self.groups))

    def apply(self, snap: Snapshot) -> None:
        groups = list(snap.fusion_groups)
        if groups == self.groups:
            return
        same_shape = [(g.name, tuple(g.functions)) for g in groups] == [
            (g.name, tuple(g.functions)) for g in self.groups]
        self.groups = groups
        if same_shape:  # counters or node moved: relabel in place
            for node, g in zip(self.group_tree.root.children, groups):
                node.set_label(self._label(g))
                for child in node.children:
                    if child.children:
                        child.children[0].set_label(self._node_label(g))
            return
        self.group_tree.clear()
        for g in groups:
            gnode = self.group_tree.root.add(self._label(g), data=g.name, expand=True)
            for fn in g.functions:
                fnode = gnode.add(Text(fn), data=g.name, expand=True)
                fnode.add_leaf(self._node_label(g), data=g.name)

    def _label(self, g) -> Text:
        p = self.palette
        sp = "\u00a0"  # the tree drops plain spaces between styled segments
        total = g.calls_local + g.calls_remote
        text = Text(g.name, style="bold")
        text.append(f"{sp}·{sp}")
        text.append(g.state, style=p.warm if g.state in ("warm", "busy") else p.dim)
        text.append(f"{sp}·{sp}")
        text.append(f"local{sp}{g.calls_local}", style=p.ok)
        text.append(f"{sp}/{sp}")
        text.append(f"remote{sp}{g.calls_remote}", style=p.warn if g.calls_remote else p.dim)
        if total:
            text.append(f"{sp}({g.calls_local / total:.0%}{sp}local)")
        return text

    def _node_label(self, g) -> Text:
        return Text(f"on {g.node or '-'}", style=self.palette.dim)

    def selected_group(self) -> str | None:
        node = self.group_tree.cursor_node
        if node is not None and node.data:
            return node.data
        return self.groups[0].name if self.groups else None

    def repaint(self) -> None:
        self.groups = []

    def export_rows(self):
        rows = [[g.name, fn, g.node, g.state, str(g.calls_local), str(g.calls_remote)]
                for g in self.groups for fn in g.functions]
        return ["GROUP", "FUNCTION", "NODE", "STATE", "LOCAL", "REMOTE"], rows


def _event_text(e: dict) -> str:
    """An engine event in a line: ``unit @node`` first, then the other fields."""
    head = ""
    if e.get("unit") or e.get("function"):
        head = str(e.get("unit") or e.get("function"))
        if e.get("node"):
            head += f" @{e['node']}"
    rest = "  ".join(f"{k}={_short(v)}" for k, v in e.items()
                     if k not in ("t", "kind", "unit", "function", "node") and v not in (None, ""))
    return f"{head}  {rest}".strip()


def _short(v) -> str:
    return f"{v:.1f}" if isinstance(v, float) else str(v)


class EventsPane(TablePane):
    """The latest invocations and actions, newest first, bounded."""

    part, title = "events", "Events"
    columns = [("time", "TIME", 13), ("kind", "KIND", 10), ("what", "WHAT", 52)]
    LIMIT = 200

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.events: deque[tuple[str, float, str, Text]] = deque(maxlen=self.LIMIT)
        # calls get their own bound, so a busy cluster's calls never push the actions out
        self.calls: deque[tuple[str, float, str, Text]] = deque(maxlen=self.LIMIT // 2)
        self.seq = 0
        self.last_engine_t = 0.0
        self.last_call: tuple[float, str] = (0.0, "")  # (ended_at, call_id) of the newest shown

    def apply(self, snap: Snapshot) -> None:  # events come from add(), not the snapshot
        pass

    def add(self, t: float, kind: str, what: str | Text, style: str = "") -> None:
        self.seq += 1
        text = what if isinstance(what, Text) else Text(what, style=style)
        (self.calls if kind == "call" else self.events).appendleft(
            (f"e{self.seq:08d}", t, kind, text))

    def add_engine(self, events: list[dict]) -> None:
        for e in events:
            t = float(e.get("t", 0.0))
            if t <= self.last_engine_t:
                continue
            self.last_engine_t = t
            kind = str(e.get("kind", "?"))
            self.add(t, kind, _event_text(e), self.palette.bad if kind == "error" else "")

    def on_resize(self) -> None:
        """The WHAT column takes the pane's spare width (its text is the longest)."""
        fixed = sum(w for key, _, w in self.columns if key != "what")
        width = max(30, self.size.width - fixed - 2)  # 2: the border
        column = self.table.columns.get("what")
        if column is not None and column.width != width:
            column.width = width
            self.table._require_update_dimensions = True
            self.table.refresh()

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
            self.add(c.ended_at or c.started_at, "call", what, "" if c.status == "ok" else p.bad)
        if fresh:
            self.last_call = max(self.last_call, max((c.ended_at, c.call_id) for c in fresh))

    def flush(self) -> None:
        merged = sorted((*self.events, *self.calls), key=lambda e: (e[1], e[0]), reverse=True)
        rows = {key: (time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}",
                      kind, what) for key, t, kind, what in merged}
        self.table.sync(rows, [])


PANES = (NodesPane, PlacementPane, QueuesPane, QoSPane, FusionPane, EventsPane)
