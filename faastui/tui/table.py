"""KeyedTable: a DataTable kept in step with a dict of rows by diffing, never rebuilt.

``sync(rows)`` takes the rows the table should show (key -> cells, in order)
and applies only the difference: ``update_cell(..., update_width=False)`` for
changed cells, ``add_row`` for new keys, ``remove_row`` for vanished ones, and
a re-order only when rows were added (or, under a sort, when values moved rows). A sort
(``sort_by``: a value per row, the header marked ``↑``/``↓``) is off by default, so the
common tick pays nothing for it. Column widths are set by the pane
(values that shrink never trigger a width pass; see docs/PERFORMANCE.md). A
regex filter (``!`` negates) hides rows by key text without losing them.

An empty table that receives many rows (more than the terminal is tall: the first snapshot
of a large cluster, a cleared filter) gets the rows it can show at once (``first_rows``: its
height, or before the first layout its share of the terminal's, at most ``FIRST_ROWS``) and
the rest right after the screen has been drawn: the top of the table is what a first frame
shows, and adding 1,000 rows to a DataTable costs about as much as drawing the whole screen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from rich.text import Text
from textual.widgets.data_table import ColumnKey

from ._textual_compat import FastDataTable, cell_store, cells_changed, row_keys_in_order, rows_changed, set_row_order

__all__ = ["KeyedTable", "LazyRows", "compile_filter", "FIRST_ROWS"]

#: the most rows an empty table takes before its first frame (``KeyedTable.first_rows``)
FIRST_ROWS = 150


def compile_filter(text: str):
    """``regex`` or ``!regex`` -> predicate on a row's cell texts (None: show all).

    A row matches when any of its cells (or its key) matches; ``!`` keeps the
    rows where none does. Raises: re.error for a bad pattern.
    """
    text = text.strip()
    if not text or text == "!":
        return None
    negate = text.startswith("!")
    search = re.compile(text[1:] if negate else text, re.IGNORECASE).search
    if negate:
        return lambda cells: not any(search(c) for c in cells)
    return lambda cells: any(search(c) for c in cells)


class LazyRows(Mapping):
    """Rows (key -> cells) whose cells are built when first read, by ``build(obj)``.

    A pane's first snapshot of a large table (``TablePane.LAZY_FIRST_FILL``): the table
    takes only the rows its first frame shows before that frame, and the rest right after
    (``KeyedTable.first_rows``), so the cells of the others need not exist before it either.
    Anything that reads the rows (a count, a filter, a sort, an export, the next tick)
    reads them all, built on the way; ``build`` is bound to the state of the snapshot they
    come from. Only the keys are the objects' (``in`` and ``len`` build nothing)."""

    __slots__ = ("_objects", "_build", "_cells")

    def __init__(self, objects: dict[str, Any], build: Callable[[Any], tuple]):
        self._objects = objects
        self._build = build
        self._cells: dict[str, tuple] = {}

    def __getitem__(self, key: str) -> tuple:
        cells = self._cells.get(key)
        if cells is None:
            cells = self._cells[key] = self._build(self._objects[key])
        return cells

    def __contains__(self, key: object) -> bool:
        return key in self._objects

    def __iter__(self) -> Iterator[str]:
        return iter(self._objects)

    def __len__(self) -> int:
        return len(self._objects)


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


class KeyedTable(FastDataTable):
    """A DataTable whose rows are identified by string keys and synced by diff.

    Its base (``_textual_compat.FastDataTable``) skips measuring the fixed-width columns
    and draws the common cell directly; ``fast_cells = False`` turns that off."""

    DEFAULT_CSS = """
    KeyedTable { height: 1fr; }
    """

    # Column labels are data (a node's name heads its column in the placement grid), so
    # they go in as Text, never read as Rich markup: a name with ``[...]`` or ``:...:`` is
    # shown as it is, and no label pulls in Rich's emoji table (~5 ms) for the first frame.

    def __init__(self, columns: Iterable[tuple[str, str, int | None]], **kwargs):
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", False)
        kwargs.setdefault("cell_padding", 0)  # widths include one space of separation
        super().__init__(**kwargs)
        self.column_spec = list(columns)  # (key, label, width)
        self.rows_all: dict[str, tuple] = {}  # every row, filtered or not, in order
        self.shown: dict[str, tuple] = {}  # what the table holds now
        self.filter_text = ""
        self._predicate = None
        self.cells_updated = 0  # counters for bench/tui.py and tests
        self.rows_added = 0
        self.target: dict[str, tuple] = {}  # the rows that pass the filter, in order
        self.filling = False  # rows of ``target`` still to be added after the next frame
        self.sort_column: str | None = None  # sorted by this column (None: as the data comes)
        self.sort_reverse = False
        self._sort_value = None  # (key, cells) -> a comparable value
        self._sort_mark: tuple[str, str] | None = None

    def on_mount(self) -> None:
        for key, label, width in self.column_spec:
            self.add_column(Text(label), key=key, width=width)

    # ---- filtering -------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        """Show only rows matching ``text`` (regex; ``!`` negates). Raises re.error."""
        self._predicate = compile_filter(text)
        self.filter_text = text.strip()
        self._apply(self.rows_all)

    def _visible(self, rows: dict[str, tuple]) -> dict[str, tuple]:
        if self._predicate is None:
            return rows
        pred = self._predicate
        return {k: v for k, v in rows.items() if pred([k, *(_plain(c) for c in v)])}

    # ---- sync ------------------------------------------------------------------------
    def sync(self, rows: dict[str, tuple], changed: Iterable[str] | None = None) -> None:
        """Make the table show ``rows``. ``changed`` (optional) names the only keys whose
        cells may differ from last time, so unchanged rows are not even compared."""
        self.rows_all = rows
        self._apply(rows, changed)

    # ---- sorting --------------------------------------------------------------------
    def sort_by(
        self, column: str | None, value=None, reverse: bool = False, mark: tuple[str, str] | None = None
    ) -> None:
        """Keep the rows sorted by ``value(key, cells)`` (None: in the data's own order), the
        ``column`` header marked ``↑`` (ascending) or ``↓``; the cursor stays on its row.
        ``mark`` (column, tag): a sort by something that is no column marks that column's
        header with ``tag`` and the arrow instead."""
        self.sort_column = column
        self._sort_value = value if column is not None else None
        self.sort_reverse = reverse
        self._sort_mark = mark if column is not None else None
        self.mark_sorted_column()
        self._apply(self.rows_all)

    def mark_sorted_column(self) -> None:
        """Put the sort indicator on the sorted column's header (and on no other)."""
        marked, tag = self._sort_mark or (self.sort_column, "")
        arrow = "↓" if self.sort_reverse else "↑"
        for key, label, _width in self.column_spec:
            column = self.columns.get(ColumnKey(key))
            if column is None:
                continue
            want = f"{label} {tag}{arrow}" if tag and key == marked else label + arrow if key == marked else label
            if column.label.plain != want:
                column.label = Text(want)
                cells_changed(self)

    def _sorted(self, rows: dict[str, tuple]) -> dict[str, tuple]:
        """``rows`` in sort order; rows without a value (None) last either way."""
        value = self._sort_value
        valued, blank = [], []
        for item in rows.items():
            v = value(*item)
            (blank if v is None else valued).append((v, item))
        valued.sort(key=lambda pair: pair[0], reverse=self.sort_reverse)
        return dict([item for _, item in valued] + [item for _, item in blank])

    def _apply(self, rows: dict[str, tuple], changed: Iterable[str] | None = None) -> None:
        target = self._visible(rows)
        if self._sort_value is not None:
            target = self._sorted(target)
        self.target = target
        shown = self.shown
        for key in [k for k in shown if k not in target]:
            self.remove_row(key)
            del shown[key]
        col_keys = [c[0] for c in self.column_spec]
        updated = 0
        touched = []  # keys of the rows whose cells were written
        data = None
        check = target.keys() if changed is None or self._predicate is not None else changed
        for key in check:
            old = shown.get(key)
            if old is None or key not in target:  # (new rows are added below)
                continue
            cells = target[key]
            if old != cells:
                # update_cell(update_width=False) without its per-call refresh: one
                # refresh for the whole batch below (bench/tui.py: ~3,000 cells a tick)
                if data is None:
                    data = cell_store(self)
                row = data[key]
                for ck, a, b in zip(col_keys, old, cells):
                    if a is not b and a != b:  # `!=` has no identity shortcut (Text.__eq__)
                        row[ck] = b
                        updated += 1
                touched.append(key)
                shown[key] = cells
        if updated:
            self.cells_updated += updated
            rows_changed(self, set(touched))  # the on-screen lines of those rows only
        if len(shown) != len(target):
            # an empty table taking many rows: the first screenful now, the rest after the frame
            staged = not shown and self.stages(len(target))
            if self._add_missing(self.first_rows() if staged else None):
                self._fill_later()
        elif self._sort_value is not None:
            self._order(list(target))  # values moved: so may the rows

    def stages(self, n: int) -> bool:
        """Whether an empty table given ``n`` rows takes them in two steps (``first_rows``
        before the next frame, the rest after): when they are more than the terminal is
        tall (at most ``FIRST_ROWS``). A few dozen rows are added at once: a second step
        would cost more than it saves."""
        height = self.app.size.height if self.is_attached else 0
        return n > (min(FIRST_ROWS, height) if height > 0 else FIRST_ROWS)

    def first_rows(self) -> int:
        """Rows an empty table takes before the next frame: no more than it can show, at most
        ``FIRST_ROWS``. That is its own height once laid out; before (the first snapshot is
        shown before the first layout), its row's share of the terminal's height when it
        sits in a grid of equal rows (the dashboard's 2 x 3: a third), else the terminal's
        height. Either is more than it shows, so its scrollbar is there from the first frame."""
        if not self.is_attached:
            return FIRST_ROWS
        height = self.app.size.height
        if height <= 0:
            return FIRST_ROWS
        if self.size.height > 0:
            return min(FIRST_ROWS, height, self.size.height)
        for node in self.ancestors:
            layout = node.styles.layout
            if layout is not None and layout.name == "grid":
                rows = node.styles.grid_size_rows or 1
                return min(FIRST_ROWS, -(-height // rows))
        return min(FIRST_ROWS, height)

    def _add_missing(self, budget: int | None = None) -> bool:
        """Add the rows of ``target`` the table lacks (at most ``budget``), then put the
        rows in order. Returns: whether rows are left to add."""
        target, shown = self.target, self.shown
        added = left = False
        for key, cells in target.items():
            if key in shown:
                continue
            if budget is not None:
                if budget == 0:
                    left = True
                    break
                budget -= 1
            self.add_row(*cells, key=key)
            shown[key] = cells
            self.rows_added += 1
            added = True
        if added:
            self._order(list(target))
        return left

    def _fill_later(self) -> None:
        if not self.filling:
            self.filling = True
            self.call_after_refresh(self.fill_now)

    def fill_now(self) -> None:
        """Add the rows the first frame left out (whatever ``target`` is by now)."""
        self.filling = False
        self._add_missing()

    def _order(self, keys: list[str]) -> None:
        """Put rows in ``keys`` order (after additions) without touching cell data; under a
        sort the cursor follows its row."""
        if self.ordered_keys() != keys:
            cursor = self.cursor_key() if self._sort_value is not None else None
            set_row_order(self, keys)
            if cursor is not None and cursor in self.shown:
                index = self.ordered_keys().index(cursor)
                if index != self.cursor_row:
                    self.move_cursor(row=index, scroll=False)

    def set_columns(self, columns: list[tuple[str, str, int | None]]) -> None:
        """Add or remove columns (the placement grid gains and loses nodes)."""
        have = [c[0] for c in self.column_spec]
        want = [c[0] for c in columns]
        if have == want:
            return
        if not set(have) <= set(want) or want[: len(have)] != [k for k in want if k in have]:
            # a removal or a reorder: rebuild columns (rare: a node joined or left)
            self.clear(columns=True)
            self.shown = {}
            self.column_spec = list(columns)
            for key, label, width in self.column_spec:
                self.add_column(Text(label), key=key, width=width)
            self.mark_sorted_column()
            return
        existing = set(have)
        self.column_spec = list(columns)
        for key, label, width in columns:
            if key not in existing:
                self.add_column(Text(label), key=key, width=width, default="")
        # rows already shown got "" for the new columns; remember that
        n = len(columns)
        self.shown = {k: tuple(v) + ("",) * (n - len(v)) for k, v in self.shown.items()}
        self.mark_sorted_column()

    def ordered_keys(self) -> list[str]:
        """Row keys in display order."""
        return row_keys_in_order(self)

    def visible_keys(self) -> list[str]:
        """The keys of the rows on screen now, in display order (one line a row)."""
        keys = self.ordered_keys()
        top = max(0, int(self.scroll_offset.y))
        height = self.size.height - (1 if self.show_header else 0)
        return keys[top : top + height] if height > 0 else []

    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, or None for an empty table."""
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # cursor beyond the rows after a removal
            return None

    def export_rows(self) -> tuple[list[str], list[list[str]]]:
        """(headers, rows as plain text) of the rows that pass the filter, for CSV/JSON
        export (all of them, also while the table is still filling)."""
        headers = [str(c[1]) for c in self.column_spec]
        return headers, [[_plain(c) for c in cells] for cells in self.target.values()]
