"""Watch mode: an engine outage mid-watch is reported with the data's age, and the
view recovers when the engine comes back (on a new port, found via engine.json)."""

from __future__ import annotations

import io

from rich.console import Console

from backends.local.control import start_engine, stop_engine
from faastui.config import Context
from faastui.watch import Poller, snapshot_view
from tests.conftest import FUNCTIONS, run


def text_of(renderable) -> str:
    console = Console(file=io.StringIO(), width=160, no_color=True)
    console.print(renderable)
    return console.file.getvalue()


def test_watch_reports_an_outage_and_recovers(fresh_engine):
    ctx = Context(name="local", backend="local", state_dir=str(fresh_engine.state_dir))
    poller = Poller(ctx.build_backend, lambda b: b.snapshot())

    assert run(poller.tick())
    before = text_of(snapshot_view(poller))
    assert "Nodes (2)" in before and "error" not in before

    stop_engine(fresh_engine.state_dir)
    fresh_engine.process.wait(timeout=10)
    assert not run(poller.tick())
    down = text_of(snapshot_view(poller))
    assert "error: the engine at" in down and "faastui up" in down
    assert "showing data from" in down and "Nodes (2)" in down  # the last good data stays

    info = start_engine(fresh_engine.state_dir, port=0, nodes=2, functions_dir=FUNCTIONS)
    try:
        assert run(poller.tick())
        after = text_of(snapshot_view(poller))
        assert "error" not in after and "Nodes (2)" in after
        assert poller.error is None and poller.ticks == 3
    finally:
        run(poller.close())
        stop_engine(fresh_engine.state_dir)
        info["process"].wait(timeout=10)


def test_watch_loop_runs_ticks_and_exits(engine, monkeypatch):
    """The CLI loop itself: several ticks at a short interval, Ctrl-C ends it with 0."""
    from faastui import watch as watch_mod

    ticks = []
    real_tick = Poller.tick

    async def counting_tick(self):
        ok = await real_tick(self)
        ticks.append(ok)
        if len(ticks) == 3:
            raise KeyboardInterrupt
        return ok

    monkeypatch.setattr(Poller, "tick", counting_tick)
    code = watch_mod.watch_snapshot(lambda: engine.backend(), interval=0.05)
    assert code == 0 and ticks == [True, True, True]
