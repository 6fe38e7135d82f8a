"""The faces' house rules, checked: small modules, the dashboard's first frame without the
dialogs, the action specs free of either face's library, and settings that refuse a typo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the 500-line limit of every module (faastui included) is checked in test_backend_structure.py


def _modules_after(code: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(proc.stdout.split())


def test_the_dashboard_module_leaves_the_dialogs_for_the_first_dialog():
    mods = _modules_after("import faastui.tui.app")
    assert "faastui.tui.panes" in mods
    assert not {m for m in mods if m.startswith("faastui.tui.dialogs")}
    assert "textual.widgets._text_area" not in mods
    # the row views, the log view, the describe and the bench come with their first use
    assert not {m for m in mods if m.startswith("faastui.tui.views")}
    assert not {"faastui.describe", "faastui.benchmark", "faastui.logtext", "yaml"} & mods


def test_the_action_specs_import_neither_face():
    mods = _modules_after("import faastui.actions")
    assert not {m.split(".")[0] for m in mods} & {"textual", "typer", "click", "rich"}


def test_dashboard_settings_refuse_an_unknown_name():
    from faastui.tui.app import Dashboard, DashboardOptions

    from .test_tui_snapshots import FixedBackend

    with pytest.raises(TypeError, match="intervall"):
        Dashboard(FixedBackend, intervall=3)
    app = Dashboard(FixedBackend, DashboardOptions(readonly=True), interval=0.1)
    assert app.options.readonly and app.options.poll_interval == 0.25  # at most 4 polls a second
