"""The read commands: nodes, functions (ls), placement, describe, queues, qos, fusion, logs.

Each takes ``-o table|wide|json|yaml`` and ``-w/--watch``. Placements, queues
and QoS come from one ``snapshot()`` (no Backend method returns them alone).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import typer

from ..output import Format, describe_text, emit
from ._common import IntervalOpt, OutputOpt, WatchOpt, call, complete_function

__all__ = ["app", "show"]

app = typer.Typer(rich_markup_mode=None)


def show(fetch: Callable[[Any], Awaitable[Any]], output: Format, watch: bool, interval: float,
         kind: str | None = None) -> None:
    """Print ``fetch(backend)`` once, or keep refreshing it with --watch."""
    if watch:
        from ..watch import watch_read  # deferred: rich Live, only --watch needs it
        from ._common import current_context, handle_errors

        with handle_errors():
            ctx = current_context()
            raise typer.Exit(watch_read(ctx.build_backend, fetch, output, interval, kind=kind))
    emit(call(fetch), output, kind)


@app.command()
def nodes(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """List the nodes and their capacity."""
    show(lambda b: b.nodes(), output, watch, interval)


@app.command("functions")
def functions_(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """List the deployed functions (alias: ls)."""
    show(lambda b: b.functions(), output, watch, interval, "Function")


@app.command("ls", hidden=True)
def ls(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """List the deployed functions."""
    functions_(output, watch, interval)


async def _snapshot_part(backend, part: str):
    return getattr(await backend.snapshot(), part)


@app.command()
def placement(function: str = typer.Option(None, "--function", "-f", help="Only this function.",
                                           autocompletion=complete_function),
              all_states: bool = typer.Option(False, "--all", "-a",
                                              help="Include cold placements (code, nothing running)."),
              output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """Where functions run: containers per function, node and state."""
    async def fetch(b):
        ps = await _snapshot_part(b, "placements")
        return [p for p in ps if (all_states or p.state != "cold")
                and (function is None or p.function == function)]
    show(fetch, output, watch, interval, "Placement")


@app.command()
def describe(fn: str = typer.Argument(..., help="Function name.", autocompletion=complete_function),
             output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """Show one function in detail."""
    if output == Format.table and not watch:
        import sys

        sys.stdout.write(describe_text(call(lambda b: b.describe(fn))))
        return
    show(lambda b: b.describe(fn), output, watch, interval)


async def _queues(backend):
    """The snapshot's queues; an error when the snapshot says it could not read them."""
    snap = await backend.snapshot()
    failed = [e for e in snap.errors if e.split(":", 1)[0].strip() in ("queues", "redis")]
    if failed:
        from backends.errors import BackendError

        raise BackendError(failed[0], hint="see `faastui status`")
    return snap.queues


@app.command()
def queues(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """Redis queue depths, in-flight items, rates and the oldest item's age."""
    show(_queues, output, watch, interval, "QueueStat")


@app.command()
def qos(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """Latency percentiles, errors, deadlines met and cold-start share per function."""
    show(lambda b: _snapshot_part(b, "qos"), output, watch, interval, "QoSStat")


@app.command()
def fusion(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """List the fusion groups."""
    show(lambda b: b.fusion_groups(), output, watch, interval, "FusionGroup")


@app.command()
def logs(fn: str = typer.Argument(..., help="Function name.", autocompletion=complete_function),
         tail: int = typer.Option(100, "--tail", "-n", min=1, help="Lines to show."),
         output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """The last lines a function printed."""
    if output in (Format.table, Format.wide) and not watch:
        lines = call(lambda b: b.logs(fn, tail))
        for line in lines:
            print(line)
        return
    show(lambda b: b.logs(fn, tail), output, watch, interval)
