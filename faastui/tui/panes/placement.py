"""The Placement pane: a grid of functions x nodes, each cell the busy/warm/prewarm counts
of that function there; a window of node columns paged with ``[`` and ``]``; space marks
functions (for ``f``)."""

from __future__ import annotations

import time

from rich.text import Text
from textual.binding import Binding

from backends.model import Snapshot

from ..cells import PLACEMENT_WIDTH, placement_cell
from .base import TablePane

__all__ = ["PlacementPane"]


class PlacementPane(TablePane):
    """Functions x nodes; a cell shows busy/warm/prewarm counts, coloured by the hottest.

    Node columns are a window (``[`` and ``]`` page through them): a DataTable with a
    thousand columns measures and renders every cell of a row, so the grid never has
    more than ``WINDOW`` node columns (bench/tui.py).
    """

    part, title = "placements", "Placement"
    columns = [("function", "FUNCTION", 19)]
    WINDOW = 12
    BINDINGS = [
        Binding("left_square_bracket", "page_nodes(-1)", "Prev nodes", id="nodes_prev", show=False),
        Binding("right_square_bracket", "page_nodes(1)", "Next nodes", id="nodes_next", show=False),
        Binding("N", "sort('function')", "Sort by function", show=False, id="sort_function"),
        Binding("W", "sort('total')", "Sort by containers", show=False, id="sort_total"),
    ]
    #: a click on a node's header sorts by that node's containers (``n:<node>``)
    sorts = {"function": ("N", None, False), "total": ("W", None, True)}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # fn -> node -> state -> n, for the nodes in the window only
        self.counts: dict[str, dict[str, dict[str, int]]] = {}
        self.node_names: list[str] = []
        self.window: list[str] = []
        self.node_offset = 0
        self.marked: set[str] = set()
        self._snap: Snapshot | None = None
        self.totals: dict[str, int] = {}  # fn -> containers on every node (only under that sort)

    def count_text(self) -> str:
        base = super().count_text()
        n = len(self.node_names)
        span = (
            f"nodes {self.node_offset + 1}-{self.node_offset + len(self.window)} of {n} ([ ])"
            if n > len(self.window)
            else f"{n} nodes"
        )
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
        window = nodes[self.node_offset : self.node_offset + self.WINDOW]
        if window != self.window:
            self.window = window
            self.table.set_columns(
                [("function", "FUNCTION", 19)] + [(f"n:{n}", n, max(PLACEMENT_WIDTH, len(n) + 1)) for n in window]
            )
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
                rows[key] = (self._name_cell(key),) + tuple(placement_cell(c.get(n), palette) for n in window)
        self.counts = counts
        if self.table.sort_column == "total":
            totals: dict[str, int] = {}
            for pl in snap.placements:
                if pl.count and pl.state != "cold":
                    totals[pl.function] = totals.get(pl.function, 0) + pl.count
            self.totals = totals
        self.table.sync(rows, changed)

    def sort_value(self, column: str):
        if column == "function":
            return (lambda key, cells: key), False
        if column == "total":
            if self._snap is not None and not self.totals:
                self.totals = {}
                for pl in self._snap.placements:
                    if pl.count and pl.state != "cold":
                        self.totals[pl.function] = self.totals.get(pl.function, 0) + pl.count
            return (lambda key, cells: self.totals.get(key, 0)), True
        if column.startswith("n:"):
            node = column[2:]
            return (lambda key, cells: sum(self.counts.get(key, {}).get(node, {}).values())), True
        return None

    def sort_mark(self, column: str):
        return ("function", "Σ") if column == "total" else None

    def sort_help(self) -> str:
        return "N function, W containers on all nodes, a click on a node's header: its containers"

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
