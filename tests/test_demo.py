"""`faastui demo --no-ui`: the engine with the demo cluster, the samples deployed, a mixed
load, a printed report, and the engine stopped again. Real processes throughout."""

from __future__ import annotations

from typer.testing import CliRunner

from backends.local.control import engine_status
from faastui import locations
from faastui.cli import app


def test_demo_without_ui_reports_and_stops(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["demo", "--no-ui"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for needle in ("edge-1", "edge-2", "core-1", "hello", "fusion-pair", "container state as found"):
        assert needle in out, needle
    assert "local calls 17" in out  # every fusion-front call reached fusion-back in-process
    assert engine_status(locations.state_dir() / "demo") is None


def test_dashboard_demo_background_fuses_the_fusion_samples_live(fresh_engine, monkeypatch):
    """The dashboard demo's background: the mixed load, and the optimizer in rounds, which
    fuses fusion-front and fusion-back once their calls show up (not fused up front)."""
    import asyncio

    from faastui import demo
    from tests.conftest import FUNCTIONS, run

    monkeypatch.setattr(demo, "OPTIMIZE_EVERY_S", 1.0)
    monkeypatch.setattr(demo, "OPTIMIZE_MIN_CALLS", 2)

    async def go():
        async with fresh_engine.backend() as b:
            for name in ("fusion-front", "fusion-back", "hello", "echo"):
                await b.deploy(FUNCTIONS / name)
            await demo.prepare(b, fuse=False)
            assert not await b.fusion_groups()
            try:
                await asyncio.wait_for(demo.dashboard_background(b), timeout=4.0)
            except TimeoutError:
                pass  # it runs until cancelled, like the dashboard's background
            groups = await b.fusion_groups()
            front = await b.invoke("fusion-front", {"text": "ab"})
            return groups, front, await b.fusion_groups()

    groups, front, after = run(go())
    assert [sorted(g.functions) for g in groups] == [["fusion-back", "fusion-front"]]
    assert front.status == "ok" and after[0].calls_local >= 1
