"""KeyedTable: diffed sync, the regex filter, and the staged first fill of a large table.

Driven in a small Textual app (``run_test``) with no backend: what is checked is what the
DataTable itself holds (row keys in display order, cell values), not only our own dicts.
"""

from __future__ import annotations

import asyncio

from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.widgets import DataTable

from faastui.tui.table import FIRST_ROWS, KeyedTable

COLUMNS = [("name", "NAME", 10), ("n", "N", 5)]


class One(App):
    def compose(self):
        self.table = KeyedTable(COLUMNS)
        yield self.table


def rows(n: int, bump: int = 0) -> dict[str, tuple]:
    return {f"r{i:04d}": (Text(f"r{i:04d}"), str(i + bump)) for i in range(n)}


def datatable_rows(table: KeyedTable) -> list[tuple[str, str]]:
    """(key, N column) for every row the DataTable holds, in display order."""
    return [(k, str(table.get_cell(k, "n"))) for k in table.ordered_keys()]


def test_a_large_first_snapshot_fills_in_two_steps_and_loses_nothing():
    async def go():
        app = One()
        async with app.run_test() as pilot:
            table = app.table
            data = rows(1000)
            table.sync(data)
            # before the first frame: only the top of the table is in the DataTable (as
            # many rows as it is tall: the whole terminal, 24 lines, here) ...
            first = table.first_rows()
            assert first == min(FIRST_ROWS, app.size.height) == 24
            assert table.row_count == first
            assert table.ordered_keys() == list(data)[:first]
            # ... but everything that counts rows or exports them already sees all of them
            assert len(table.target) == 1000
            headers, exported = table.export_rows()
            assert headers == ["NAME", "N"] and len(exported) == 1000
            assert exported[-1] == ["r0999", "999"]

            # a refresh arriving before the rest is added: changed and new rows, one removed
            newer = rows(1001, bump=1)
            del newer["r0003"]
            table.sync(newer)
            await pilot.pause()
            await pilot.pause()
            assert not table.filling
            expect = [(k, v[1]) for k, v in newer.items()]
            assert datatable_rows(table) == expect

            # a filter and its removal: the table refills to the full, ordered set
            table.set_filter("r000")
            assert table.ordered_keys() == [k for k in newer if k.startswith("r000")]
            table.set_filter("")
            await pilot.pause()
            await pilot.pause()
            assert datatable_rows(table) == expect

    asyncio.run(go())


def test_a_small_table_is_filled_at_once_and_updated_in_place():
    async def go():
        app = One()
        async with app.run_test() as pilot:
            table = app.table
            table.sync(rows(20))
            assert table.row_count == 20 and not table.filling
            before = table.cells_updated
            changed = rows(20)
            changed["r0005"] = (changed["r0005"][0], "fifty")
            table.sync(changed, ["r0005"])
            await pilot.pause()
            assert table.get_cell("r0005", "n") == "fifty"
            assert table.cells_updated - before == 1  # one cell, not the row or the table
            assert table.rows_added == 20  # nothing re-added

    asyncio.run(go())


class Grid(App):
    """Three tables in a grid of three equal rows, the first filled before the first layout
    (as the dashboard shows its first snapshot from on_mount)."""

    CSS = "#grid { layout: grid; grid-size: 1 3; } KeyedTable { height: 1fr; }"

    def compose(self):
        from textual.containers import Container

        self.tables = [KeyedTable(COLUMNS) for _ in range(3)]
        with Container(id="grid"):
            yield from self.tables

    def on_mount(self):
        table = self.tables[0]
        self.unlaid = table.size.height
        table.sync(rows(1000))
        self.before_frame = table.row_count
        self.tables[1].sync(rows(25))  # fewer than the terminal is tall: all at once
        self.small_before_frame = self.tables[1].row_count


def test_before_the_first_layout_a_table_in_a_grid_takes_its_share_of_the_screen():
    async def go():
        app = Grid()
        async with app.run_test(size=(40, 30)) as pilot:
            table = app.tables[0]
            assert app.unlaid == 0  # it was not laid out when the rows came
            assert app.before_frame == 10  # a third of the 30 lines, not 30
            assert app.small_before_frame == 25 and not app.tables[1].filling
            await pilot.pause()
            await pilot.pause()
            # more than it shows (its header takes a line), so nothing was missing on screen
            assert 0 < table.size.height - 1 < app.before_frame
            assert table.row_count == 1000 and table.ordered_keys() == list(rows(1000))
            # laid out, an empty table takes what its own height shows
            table.sync({})
            assert table.first_rows() == table.size.height

    asyncio.run(go())


CELLS = [
    Text("plain"),
    Text("styled", style="bold red"),
    Text.assemble(("ab", "green"), "cd", ("ef", "on blue")),
    "a str",
    "[b]markup[/b] str",
    "",
    Text(""),
    Text("▁▂▃▅▇"),
    Text("✓ ready"),
    Text("漢字cjk"),
    Text("exactly10!"),
    Text("far too long for the column"),
    Text("tab\there"),
    Text("two\nlines"),
    Text("right", justify="right"),
    Text("x", style="dim"),
    42,
    3.14159,
    None,
    Text.from_markup("[@click=app.bell]meta[/] and not"),
]


def test_the_fast_cell_path_draws_exactly_what_datatable_draws(monkeypatch):
    async def go():
        app = One()
        async with app.run_test(size=(60, 30)) as pilot:
            table = app.table
            data = {f"k{i}": (cell, CELLS[(i + 3) % len(CELLS)]) for i, cell in enumerate(CELLS)}
            table.sync(data)
            await pilot.pause()
            table.cursor_coordinate = (2, 1)
            styles = [table.rich_style, Style(bgcolor="red", italic=True), Style()]
            general = []  # cells the fast path handed to DataTable
            original = DataTable._render_cell

            def counting(self, *args, **kwargs):
                if self.fast_cells:
                    general.append(args[:2])
                return original(self, *args, **kwargs)

            monkeypatch.setattr(DataTable, "_render_cell", counting)
            compared = 0
            for row in range(-1, len(data)):  # -1: the header
                for col in range(len(COLUMNS)):
                    for base in styles:
                        for cursor in (False, True):
                            for hover in (False, True):
                                got = []
                                for use_fast in (True, False):
                                    table.fast_cells = use_fast
                                    table._cell_render_cache.clear()
                                    got.append(table._render_cell(row, col, base, 10, cursor=cursor, hover=hover))
                                assert got[0] == got[1], (row, col, cursor, hover, data)
                                compared += 1
            table.fast_cells = True
            assert compared == (len(data) + 1) * 2 * 3 * 4
            # the fast path drew most cells itself; the odd ones (too long, tab, two lines,
            # right-justified) went to DataTable
            assert 0 < len(general) < compared * 0.3, len(general)
            assert all(row != -1 for row, _ in general)  # the header's cells fit: the fast path
            # and a whole screen drawn both ways is the same, character and style
            table._cell_render_cache.clear()
            table._row_render_cache.clear()
            fast_screen = [table.render_line(y) for y in range(len(data))]
            table.fast_cells = False
            table._cell_render_cache.clear()
            table._row_render_cache.clear()
            slow_screen = [table.render_line(y) for y in range(len(data))]
            assert [list(s) for s in fast_screen] == [list(s) for s in slow_screen]

    asyncio.run(go())


def test_a_refresh_repaints_the_changed_rows_on_screen_and_shows_the_rest_when_scrolled_to():
    """Changed cells repaint only the lines of their rows that are on screen; what the
    terminal shows is what a full repaint shows, on screen and after scrolling."""

    async def go():
        app = One()
        async with app.run_test(size=(40, 12)) as pilot:
            table = app.table
            data = rows(200)
            table.sync(data)
            for _ in range(3):
                await pilot.pause()
            table.scroll_to(y=50, animate=False)
            await pilot.pause()
            await pilot.pause()
            top = int(table.scroll_offset.y)
            assert top == 50
            on_screen, off_screen = f"r{top + 3:04d}", "r0005"
            changed = dict(data)
            for key in (on_screen, off_screen):
                changed[key] = (changed[key][0], "NEW" + key[-2:])
            table.sync(changed, [on_screen, off_screen])
            await pilot.pause()
            await pilot.pause()
            partial = app.export_screenshot()
            assert f"NEW{on_screen[-2:]}" in partial
            table.refresh()  # everything repainted: the same screen
            await pilot.pause()
            await pilot.pause()
            assert app.export_screenshot() == partial
            table.scroll_to(y=0, animate=False)
            await pilot.pause()
            await pilot.pause()
            assert "NEW05" in app.export_screenshot()

    asyncio.run(go())


def test_str_cells_are_shown_as_they_are_not_read_as_markup():
    """A name is data: ``[b]x[/b]`` and ``:fire:`` are shown as typed (DataTable reads str
    cells as Rich markup: bold ``x``, an emoji)."""

    async def go():
        app = One()
        async with app.run_test(size=(40, 8)) as pilot:
            table = app.table
            table.sync({"a": ("[b]x[/b]", ":fire:"), "b": (Text("plain"), "")})
            await pilot.pause()
            first = table._get_row_renderables(0).cells
            assert [c.plain for c in first] == ["[b]x[/b]", ":fire:"]
            assert not first[0].spans
            assert table._get_row_renderables(1).cells[1].plain == ""
            assert table.get_cell("a", "name") == "[b]x[/b]"  # the data itself is untouched
            line = "".join(segment.text for segment in table.render_line(1))  # under the header
            assert line.startswith("[b]x[/b]  :fire"), line  # (the column is 5 wide)

    asyncio.run(go())
