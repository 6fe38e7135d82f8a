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
