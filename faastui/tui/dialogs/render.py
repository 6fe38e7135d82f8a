"""Rich renderings shared by the dialogs' result areas: a table of Invocations, a result
value cut to a readable length."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

__all__ = ["invocation_table", "result_text"]


def invocation_table(invs, title: str | None = None) -> Table:
    """One row per Invocation: node, function, container state, status and the timings."""
    table = Table(title=title, expand=False, box=None, padding=(0, 1), header_style="bold")
    for col in ("#", "node", "function", "container", "status", "cold ms", "run ms", "overhead ms"):
        table.add_column(col, justify="right" if col.endswith("ms") or col == "#" else "left")
    for i, inv in enumerate(invs, 1):
        table.add_row(
            str(i),
            inv.node,
            inv.function,
            inv.container_state or "-",
            inv.status,
            f"{inv.cold_start_ms:.2f}",
            f"{inv.duration_ms:.2f}",
            f"{inv.overhead_ms:.2f}",
        )
    return table


def result_text(value: Any, limit: int = 600) -> str:
    """A call's result as one line of text (JSON unless it is text), at most ``limit`` long."""
    text = value if isinstance(value, str) else json.dumps(value, indent=None, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
