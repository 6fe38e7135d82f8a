"""KeyedTable: a DataTable kept in step with a dict of rows by diffing, never rebuilt.

``sync(rows)`` takes the rows the table should show (key -> cells, in order)
and applies only the difference: ``update_cell(..., update_width=False)`` for
changed cells, ``add_row`` for new keys, ``remove_row`` for vanished ones, and
a re-order only when rows were added. Column widths are set by the pane
(values that shrink never trigger a width pass; see PERF_FACTS.md). A
regex filter (``!`` negates) hides rows by key text without losing them.

An empty table that receives many rows (the first snapshot, a cleared filter) gets the
first ``FIRST_ROWS`` at once and the rest right after the screen has been drawn: the top
of the table is what a first frame shows, and adding 1,000 rows to a DataTable costs
about as much as drawing the whole screen.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable

__all__ = ["KeyedTable", "compile_filter", "FIRST_ROWS"]

#: rows an empty table takes before its first frame (more than any screen is tall)
FIRST_ROWS = 150

_NEWLINE = Text("\n")
_NO_STYLE = Style()


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


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


class KeyedTable(DataTable):
    """A DataTable whose rows are identified by string keys and synced by diff."""

    DEFAULT_CSS = """
    KeyedTable { height: 1fr; }
    """

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

    def on_mount(self) -> None:
        for key, label, width in self.column_spec:
            self.add_column(label, key=key, width=width)

    def _update_dimensions(self, new_rows) -> None:
        # DataTable measures every cell of every new row (for auto-width columns and
        # auto-height rows) on the next idle: ~11,000 measures for the bench's first
        # snapshot, about as long as everything else on startup together. Our columns
        # have fixed widths, rows are one line and unlabelled, so there is nothing to
        # measure; the virtual size is still recomputed by the base class.
        if not any(c.auto_width for c in self.columns.values()):
            new_rows = ()
        super()._update_dimensions(new_rows)

    # ---- drawing ---------------------------------------------------------------------
    fast_cells = True  # False: every cell through DataTable's own path (tests compare both)

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False):
        """DataTable's cell rendering, with a direct path for the common cell.

        DataTable draws each cell as ``Styled(Padding(cell, 0), pre, post)`` through Rich's
        general renderer: about 0.15 ms a cell here, 635 visible cells on the bench's first
        frame. For a one-line Text that fits its column (no tab, default justify, nothing
        to crop) the result is the text's own segments plus a blank pad, with ``pre``
        added before and ``post`` after each style; this path builds exactly that (a test
        compares it with DataTable's own output segment by segment) and hands every other
        cell to DataTable.
        """
        if (not self.fast_cells or row_index < 0 or column_index < 0 or self.cell_padding
                or row_index < self.fixed_rows or column_index < self.fixed_columns):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        cache_key = (row_key, self._column_locations.get_key(column_index), base_style, cursor,
                     hover, self._show_hover_cursor, self._update_count, self._pseudo_class_state)
        cache = self._cell_render_cache
        lines = cache.get(cache_key)
        if lines is not None:
            return lines
        row = self.rows.get(row_key)
        cells = self._get_row_renderables(row_index).cells
        cell = cells[column_index] if column_index < len(cells) else None
        if (row is None or row.height != 1 or not isinstance(cell, Text)
                or cell.justify not in (None, "default") or "\n" in cell.plain
                or "\t" in cell.plain or cell_len(cell.plain) > width):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        component_style, post_style = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) \
            + component_style
        segments = list(_NEWLINE.join([cell]).render(self.app.console))
        used = sum(cell_len(seg.text) for seg in segments)
        if used < width:
            segments.append(Segment(" " * (width - used), _NO_STYLE))
        add = pre.__add__
        if post_style:
            line = [Segment(text, add(style) + post_style) for text, style, _ in segments]
        else:
            line = [Segment(text, add(style)) for text, style, _ in segments]
        lines = cache[cache_key] = [line]
        return lines

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

    def _apply(self, rows: dict[str, tuple], changed: Iterable[str] | None = None) -> None:
        target = self.target = self._visible(rows)
        shown = self.shown
        for key in [k for k in shown if k not in target]:
            self.remove_row(key)
            del shown[key]
        col_keys = [c[0] for c in self.column_spec]
        updated = 0
        check = target.keys() if changed is None or self._predicate is not None else changed
        for key in check:
            cells = target.get(key)
            if cells is None:
                continue
            old = shown.get(key)
            if old is None:
                continue
            if old != cells:
                # update_cell(update_width=False) without its per-call refresh: one
                # refresh for the whole batch below (bench/tui.py: ~3,000 cells a tick)
                row = self._data[key]
                for ck, a, b in zip(col_keys, old, cells):
                    if a is not b and a != b:  # `!=` has no identity shortcut (Text.__eq__)
                        row[ck] = b
                        updated += 1
                shown[key] = cells
        if updated:
            self.cells_updated += updated
            self._update_count += 1
            self.refresh()
        if len(shown) != len(target):
            # an empty table taking many rows: the first screenful now, the rest after the frame
            staged = not shown and len(target) > FIRST_ROWS
            if self._add_missing(FIRST_ROWS if staged else None):
                self._fill_later()

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
        """Put rows in ``keys`` order (after additions) without touching cell data."""
        position = {k: i for i, k in enumerate(keys)}
        if self.ordered_keys() == keys:
            return
        from textual._two_way_dict import TwoWayDict  # DataTable.sort's own structure
        from textual.widgets._data_table import RowKey

        ordered = sorted(self._data.keys(), key=lambda rk: position.get(rk.value, len(position)))
        self._row_locations = TwoWayDict({RowKey(rk.value) if not isinstance(rk, RowKey) else rk: i
                                          for i, rk in enumerate(ordered)})
        self._update_count += 1
        self.refresh()

    def set_columns(self, columns: list[tuple[str, str, int | None]]) -> None:
        """Add or remove columns (the placement grid gains and loses nodes)."""
        have = [c[0] for c in self.column_spec]
        want = [c[0] for c in columns]
        if have == want:
            return
        if not set(have) <= set(want) or want[:len(have)] != [k for k in want if k in have]:
            # a removal or a reorder: rebuild columns (rare: a node joined or left)
            self.clear(columns=True)
            self.shown = {}
            self.column_spec = list(columns)
            for key, label, width in self.column_spec:
                self.add_column(label, key=key, width=width)
            return
        existing = set(have)
        self.column_spec = list(columns)
        for key, label, width in columns:
            if key not in existing:
                self.add_column(label, key=key, width=width, default="")
        # rows already shown got "" for the new columns; remember that
        n = len(columns)
        self.shown = {k: tuple(v) + ("",) * (n - len(v)) for k, v in self.shown.items()}

    def ordered_keys(self) -> list[str]:
        """Row keys in display order."""
        locations = self._row_locations
        return [rk.value for rk in sorted(locations, key=locations.get)]

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
