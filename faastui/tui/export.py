"""ctrl+s: a screenshot (SVG) and the focused table as CSV and JSON, side by side.

The folder is ``save_dir`` (DashboardOptions, ``--save-dir``), else ``$FAASTUI_SAVE_DIR``,
else ``$XDG_DATA_HOME/faastui/screenshots`` (``locations.screenshots_dir``), never the
current directory (often a checkout); the files are ``faastui-<stamp>.svg`` and
``faastui-<stamp>-<pane>.csv|.json``. The table is exported with the filter applied
and in full (also while it is still filling). ``save_text`` writes a view's text (a
describe, a YAML, a log) into the same folder.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

from .. import locations
from .panes import TablePane

__all__ = ["save_view", "save_text", "save_folder"]


def save_folder(app) -> Path:
    """The folder ctrl+s writes into (made if missing)."""
    save_dir = app.options.save_dir or os.environ.get("FAASTUI_SAVE_DIR")
    folder = Path(save_dir).expanduser() if save_dir else locations.screenshots_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_text(app, name: str, text: str) -> Path:
    """Write ``text`` as ``faastui-<stamp>-<name>`` in the save folder (atomically)."""
    folder = save_folder(app)
    path = folder / f"faastui-{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    app.notify(f"saved {path.name} in {folder}")
    return path


def save_view(app) -> tuple[Path, Path, Path]:
    """Save the screen and the focused (else last, else Placement) pane. Returns: the
    SVG, CSV and JSON paths."""
    folder = save_folder(app)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    svg = Path(app.save_screenshot(f"faastui-{stamp}.svg", str(folder)))
    sel = app.selection
    pane = sel.focused_pane() or sel.last_pane or app.panes["placements"]
    if isinstance(pane, TablePane):
        headers, rows = pane.table.export_rows()
    else:
        headers, rows = pane.export_rows()
    base = folder / f"faastui-{stamp}-{pane.part}"
    with open(f"{base}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    Path(f"{base}.json").write_text(json.dumps([dict(zip(headers, r)) for r in rows], indent=2))
    app.notify(f"saved {svg.name}, {base.name}.csv and .json in {folder}")
    return svg, Path(f"{base}.csv"), Path(f"{base}.json")
