"""The base of the panes: a titled box with a data-age badge and an error state, and the
table pane that syncs its rows from one part of a ``Snapshot`` by diff.

Every pane has a title, a data-age badge (border subtitle) and its own error state (a
failed poll, or a part named in ``Snapshot.errors``). A ``TablePane`` first compares
model objects with the previous tick and builds cells only for rows whose object
changed, then hands the rows to its ``KeyedTable`` (``table.py``), which updates only
the cells that differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.binding import Binding
from textual.containers import Vertical

from backends.model import Snapshot

from ..cells import Palette, age_text
from ..table import KeyedTable, LazyRows

__all__ = ["Pane", "TablePane", "HISTORY", "sort_bindings"]

HISTORY = 24  # points kept per sparkline


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


def sort_bindings(sorts: dict[str, tuple[str, Callable[[Any], Any], bool]]) -> list[Binding]:
    """A pane's sort keys (k9s style: shift + a letter), one per sortable column."""
    return [
        Binding(letter, f"sort('{column}')", f"Sort by {column}", show=False, id=f"sort_{column}")
        for column, (letter, _, _) in sorts.items()
    ]


class TablePane(Pane):
    """A pane that is one ``KeyedTable`` of model objects.

    ``sorts`` names the sortable columns: column key -> (shift letter, the value of a
    model to sort by, whether the first press sorts descending). A letter (the pane's
    ``BINDINGS``, from ``sort_bindings``) or a click on the header sorts; again reverses.
    """

    columns: list[tuple[str, str, int | None]] = []
    sorts: dict[str, tuple[str, Callable[[Any], Any], bool]] = {}
    #: an empty table given more rows than its first frame shows builds the cells of the
    #: others when they are read (``LazyRows``): for a pane whose cells cost (the Nodes
    #: pane's bars) and whose ``cell_builder`` binds the state they are built from
    LAZY_FIRST_FILL = False

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
        prev_rows = self.table.rows_all
        if self.LAZY_FIRST_FILL and not prev_rows and not self.table.shown and self.table.stages(len(items)):
            self._apply_lazily(items)
            return
        rows: dict[str, tuple] = {}
        changed = []
        old = self.models
        new: dict[str, Any] = {}
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

    def _apply_lazily(self, items: list) -> None:
        """The first rows of an empty table: every object is a row, the cells of those the
        first frame does not show are built when read (``LAZY_FIRST_FILL``)."""
        objects: dict[str, Any] = {}
        key_of = self.key_of
        for obj in items:
            objects[key_of(obj)] = obj
        self.models = dict(objects)
        self.fit_columns(objects.values())
        self.table.sync(LazyRows(objects, self.cell_builder()))

    def cell_builder(self) -> Callable[[Any], tuple]:
        """``obj -> cells`` as ``cells`` builds them now, later too (for ``LazyRows``)."""
        return self.cells

    def fit_columns(self, objects) -> None:
        """Before a lazy fill: widen the columns that grow to their data for ``objects``, as
        building their cells would (so the first frame has the widths of all of them)."""

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

    # ---- sorting (k9s: shift + letter, or a click on the header; again reverses) -------
    def sort_value(self, column: str):
        """``(key, cells) -> value`` to sort ``column`` by, and whether it starts descending;
        None for a column that does not sort."""
        entry = self.sorts.get(column)
        if entry is None:
            return None
        getter, descending = entry[1], entry[2]
        models = self  # read at sort time: the models of the tick being shown

        def value(key, cells):
            obj = models.models.get(key)
            return None if obj is None else getter(obj)

        return value, descending

    def action_sort(self, column: str) -> None:
        spec = self.sort_value(column)
        if spec is None:
            return
        value, descending = spec
        table = self.table
        reverse = (not table.sort_reverse) if table.sort_column == column else descending
        table.sort_by(column, value, reverse, self.sort_mark(column))

    def sort_mark(self, column: str) -> tuple[str, str] | None:
        """For a sort by no column of its own: (the column to mark, a tag)."""
        return None

    def on_data_table_header_selected(self, event) -> None:
        event.stop()
        self.action_sort(event.column_key.value)

    def sort_help(self) -> str:
        """``N name, R ready, ...``: this pane's sort keys, for ``?``."""
        labels = {key: label for key, label, _ in self.columns}
        return ", ".join(f"{letter} {labels.get(col, col).lower()}" for col, (letter, _, _) in self.sorts.items())

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
