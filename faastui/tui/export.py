"""ctrl+s: a screenshot (SVG) and the focused table as CSV and JSON, side by side.

The folder is ``save_dir`` (DashboardOptions), else ``$FAASTUI_SAVE_DIR``, else the
current directory; the files are ``faastui-<stamp>.svg`` and
``faastui-<stamp>-<pane>.csv|.json``. The table is exported with the filter applied
and in full (also while it is still filling).
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

from .panes import TablePane

__all__ = ["save_view"]


def save_view(app) -> tuple[Path, Path, Path]:
    """Save the screen and the focused (else last, else Placement) pane. Returns: the
    SVG, CSV and JSON paths."""
    save_dir = app.options.save_dir
    folder = Path(save_dir) if save_dir else Path(os.environ.get("FAASTUI_SAVE_DIR") or Path.cwd())
    folder.mkdir(parents=True, exist_ok=True)
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
