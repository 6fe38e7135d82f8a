"""The dashboard tells its backend which functions are on screen (``Backend.focus``), so a
cluster backend reads the busy state of their pods first (tests/test_kube_busy.py shows
the reader's side). Pilot, against the real engine; the backend is the engine's own client,
its ``focus`` recorded."""

from __future__ import annotations

from faastui.tui.app import Dashboard

from .conftest import run
from .test_tui_actions import refreshed, started, until


def test_each_poll_names_the_placement_rows_on_screen(engine):
    seen: list[list[str]] = []

    def make_backend():
        backend = engine.backend()
        backend.focus = lambda functions: seen.append(list(functions))
        return backend

    async def go():
        async with engine.backend() as b:
            for i in range(12):  # more functions than a short terminal's pane shows
                await b.deploy_source("def handle(req):\n    return req\n", name=f"focus-{i:02d}")
        try:
            await watch(make_backend)
        finally:
            async with engine.backend() as b:  # the session engine's other tests count functions
                for i in range(12):
                    await b.remove(f"focus-{i:02d}")

    async def watch(make_backend):
        app = Dashboard(make_backend, interval=30.0, remember_theme=False)
        async with app.run_test(size=(160, 30)) as pilot:
            await started(app, pilot)
            table = app.panes["placements"].table
            await until(pilot, lambda: len(table.ordered_keys()) >= 12, what="the functions listed")
            await refreshed(app, pilot)
            on_screen = table.visible_keys()
            keys = table.ordered_keys()
            assert seen[-1] == on_screen and 0 < len(on_screen) < len(keys)  # the rows shown, not all
            assert on_screen == keys[: len(on_screen)]
            table.scroll_to(y=3, animate=False)
            await until(pilot, lambda: int(table.scroll_offset.y) == 3, what="the scroll")
            await refreshed(app, pilot)
            assert seen[-1] == keys[3 : 3 + len(on_screen)]

    run(go())
