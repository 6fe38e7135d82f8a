"""The read commands: nodes, functions (ls, list), placement, describe, queues, qos, fusion,
namespaces, logs.

Each takes ``-o table|wide|json|yaml|name`` and ``-w/--watch``; the list commands also take
``--sort-by``, ``-q``, ``--no-headers`` (and ``-l`` where the objects have labels: nodes,
functions) through ``_listing.Listing``, and ``-n`` (``functions -A`` lists every namespace).
Placements, queues and QoS come from one ``snapshot()`` (no Backend method returns them alone).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, Optional

import typer

from backends.errors import BackendError

from ..output import Format, InNamespace, emit
from ._common import IntervalOpt, NamespaceOpt, OutputOpt, WatchOpt, call, complete_function, fail, usage_error
from ._listing import Listing, NoHeadersOpt, QuietOpt, SelectorOpt, SortOpt

__all__ = ["app", "show"]

app = typer.Typer(rich_markup_mode=None)


def show(fetch: Callable[[Any], Awaitable[Any]], output: Format, watch: bool, interval: float,
         kind: str | None = None, listing: Listing | None = None) -> None:
    """Print ``fetch(backend)`` once, or keep refreshing it with --watch; ``listing`` filters,
    sorts and prints a list for scripts."""
    if listing is not None:
        inner = fetch

        async def fetch(b):
            return listing.apply(await inner(b), kind)

    if watch:
        if output == Format.name or (listing is not None and listing.for_scripts):
            raise usage_error("-q, --no-headers and -o name are for scripts; --watch is a live view")
        from ..watch import watch_read  # deferred: rich Live, only --watch needs it
        from ._common import current_context, handle_errors

        with handle_errors():
            ctx = current_context()
            raise typer.Exit(watch_read(ctx.build_backend, fetch, output, interval, kind=kind))
    data = call(fetch)
    try:
        if listing is not None:
            listing.emit(data, output, kind)
        else:
            emit(data, output, kind)
    except ValueError as exc:  # -o name of what has no names
        raise usage_error(str(exc)) from None


def _listing(kind: str, sort_by: str | None, quiet: bool, no_headers: bool,
             selector: str | None = None, namespaced: bool = False) -> Listing:
    try:
        return Listing.of(kind, sort_by, selector, quiet, no_headers, namespaced)
    except BackendError as exc:
        raise fail(exc) from None


@app.command()
def nodes(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt,
          sort_by: Optional[str] = SortOpt, selector: Optional[str] = SelectorOpt,
          quiet: bool = QuietOpt, no_headers: bool = NoHeadersOpt,
          namespace: Optional[str] = NamespaceOpt):
    """List the nodes and their capacity."""
    show(lambda b: b.nodes(), output, watch, interval, "Node",
         _listing("Node", sort_by, quiet, no_headers, selector))


def _across_namespaces(fetch: Callable[[Any], Awaitable[list]]) -> Callable[[Any], Awaitable[list]]:
    """``-A``: ``fetch`` in every namespace the backend lists, each object tagged with its own."""
    async def run(b):
        from ._common import current_context

        out: list = []
        for ns in await b.namespaces():
            backend = current_context(namespace=ns).build_backend()
            try:
                out += [InNamespace(ns, item) for item in await fetch(backend)]
            finally:
                await backend.aclose()
        return out
    return run


@app.command("functions")
def functions_(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt,
               sort_by: Optional[str] = SortOpt, selector: Optional[str] = SelectorOpt,
               quiet: bool = QuietOpt, no_headers: bool = NoHeadersOpt,
               namespace: Optional[str] = NamespaceOpt,
               all_namespaces: bool = typer.Option(False, "--all-namespaces", "-A",
                                                   help="List the functions of every namespace.")):
    """List the deployed functions (aliases: ls, list)."""
    fetch = lambda b: b.functions()  # noqa: E731 - one line either way
    if all_namespaces:
        if namespace is not None:
            raise usage_error("use either -n NAMESPACE or -A, not both")
        fetch = _across_namespaces(fetch)
    show(fetch, output, watch, interval, "Function",
         _listing("Function", sort_by, quiet, no_headers, selector, all_namespaces))


@app.command("ls", hidden=True)
def ls(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt,
       sort_by: Optional[str] = SortOpt, selector: Optional[str] = SelectorOpt,
       quiet: bool = QuietOpt, no_headers: bool = NoHeadersOpt,
       namespace: Optional[str] = NamespaceOpt,
       all_namespaces: bool = typer.Option(False, "--all-namespaces", "-A",
                                           help="List the functions of every namespace.")):
    """List the deployed functions."""
    functions_(output, watch, interval, sort_by, selector, quiet, no_headers, namespace, all_namespaces)


app.command("list", hidden=True, help="List the deployed functions.")(ls)


async def _snapshot_part(backend, part: str):
    return getattr(await backend.snapshot(), part)


class _PlacedRow:
    """A placement joined with its function and node, for ``placement -o wide``; it reads
    as the Placement (``to_dict`` is the Placement's, so -o json is unchanged)."""

    def __init__(self, p, fn, node):
        self.placement = p
        self.memory_mb = p.count * fn.memory_mb if fn is not None else None
        self.fusion_group = (fn.fusion_group or "-") if fn is not None else None
        self.invocations = fn.invocations if fn is not None else None
        self.node_containers = f"{node.containers}/{node.max_containers}" if node is not None else None
        self.node_memory = (f"{node.used_memory_mb:.0f}/{node.memory_mb:.0f}"
                            if node is not None else None)

    def __getattr__(self, name):
        return getattr(self.placement, name)

    def to_dict(self):
        return self.placement.to_dict()


@app.command()
def placement(function: str = typer.Option(None, "--function", "-f", help="Only this function.",
                                           autocompletion=complete_function),
              all_states: bool = typer.Option(False, "--all", "-a",
                                              help="Include cold placements (code, nothing running)."),
              output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt,
              sort_by: Optional[str] = SortOpt, quiet: bool = QuietOpt,
              no_headers: bool = NoHeadersOpt, namespace: Optional[str] = NamespaceOpt):
    """Where functions run: containers per function, node and state (-o wide: the memory they
    hold, their fusion group and calls, the node's containers and memory)."""
    async def fetch(b):
        snap = await b.snapshot()
        ps = [p for p in snap.placements if (all_states or p.state != "cold")
              and (function is None or p.function == function)]
        if output != Format.wide:
            return ps
        fns = {f.name: f for f in snap.functions}
        nodes = {n.name: n for n in snap.nodes}
        return [_PlacedRow(p, fns.get(p.function), nodes.get(p.node)) for p in ps]
    show(fetch, output, watch, interval, "Placement", _listing("Placement", sort_by, quiet, no_headers))


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


async def _queues(backend):
    """The snapshot's queues; an error when the snapshot says it could not read them."""
    snap = await backend.snapshot()
    failed = [e for e in snap.errors if e.split(":", 1)[0].strip() in ("queues", "redis")]
    if failed:
        from backends.errors import BackendError

        raise BackendError(failed[0], hint="see `faastui status`")
    return snap.queues


@app.command()
def queues(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt,
           sort_by: Optional[str] = SortOpt, quiet: bool = QuietOpt,
           no_headers: bool = NoHeadersOpt, namespace: Optional[str] = NamespaceOpt):
    """Redis queue depths, in-flight items, rates and the oldest item's age."""
    show(_queues, output, watch, interval, "QueueStat",
         _listing("QueueStat", sort_by, quiet, no_headers))


@app.command()
def qos(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt,
        sort_by: Optional[str] = SortOpt, quiet: bool = QuietOpt,
        no_headers: bool = NoHeadersOpt, namespace: Optional[str] = NamespaceOpt):
    """Latency percentiles, errors, deadlines met and cold-start share per function."""
    show(lambda b: _snapshot_part(b, "qos"), output, watch, interval, "QoSStat",
         _listing("QoSStat", sort_by, quiet, no_headers))


@app.command()
def fusion(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt,
           sort_by: Optional[str] = SortOpt, quiet: bool = QuietOpt,
           no_headers: bool = NoHeadersOpt, namespace: Optional[str] = NamespaceOpt):
    """List the fusion groups."""
    show(lambda b: b.fusion_groups(), output, watch, interval, "FusionGroup",
         _listing("FusionGroup", sort_by, quiet, no_headers))


@app.command()
def namespaces(output: Format = typer.Option(Format.table, "--output", "-o",
                                             help="table, json or yaml.", case_sensitive=False)):
    """List the backend's namespaces (as faas-cli namespaces; the embedded engine has none)."""
    names = call(lambda b: b.namespaces())
    if output in (Format.json, Format.yaml):
        emit(names, output)
    else:
        for name in names:
            print(name)


@app.command()
def logs(fn: str = typer.Argument(..., help="Function name.", autocompletion=complete_function),
         follow: bool = typer.Option(False, "--follow", "-f",
                                     help="Keep printing new lines until Ctrl-C."),
         since: Optional[str] = typer.Option(None, "--since",
                                             help="Only lines since: a duration (5m, 1h30m) or an "
                                                  "RFC 3339 time."),
         lines: Optional[int] = typer.Option(None, "--lines", min=0,
                                             help="How many of the last lines (default 100)."),
         tail: Optional[int] = typer.Option(None, "--tail", min=0, help="Same as --lines."),
         instance: Optional[str] = typer.Option(None, "--instance",
                                                help="Only this instance (a container id, a "
                                                     "replica or a pod; -o wide shows them)."),
         timestamps: bool = typer.Option(False, "--timestamps", help="Each line after its time."),
         prefix: bool = typer.Option(False, "--prefix", help="Each line after its [instance]."),
         output: Format = OutputOpt,
         watch: bool = typer.Option(False, "--watch", "-w", hidden=True, help="Same as --follow."),
         namespace: Optional[str] = NamespaceOpt):
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
