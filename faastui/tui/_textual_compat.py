"""Every use of Textual's private API by the dashboard, behind one door.

The dashboard needs a few things Textual keeps private: a DataTable that skips measuring
fixed-width columns and draws the common cell directly (the first frame and every
refresh of a 1,000-node cluster; see ``FastDataTable``), rows put in an order without
re-adding them, a dirty flag for a column resized in place, the footer's "bindings are
ready" flag, the app's binding map (greyed keys get a tooltip), and the ANSI colour map
of the theme chosen before the app starts. Nothing else in
``faastui/tui`` touches a ``_name`` of Textual's; this module is the list of them.

``TOUCHES`` names each private thing with what we rely on; tests/test_textual_compat.py
checks all of them against the installed Textual and fails with the list of what is
missing. pyproject.toml pins Textual to the minor version this was written and tested
against (``TESTED``); moving the pin means running that test and the snapshot tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding
from textual.geometry import Region
from textual.screen import Screen
from textual.widgets import DataTable
from textual.widgets._data_table import RowRenderables, default_cell_formatter
from textual.widgets.data_table import RowKey

__all__ = [
    "TESTED",
    "TOUCHES",
    "FastDataTable",
    "set_row_order",
    "row_keys_in_order",
    "cell_store",
    "cells_changed",
    "rows_changed",
    "mark_dimensions_stale",
    "bindings_ready",
    "set_bindings_ready",
    "map_bindings",
    "start_theme",
    "FirstFrameScreen",
]

#: the Textual minor version this module is written for (pyproject.toml pins it)
TESTED = "8.2"

#: what this module touches: (owner, name, what we rely on). ``owner`` is a dotted path
#: to a class or module; a name with ``(...)`` is a method we call or override with
#: exactly those parameters; ``instance`` names an attribute set in ``__init__``.
TOUCHES: list[tuple[str, str, str]] = [
    ("textual.widgets.DataTable", "_update_dimensions(new_rows)", "override: skip measuring"),
    (
        "textual.widgets.DataTable",
        "_render_cell(row_index, column_index, base_style, width, cursor, hover)",
        "override: the direct path for one-line Text cells",
    ),
    ("textual.widgets.DataTable", "_get_row_renderables(row_index)", "call: a row's cells"),
    (
        "textual.widgets.DataTable",
        "_compute_row_renderables(row_index)",
        "override: a one-line row's str cells as plain Text, not Rich markup",
    ),
    ("textual.widgets.DataTable", "_should_render_row_labels", "property: rows have labels"),
    ("textual.widgets._data_table", "RowRenderables", "class: (label, cells) of a row"),
    ("textual.widgets._data_table", "default_cell_formatter", "function: a cell as DataTable shows it"),
    (
        "textual.widgets.DataTable",
        "_get_styles_to_render_cell(is_header_cell, is_row_label_cell, is_fixed_style_cell, hover, "
        "cursor, show_cursor, show_hover_cursor, has_css_foreground_priority, "
        "has_css_background_priority)",
        "call: a cell's styles",
    ),
    ("textual.widgets.DataTable", "_row_locations", "instance: TwoWayDict RowKey <-> index"),
    ("textual.widgets.DataTable", "_column_locations", "instance: TwoWayDict ColumnKey <-> index"),
    ("textual.widgets.DataTable", "_data", "instance: RowKey -> {ColumnKey: cell}"),
    ("textual.widgets.DataTable", "_header_row_key", "instance: the header's row key (cell cache key)"),
    ("textual.widgets.DataTable", "_cell_render_cache", "instance: the rendered cell cache"),
    ("textual.widgets.DataTable", "_update_count", "instance: part of every render cache key"),
    ("textual.widgets.DataTable", "_show_hover_cursor", "instance: part of the cell cache key"),
    ("textual.widgets.DataTable", "_pseudo_class_state", "instance: part of the cell cache key"),
    ("textual.widgets.DataTable", "_require_update_dimensions", "instance: the re-measure flag"),
    ("textual._two_way_dict", "TwoWayDict", "class: DataTable's row index (as sort() builds it)"),
    ("textual.widgets.Footer", "_bindings_ready", "reactive: the footer has its keys"),
    ("textual.widgets.Footer", "bindings_changed(screen)", "override (undocumented hook)"),
    ("textual.app.App", "_bindings", "instance: a BindingsMap with key_to_bindings"),
    ("textual.app.App", "_refresh_truecolor_filter(theme)", "call: the ANSI colour map of a theme"),
    (
        "textual.screen.Screen",
        "_on_screen_resume(event)",
        "handler run after a subclass's: it restyles every widget when refresh_styles",
    ),
]


class FastDataTable(DataTable):
    """A DataTable for fixed-width, one-line rows: nothing to measure, the common cell drawn
    directly (``fast_cells = False`` sends every cell through DataTable's own path)."""

    fast_cells = True

    #: str cells read as Rich markup (DataTable's way); False: shown as they are. The
    #: dashboard's str cells are data (names, counts, event text), never markup; read as
    #: markup, each costs a parse on first draw (~380 on the bench's first frame) and the
    #: first one loads Rich's emoji table (~5 ms), and a name with ``[...]`` was mangled.
    markup_cells = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._plain_kept: dict[int, tuple] = {}  # id(cell) -> (cell, _plain_segments(cell))

    def _update_dimensions(self, new_rows) -> None:
        # DataTable measures every cell of every new row (for auto-width columns and
        # auto-height rows) on the next idle: ~11,000 measures for the bench's first
        # snapshot, about as long as everything else on startup together. Our columns
        # have fixed widths, rows are one line and unlabelled, so there is nothing to
        # measure; the virtual size is still recomputed by the base class.
        if not any(c.auto_width for c in self.columns.values()):
            new_rows = ()
        super()._update_dimensions(new_rows)

    def _compute_row_renderables(self, row_index: int):
        # a one-line, unlabelled row's cells as DataTable formats them, a str as plain Text
        # (DataTable: Text.from_markup); anything else goes to DataTable
        if self.markup_cells or row_index < 0 or self._should_render_row_labels:
            return super()._compute_row_renderables(row_index)
        row_key = self._row_locations.get_key(row_index)
        row = self.rows.get(row_key) if row_key is not None else None
        if row is None or row.height != 1:
            return super()._compute_row_renderables(row_index)
        data = self._data[row_key]
        cells = []
        for column in self.ordered_columns:
            datum = data.get(column.key)
            if datum is None or datum == "":
                cells.append(_EMPTY_TEXT)
            elif isinstance(datum, str) and "\n" not in datum:
                cells.append(Text(datum, no_wrap=True, end=""))
            else:
                cells.append(default_cell_formatter(datum, wrap=False, height=1) or _EMPTY_TEXT)
        return RowRenderables(None, cells)

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ):
        """DataTable's cell rendering, with a direct path for the common cell.

        DataTable draws each cell as ``Styled(Padding(cell, 0), pre, post)`` through Rich's
        general renderer: about 0.15 ms a cell here, 635 visible cells on the bench's first
        frame. For a one-line Text that fits its column (no tab, default justify, nothing
        to crop) the result is the text's own segments plus a blank pad, with ``pre``
        added before and ``post`` after each style; this path builds exactly that (a test
        compares it with DataTable's own output segment by segment) and hands every other
        cell to DataTable.

        A cell's own segments are kept per cell object (``_plain_segments``: cells are
        shared between rows and ticks, e.g. the cached bars and counts), and the row/column
        meta is added last, once per segment, instead of twice into every style: the styles
        before it are the same for the whole table, so Rich's style cache answers them.
        The header's cells (a one-line header) take the same path with the header's styles.
        """
        header = row_index == -1
        if (
            not self.fast_cells
            or row_index < -1
            or column_index < 0
            or self.cell_padding
            or (header and self.header_height != 1)
            or (not header and row_index < self.fixed_rows)
            or column_index < self.fixed_columns
        ):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._header_row_key if header else self._row_locations.get_key(row_index)
        cache_key = (
            row_key,
            self._column_locations.get_key(column_index),
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cache = self._cell_render_cache
        lines = cache.get(cache_key)
        if lines is not None:
            return lines
        if header:
            one_line = True  # header_height is 1 (above)
        else:
            row = self.rows.get(row_key)
            one_line = row is not None and row.height == 1
        cells = self._get_row_renderables(row_index).cells
        cell = cells[column_index] if column_index < len(cells) else None
        plain = self._plain_segments(cell) if one_line else None
        if plain is None or plain[1] > width:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        segments, used, metaless = plain
        component_style, post_style = self._get_styles_to_render_cell(
            header,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        meta = Style.from_meta({"row": row_index, "column": column_index})
        if metaless and not (_has_meta(base_style) or _has_meta(component_style) or _has_meta(post_style)):
            # (base + meta + component) + style + post, with the meta moved to the end: the
            # same style, as no other part has meta (the same keys in the same order)
            add = (base_style + component_style).__add__
            line = [Segment(text, add(style) + post_style + meta) for text, style in segments]
        else:
            add = (base_style + meta + component_style).__add__
            line = [Segment(text, add(style) + post_style) for text, style in segments]
        if used < width:
            line.append(Segment(" " * (width - used), (base_style + meta + component_style) + post_style))
        lines = cache[cache_key] = [line]
        return lines

    #: cells whose segments ``_plain_segments`` keeps (per table; then it starts again)
    PLAIN_SEGMENTS = 4096

    def _plain_segments(self, cell):
        """``(segments, width, metaless)`` of a one-line Text the direct path can draw,
        ``segments`` as (text, style) pairs; None for any other cell. Kept per cell object
        (by id, the cell held so the id stays its own)."""
        kept = self._plain_kept
        entry = kept.get(id(cell))
        if entry is not None and entry[0] is cell:
            return entry[1]
        if (
            not isinstance(cell, Text)
            or cell.justify not in (None, "default")
            or "\n" in cell.plain
            or "\t" in cell.plain
        ):
            result = None
        else:
            segments = [(seg.text, seg.style) for seg in _NEWLINE.join([cell]).render(self.app.console)]
            metaless = not any(_has_meta(style) for _, style in segments)
            result = (segments, sum(cell_len(text) for text, _ in segments), metaless)
        if len(kept) >= self.PLAIN_SEGMENTS:
            kept.clear()
        kept[id(cell)] = (cell, result)
        return result


@lru_cache(maxsize=1024)
def _has_meta(style: Style | None) -> bool:
    return style is not None and bool(style.meta)


_NEWLINE = Text("\n")
_EMPTY_TEXT = Text(no_wrap=True, end="")


# ---- DataTable rows -------------------------------------------------------------------------
def cell_store(table: DataTable) -> dict:
    """The table's cells, ``RowKey -> {column key: cell}``, to write changed cells in place
    (``update_cell`` without its per-call refresh); call ``cells_changed`` after."""
    return table._data


def cells_changed(table: DataTable) -> None:
    """Cells were written through ``cell_store``: drop cached renders and repaint once."""
    table._update_count += 1
    table.refresh()


def rows_changed(table: DataTable, keys: set[str]) -> None:
    """Cells of the rows ``keys`` were written through ``cell_store``: drop cached renders and
    repaint the lines of those rows that are on screen, not the whole table (the common
    tick changes a tenth of the rows; a full repaint also throws away the cached lines of
    every row that did not change). Rows of more than one line, or fixed rows: the whole
    table, as ``cells_changed``."""
    table._update_count += 1
    if table.fixed_rows:
        table.refresh()
        return
    header = table.header_height if table.show_header else 0
    top = int(table.scroll_offset.y)
    width = table.size.width
    locations, rows = table._row_locations, table.rows
    regions = []
    for index in range(top, min(top + max(0, table.size.height - header), table.row_count)):
        row_key = locations.get_key(index)
        if row_key is None or row_key.value not in keys:
            continue
        if rows[row_key].height != 1:
            table.refresh()
            return
        regions.append(Region(0, header + index - top, width, 1))
    if regions:
        table.refresh(*regions)


def set_row_order(table: DataTable, keys: list[str]) -> None:
    """Put the rows in ``keys`` order (unknown rows last) without touching their cells, the
    way ``DataTable.sort`` does (which can only sort by cell values)."""
    position = {k: i for i, k in enumerate(keys)}
    ordered = sorted(table._data.keys(), key=lambda rk: position.get(rk.value, len(position)))
    table._row_locations = TwoWayDict(
        {rk if isinstance(rk, RowKey) else RowKey(rk.value): i for i, rk in enumerate(ordered)}
    )
    cells_changed(table)


def row_keys_in_order(table: DataTable) -> list[str]:
    """Row keys (their values) in display order."""
    locations = table._row_locations
    return [rk.value for rk in sorted(locations, key=locations.get)]


def mark_dimensions_stale(table: DataTable) -> None:
    """A column's width was set in place: have the table recompute its size and repaint."""
    table._require_update_dimensions = True
    table.refresh()


# ---- Footer ---------------------------------------------------------------------------------
def bindings_ready(footer) -> bool:
    """Whether the footer has received its screen's bindings (it composes empty before)."""
    return footer._bindings_ready


def set_bindings_ready(footer) -> None:
    footer._bindings_ready = True


# ---- theme ----------------------------------------------------------------------------------
def start_theme(app, name: str) -> None:
    """Make ``name`` (registered) the theme of an app that has not started: what setting
    ``app.theme`` does (the theme's classes on the app, its ANSI colour map, its CSS
    variables), without the ``refresh_css`` the theme's watcher queues. Nothing is styled
    yet, so that refresh would only parse every stylesheet a second time with the new
    variables and restyle the app alone (bench/tui.py: about 2% of the first frame). No
    one listens for ``theme_changed_signal`` yet, so it is not sent."""
    from textual.app import App

    app.set_reactive(App.theme, name)
    theme = app.current_theme
    classes = {c: False for c in app.classes if c.startswith("-theme-")}
    classes.update({f"-theme-{theme.name}": True, "-dark-mode": theme.dark, "-light-mode": not theme.dark})
    app.update_classes(classes, update=False)
    app._refresh_truecolor_filter(app.ansi_theme)
    app.stylesheet.set_variables(app.get_css_variables())


# ---- screen ---------------------------------------------------------------------------------
class FirstFrameScreen(Screen):
    """A default screen that is not restyled whole when it first becomes active.

    A screen that resumes restyles itself and every widget on it (``ScreenResume`` with
    ``refresh_styles``: its styles may have changed while another screen was on top). The
    first resume comes right after the screen's widgets were mounted, and each of them
    was styled as it mounted: the pass applies the same styles again (with the nine
    component classes of each table), about a twentieth of the dashboard's first frame
    (bench/tui.py). Every later resume (back from a dialog) restyles as always. A class
    or focus change in between restyles the widgets concerned, as any does."""

    _resumed = False

    def _on_screen_resume(self, event) -> None:
        # dispatched before Screen's own handler (the class's MRO), which reads the flag
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False


# ---- bindings -------------------------------------------------------------------------------
def map_bindings(node, change: Callable[[Binding], Binding]) -> None:
    """Replace each of ``node``'s own bindings by ``change(binding)`` (e.g. with a tooltip)."""
    key_to_bindings = node._bindings.key_to_bindings
    for key, bindings in list(key_to_bindings.items()):
        key_to_bindings[key] = [change(b) for b in bindings]


def missing(touches: Iterable[tuple[str, str, str]] = TOUCHES) -> list[str]:
    """What of ``touches`` the installed Textual lacks (or has with other parameters)."""
    import importlib
    import inspect

    from textual.app import App
    from textual.widgets import Footer

    instances = {"textual.widgets.DataTable": DataTable, "textual.widgets.Footer": Footer, "textual.app.App": App}
    made: dict[str, object] = {}
    out = []
    for owner, name, _why in touches:
        module_name, _, attr = owner.rpartition(".")
        try:
            module = importlib.import_module(owner)
            obj = module
        except ImportError:
            obj = getattr(importlib.import_module(module_name), attr, None)
        if obj is None:
            out.append(f"{owner} (gone)")
            continue
        base, _, params = name.partition("(")
        target = getattr(obj, base, None)
        if target is None and owner in instances:
            if owner not in made:
                made[owner] = instances[owner]()
            target = getattr(made[owner], base, None)
        if target is None:
            out.append(f"{owner}.{base}")
            continue
        if params:
            want = [p.strip() for p in params.rstrip(")").split(",") if p.strip()]
            have = [p for p in inspect.signature(target).parameters if p != "self"]
            if have != want:
                out.append(f"{owner}.{base}({', '.join(have)}) — expected ({', '.join(want)})")
    return out
