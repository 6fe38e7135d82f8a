"""The Nodes pane: one row per node — readiness, CPU and memory bars, containers, and how
many containers are warm there (counted from the placements, by diff; a fused container,
which the placements list once per member, counted once, so WARM agrees with CONT). CONT
and WARM grow to their widest value (``11/110`` is seven cells with the separation), never
shrink: a column that shrank and grew back would cost a width pass each time."""

from __future__ import annotations

from textual.binding import Binding

from backends.model import Snapshot

from .._textual_compat import mark_dimensions_stale
from ..cells import metric_cell, styled
from .base import TablePane, sort_bindings

__all__ = ["NodesPane"]

_WARM = ("warm", "prewarm", "busy")  # states counted in the nodes pane's WARM column


def _share(used: float, total: float) -> float:
    return used / total if total else 0.0


def _count_warm(placements, fused: dict[str, str]) -> dict[str, int]:
    """Containers in a warm state per node. A fused container hosts every member of its
    group, and the snapshot has a placement per member: it is counted once, as the
    node's CONT column counts it (the members' counts on a node are the group's)."""
    warm: dict[str, int] = {}
    groups: dict[tuple[str, str, str], int] = {}
    for p in placements:
        if p.state in _WARM and p.count:
            group = fused.get(p.function)
            if group is None:
                warm[p.node] = warm.get(p.node, 0) + p.count
            else:
                key = (p.node, group, p.state)
                groups[key] = max(groups.get(key, 0), p.count)
    for (node, _group, _state), n in groups.items():
        warm[node] = warm.get(node, 0) + n
    return warm


class NodesPane(TablePane):
    part, title = "nodes", "Nodes"
    columns = [
        ("name", "NODE", 12),
        ("ready", "READY", 6),
        ("cpu", "CPU", 16),
        ("mem", "MEMORY MB", 19),
        ("containers", "CONT", 6),
        ("warm", "WARM", 5),
    ]
    sorts = {
        "name": ("N", lambda n: n.name, False),
        "ready": ("R", lambda n: n.ready, False),
        "cpu": ("C", lambda n: _share(n.used_cpus, n.cpus), True),
        "mem": ("M", lambda n: _share(n.used_memory_mb, n.memory_mb), True),
        "containers": ("O", lambda n: n.containers, True),
    }
    BINDINGS = sort_bindings(sorts) + [Binding("W", "sort('warm')", "Sort by warm", show=False, id="sort_warm")]
    LAZY_FIRST_FILL = True  # two bars a node: 2,000 for the bench's first snapshot

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.warm: dict[str, int] = {}
        self._placements: list | None = None  # last tick's list, for the warm-count diff
        self._fused: dict[str, str] = {}  # fused function -> its group, last tick
        self._widths = {key: width for key, _, width in self.columns}  # grown to the data

    def apply(self, snap: Snapshot) -> None:
        placements = snap.placements
        prev = self._placements
        self._placements = placements
        fused = {f.name: f.fusion_group for f in snap.functions if f.fusion_group}
        diff = None
        if prev is not None and len(prev) == len(placements) and fused == self._fused:
            diff = [i for i, (a, b) in enumerate(zip(prev, placements)) if a is not b]
            if len(diff) > len(placements) // 4 or any(
                prev[i].function in fused or placements[i].function in fused for i in diff
            ):
                diff = None  # a fresh parse, or a fused container moved: count from scratch
        self._fused = fused
        if diff is None:
            warm = _count_warm(placements, fused)
            self._changed_warm = {k for k in set(warm) | set(self.warm) if warm.get(k) != self.warm.get(k)}
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

    def sort_value(self, column: str):
        if column == "warm":  # counted here, not a field of the Node
            return (lambda key, cells: self.warm.get(key, 0)), True
        return super().sort_value(column)

    def sort_help(self) -> str:
        return super().sort_help() + ", W warm"

    def always_changes(self, key: str) -> bool:
        return key in self._changed_warm

    def always_changing(self):
        return self._changed_warm

    def restyle(self, key: str, row: tuple) -> tuple:
        return row[:-1] + (self._fit("warm", str(self.warm.get(key, 0))),)  # only warm moved

    def _fit(self, column: str, text: str) -> str:
        """``text``, its column widened first when it is wider (one cell of separation)."""
        need = len(text) + 1
        if need > self._widths.get(column, 0):
            self._widths[column] = need
            table = self.table
            table.column_spec = [
                (k, label, need if k == column else w)  # before mount too
                for k, label, w in table.column_spec
            ]
            col = table.columns.get(column)
            if col is not None and col.width < need:
                col.width = need
                mark_dimensions_stale(table)
        return text

    def cells(self, n) -> tuple:
        return self._cells(n, self.palette, self.warm)

    def cell_builder(self):
        # the palette and warm counts of this tick (each tick makes a new warm dict)
        palette, warm = self.palette, self.warm
        return lambda n: self._cells(n, palette, warm)

    def fit_columns(self, nodes) -> None:
        warm = self.warm
        for n in nodes:
            self._fit("containers", f"{n.containers}/{n.max_containers}")
            self._fit("warm", str(warm.get(n.name, 0)))

    def _cells(self, n, p, warm: dict[str, int]) -> tuple:
        cpu = metric_cell(n.used_cpus, n.cpus, f" {n.used_cpus:.1f}/{n.cpus:g}", p)
        mem = metric_cell(n.used_memory_mb, n.memory_mb, f" {n.used_memory_mb:.0f}/{n.memory_mb:.0f}", p)
        ready = styled("yes", p.ok) if n.ready else styled("NO", p.bad)
        cont = self._fit("containers", f"{n.containers}/{n.max_containers}")
        return (n.name, ready, cpu, mem, cont, self._fit("warm", str(warm.get(n.name, 0))))
