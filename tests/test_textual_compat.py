"""The private Textual API the dashboard uses (faastui/tui/_textual_compat.py) is there in
the installed Textual, with the parameters we call and override; and nothing else in
faastui/tui touches a private Textual name.

When this fails after a Textual upgrade, the message lists what moved: update
``_textual_compat`` (and its ``TOUCHES``) before moving the pin in pyproject.toml.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import textual

from faastui.tui import _textual_compat as compat

TUI = Path(compat.__file__).parent


def test_every_private_textual_thing_we_touch_is_there():
    missing = compat.missing()
    assert not missing, (
        f"textual {textual.__version__} lacks what faastui/tui/_textual_compat.py "
        f"relies on (written for {compat.TESTED}.x): " + "; ".join(missing)
    )


def test_the_check_catches_a_missing_name_and_a_changed_signature():
    fake = [
        ("textual.widgets.DataTable", "_no_such_member", "instance: made up"),
        ("textual.widgets.DataTable", "_render_cell(row_index, width)", "changed"),
        ("textual._no_such_module", "Thing", "gone"),
    ]
    out = compat.missing(fake)
    assert len(out) == 3
    assert "DataTable._no_such_member" in out[0]
    assert "expected (row_index, width)" in out[1]
    assert "_no_such_module" in out[2]


def test_the_installed_textual_is_the_pinned_minor_version():
    assert textual.__version__.startswith(compat.TESTED + "."), textual.__version__
    pyproject = (TUI.parents[1] / "pyproject.toml").read_text()
    major, minor = compat.TESTED.split(".")
    assert f'"textual>={compat.TESTED},<{major}.{int(minor) + 1}"' in pyproject


def _private_textual_uses(source: str) -> list[str]:
    """``textual._x`` imports and ``._name`` attributes of objects that are not ours."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            out += [n for n in names if re.match(r"textual(\.\w+)*\._", n)]
    return out


def test_no_other_tui_module_imports_textual_privates():
    offenders = {}
    for path in TUI.rglob("*.py"):
        if path.name == "_textual_compat.py":
            continue
        found = _private_textual_uses(path.read_text())
        if found:
            offenders[str(path.relative_to(TUI))] = found
    assert not offenders, offenders


def test_no_other_tui_module_reaches_into_textual_members():
    """The private members compat names (``_row_locations``, ``_bindings``, ...) appear in
    no other module of faastui/tui."""
    names = {re.split(r"[(]", name)[0] for _owner, name, _why in compat.TOUCHES if name.startswith("_")}
    offenders = []
    for path in TUI.rglob("*.py"):
        if path.name == "_textual_compat.py":
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(TUI)}: {n}" for n in names if re.search(rf"\.{re.escape(n)}\b", text)]
    assert not offenders, offenders
