"""The dashboard's first frame: the first poll starts before the panes are mounted, and an
answer that is already there when they are is shown before the screen is first laid out
(polling.Poller.fetch_early / mounted), so no frame of empty panes is drawn first.

The backends here are in-process fixed-data ones (test_tui_snapshots.FixedBackend and
two variants): what is checked is the order of things inside the app, not a backend.
"""

from __future__ import annotations

import asyncio
import time

from backends.errors import Unreachable
from faastui.tui.app import Dashboard
from faastui.tui.table import KeyedTable

from .test_tui_snapshots import FixedBackend

SIZE = (160, 46)


async def until(pilot, cond, timeout: float = 20.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def make(backend) -> Dashboard:
    return Dashboard(backend, interval=3600, remember_theme=False, context_name="first")


def test_the_first_frame_draws_the_data(monkeypatch):
    """An answer that comes while the app composes is in the tables before any of them draws
    its first line (the empty-panes frame is never drawn)."""
    first_draw: dict[str, int] = {}
    render_line = KeyedTable.render_line

    def recording(self, y):
        first_draw.setdefault(self.id, self.row_count)
        return render_line(self, y)

    monkeypatch.setattr(KeyedTable, "render_line", recording)

    async def go():
        app = make(FixedBackend)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: len(first_draw) >= 5, what="every table drawn")
            assert app.refreshes == 1
            # the prompt line is mounted when first opened, not for the first frame
            assert not app.query("#prompt")
            await pilot.press("slash")
            await until(
                pilot,
                lambda: app.focused is not None and app.focused.id == "prompt",
                what="the prompt, mounted and focused",
            )
            await pilot.press("escape")
            await until(pilot, lambda: app.focused is app.panes["placements"].table, what="focus back on the grid")
            await pilot.press("colon")  # opened again: the same Input, not a second one
            await until(pilot, lambda: app.focused is not None and app.focused.id == "prompt", what="the prompt again")
            assert len(app.query("#prompt")) == 1
        return first_draw

    drawn = asyncio.run(go())
    for table in ("nodes-table", "placements-table", "queues-table", "qos-table"):
        assert drawn[table] > 0, (table, drawn)
    assert drawn["events-table"] == 1  # "connected", added with the first snapshot


class Down(FixedBackend):
    """A backend that is unreachable at once (the first answer is an error)."""

    name = "down"
    calls = 0

    async def snapshot(self):
        Down.calls += 1
        raise Unreachable("the engine at http://127.0.0.1:9 does not answer")


def test_an_early_failure_is_shown_from_mount():
    async def go():
        app = Dashboard(Down, interval=0.3, remember_theme=False, context_name="first")
        async with app.run_test(size=SIZE) as pilot:
            assert app.failures == 1  # shown in on_mount, before the first frame
            for part, pane in app.panes.items():
                if part != "events":
                    assert pane.has_class("-error"), part
            rows = app.panes["events"].table.rows_all.values()
            assert any("does not answer" in str(cells[-1]) for cells in rows)
            assert app.poller.ready and app.poller.early is None
            await until(pilot, lambda: Down.calls >= 2, what="the next tick's retry")
            assert app.refreshes == 0

    asyncio.run(go())


class Slow(FixedBackend):
    """A backend whose first answer waits until the test lets it go (after mount)."""

    name = "slow"
    gate: asyncio.Event | None = None

    async def snapshot(self):
        await Slow.gate.wait()
        return await super().snapshot()


def test_an_answer_after_mount_is_posted_as_every_later_one():
    async def go():
        Slow.gate = asyncio.Event()
        app = make(Slow)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.refreshes == 0 and app.poller.ready
            assert app.panes["nodes"].table.row_count == 0
            Slow.gate.set()
            await until(pilot, lambda: app.refreshes == 1, what="the first snapshot")
            await pilot.pause()
            assert app.panes["nodes"].table.row_count == 4
            assert app.poller.early is None

    asyncio.run(go())


class Many(FixedBackend):
    """The fixed snapshot with 300 nodes (more than a table's first frame shows), the warm
    counts moving on the second poll."""

    name = "many"
    polls = 0

    async def snapshot(self):
        import dataclasses

        from backends.model import Node, Placement

        Many.polls += 1
        snap = await super().snapshot()
        nodes = [
            Node(f"n-{i:03d}", f"10.1.{i // 250}.{i % 250}", i % 7 != 0, 4, 4096, i % 4, 100 * (i % 40), {}, 32, i % 32)
            for i in range(300)
        ]
        placements = [Placement("hello", f"n-{i:03d}", "warm", 1 + (i + Many.polls) % 3) for i in range(0, 300, 5)]
        return dataclasses.replace(snap, nodes=nodes, placements=placements)


def test_the_nodes_first_fill_builds_the_cells_it_shows_and_the_rest_after_the_frame():
    """The Nodes pane's first snapshot (LAZY_FIRST_FILL): before the first frame only the
    rows the table takes have cells; after it, every row is in the table, the cells the same
    as built eagerly, the count and export see all 300 from the start; the next poll's
    moved warm counts reach the table."""

    async def go():
        Many.polls = 0
        app = Dashboard(Many, interval=3600, remember_theme=False, context_name="first")
        before: dict = {}
        apply = app.apply_snapshot

        def recording(snap):
            apply(snap)
            if not before:
                pane = app.panes["nodes"]
                rows = pane.table.rows_all
                before.update(built=len(rows._cells), rows=pane.table.row_count, count=pane.count_text())

        app.apply_snapshot = recording
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.refreshes >= 1, what="the first snapshot")
            pane = app.panes["nodes"]
            table = pane.table
            await until(pilot, lambda: table.row_count == 300, what="every node in the table")
            assert before["rows"] < 300 and before["built"] <= before["rows"] + 1, before
            assert before["count"] == "300"
            eager = {key: pane.cells(obj) for key, obj in pane.models.items()}
            assert dict(table.rows_all) == eager
            cols = [c[0] for c in table.column_spec]
            for key in ("n-000", "n-150", "n-299"):
                assert tuple(table.get_cell(key, c) for c in cols) == eager[key]
            headers, exported = table.export_rows()
            assert len(exported) == 300 and exported[0][0] == "n-000"
            app.fetch_snapshot()  # the warm counts move
            await until(pilot, lambda: app.refreshes >= 2, what="the second snapshot")
            await pilot.pause()
            for key in ("n-000", "n-005", "n-295"):
                assert table.get_cell(key, "warm") == str(pane.warm.get(key, 0)), key
            assert table.get_cell("n-005", "warm") == str(1 + (5 + 2) % 3)

    asyncio.run(go())
