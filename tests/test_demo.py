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
