"""`faastui watch`: nodes, placement, queues, QoS and fusion groups, refreshed in place."""

from __future__ import annotations

from typing import Optional

import typer

from ..output import Format
from ._common import NamespaceOpt, current_context, handle_errors

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None)


@app.command()
def watch(
    interval: float = typer.Option(2.0, "--interval", "-i", min=0.05, help="Seconds between refreshes."),
    once: bool = typer.Option(False, "--once", help="Show one frame and exit."),
    output: Format = typer.Option(
        Format.table, "--output", "-o", help="table (live view), json or yaml (a document per tick)."
    ),
    namespace: Optional[str] = NamespaceOpt,
):
    """Monitor the backend without a full screen (Ctrl-C to stop)."""
    from ..watch import watch_snapshot  # deferred: rich Live

    with handle_errors():
        ctx = current_context()
    code = watch_snapshot(
        ctx.build_backend, interval=interval, once=once, output=output, title=f"faastui watch  context {ctx.name}"
    )
    raise typer.Exit(code)
