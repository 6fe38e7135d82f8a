"""The read commands: nodes, functions (ls), placement, describe, queues, qos, fusion, logs.

Each takes ``-o table|wide|json|yaml`` and ``-w/--watch``. Placements, queues
and QoS come from one ``snapshot()`` (no Backend method returns them alone).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, Optional

import typer

from ..output import Format, emit
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
def describe(first: str = typer.Argument(..., metavar="[KIND] NAME",
                                         help="A function's name, or KIND NAME with KIND one of "
                                              "function, node, queue, group.",
                                         autocompletion=complete_function),
             name: Optional[str] = typer.Argument(None, hidden=True),
             output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """Show one function (or node, queue, fusion group) in detail: its settings, where it
    runs, its QoS and its latest calls, as the dashboard's Enter shows it."""
    from ..describe import KINDS, gather
    from ._common import usage_error

    if name is None:
        kind, name = "function", first
    elif first.lower() in KINDS:
        kind = KINDS[first.lower()]
    else:
        raise usage_error(f"unknown kind {first!r}", hint="one of function, node, queue, group")
    if output == Format.table and not watch:
        sys.stdout.write(call(lambda b: gather(b, kind, name)).to_text())
        return
    if kind == "function":
        show(lambda b: b.describe(name), output, watch, interval)
    else:
        async def fields(b):
            return (await gather(b, kind, name)).fields
        show(fields, output, watch, interval)


@app.command()
def queues(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """Redis queue depths, in-flight items, rates and the oldest item's age."""
    show(lambda b: _snapshot_part(b, "queues"), output, watch, interval, "QueueStat")


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
         follow: bool = typer.Option(False, "--follow", "-f",
                                     help="Keep printing new lines until Ctrl-C."),
         since: Optional[str] = typer.Option(None, "--since",
                                             help="Only lines since: a duration (5m, 1h30m) or an "
                                                  "RFC 3339 time."),
         lines: Optional[int] = typer.Option(None, "--lines", min=0,
                                             help="How many of the last lines (default 100)."),
         tail: Optional[int] = typer.Option(None, "--tail", "-n", min=0, help="Same as --lines."),
         instance: Optional[str] = typer.Option(None, "--instance",
                                                help="Only this instance (a container id, a "
                                                     "replica or a pod; -o wide shows them)."),
         timestamps: bool = typer.Option(False, "--timestamps", help="Each line after its time."),
         prefix: bool = typer.Option(False, "--prefix", help="Each line after its [instance]."),
         output: Format = OutputOpt,
         watch: bool = typer.Option(False, "--watch", "-w", hidden=True, help="Same as --follow.")):
    """The lines a function printed: the last ones, or -f to follow (as faas-cli logs).

    -o json prints one OpenFaaS log message a line ({"name", "namespace", "instance",
    "timestamp", "text"}), as faas-cli does; -o wide is TIME INSTANCE TEXT.
    """
    from ..logtext import faas_json, parse_since, plain
    from ._common import handle_errors, usage_error

    if lines is not None and tail is not None and lines != tail:
        raise usage_error("--lines and --tail say the same thing; give one")
    count = lines if lines is not None else tail if tail is not None else 100
    follow = follow or watch
    if follow and output == Format.yaml:
        raise usage_error("-o yaml cannot stream a followed log", hint="use -o json (a line each)")
    with handle_errors():
        since_t = parse_since(since) if since is not None else None

    wide = output == Format.wide
    def text(line) -> str:
        if output == Format.json:
            return faas_json(line)
        return plain(line, timestamps or wide, prefix or wide)

    if not follow:
        got = call(lambda b: b.log_lines(fn, count, since=since_t, instance=instance))
        if output == Format.yaml:
            emit(got, output)
            return
        sys.stdout.write("".join(text(line) + "\n" for line in got))
        return

    import asyncio

    from ._common import current_context

    async def stream():
        backend = current_context().build_backend()
        try:
            async for line in backend.follow_logs(fn, count, since=since_t, instance=instance):
                sys.stdout.write(text(line) + "\n")
                sys.stdout.flush()
        finally:
            await backend.aclose()

    with handle_errors():
        try:
            asyncio.run(stream())
        except KeyboardInterrupt:  # Ctrl-C is how a follow ends: exit 0, no message
            return
        except BrokenPipeError:  # `| head`: the reader has what it wanted
            sys.stderr.close()
