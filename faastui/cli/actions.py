"""The action commands of DESIGN.md's action table: invoke, result, prewarm, dispatch,
fuse, unfuse, scale, deploy, rm (also ``delete`` and ``remove``).

Each builds the action's spec (``faastui/actions.py``, the same the dashboard's dialogs
build), checks it and runs it, so an action behaves the same from either face. Results
go to stdout, summaries to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from backends.errors import BackendError

from ..output import Format, emit, format_result, invocation_summary, message
from ._common import NamespaceOpt, OutputOpt, call, complete_function, complete_node, fail, usage_error

__all__ = ["app", "read_payload"]

app = typer.Typer(rich_markup_mode=None)


def _checked(build):
    """The spec ``build()`` returns, validated; a bad one is one line and exit 2."""
    try:
        spec = build()
        spec.validate()
    except BackendError as exc:
        raise fail(exc) from None
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    return spec


def _emit(data: Any, output: Format, kind: str | None = None) -> None:
    try:
        emit(data, output, kind)
    except ValueError as exc:  # -o name of what has no names
        raise usage_error(str(exc)) from None


def read_payload(data: str | None, raw: bool = False) -> Any:
    """The payload of ``-d``: JSON text, ``@file`` (sent as its bytes), ``-`` or
    nothing with a piped stdin (its bytes). ``raw`` sends ``-d`` text as is."""
    if data is None:
        if sys.stdin is None or sys.stdin.isatty():
            return None
        body = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        return body or None
    if data == "-":
        return sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    if data.startswith("@"):
        path = Path(data[1:])
        try:
            return path.read_bytes()
        except OSError as exc:
            raise usage_error(f"cannot read {path}: {exc.strerror}") from None
    if raw:
        return data
    try:
        return json.loads(data)
    except ValueError as exc:
        raise usage_error(
            f"-d is not valid JSON: {exc}", hint='quote it for the shell, e.g. -d \'{"name": "Ada"}\', or pass --raw'
        ) from None


def _print_result(inv) -> None:
    if inv.status == "ok":
        out = format_result(inv.result)
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
        sys.stdout.flush()
        message(invocation_summary(inv))
    else:
        message(invocation_summary(inv))
        raise typer.Exit(1 if inv.status != "pending" else 0)


@app.command()
def invoke(
    fn: str = typer.Argument(..., help="Function name.", autocompletion=complete_function),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="JSON payload, @FILE, or - for stdin."),
    raw: bool = typer.Option(False, "--raw", help="Send -d as plain text, not JSON."),
    node: Optional[str] = typer.Option(None, "--node", help="Run on this node.", autocompletion=complete_node),
    header: list[str] = typer.Option(
        [], "--header", "-H", metavar="'NAME: VALUE'", help="A request header (repeatable; NAME=VALUE works too)."
    ),
    query: list[str] = typer.Option([], "--query", metavar="NAME=VALUE", help="A query-string option (repeatable)."),
    method: Optional[str] = typer.Option(None, "--method", "-m", help="The HTTP method (POST)."),
    content_type: Optional[str] = typer.Option(None, "--content-type", help="The Content-Type the function sees."),
    path: Optional[str] = typer.Option(None, "--path", help="The path below the function, e.g. /items/7."),
    async_: bool = typer.Option(False, "--async", help="Return a call id at once."),
    output: Format = typer.Option(None, "--output", "-o", help="json/yaml: print the Invocation record."),
    namespace: Optional[str] = NamespaceOpt,
):
    """Call a function and print its output (a summary goes to stderr)."""
    from ..actions import Invoke, InvokeAsync
    from ..call_parts import http_from_cli

    payload = read_payload(data, raw)
    parts = dict(header=header, content_type=content_type, method=method, path=path, query=query)
    if async_:
        if node:
            raise usage_error("--async cannot pick a node")
        spec = _checked(lambda: InvokeAsync(fn, payload, **http_from_cli(parts)))
        call_id = call(spec.run)
        if output in (Format.json, Format.yaml):
            emit({"call_id": call_id}, output)
        else:
            print(call_id)
            message(f"started {fn}: fetch the result with `faastui result {call_id} --wait`")
        return
    spec = _checked(lambda: Invoke(fn, payload, node=node, **http_from_cli(parts)))
    inv = call(spec.run)
    if output is not None and output not in (Format.table, Format.wide):
        _emit(inv, output)
        if inv.status not in ("ok",):
            message(invocation_summary(inv) + (f": {inv.error}" if inv.error else ""))
            raise typer.Exit(1)
        return
    if inv.status != "ok" and inv.error:
        message(f"error: {inv.error}")
    _print_result(inv)


@app.command()
def result(
    call_id: str = typer.Argument(..., help="The id `invoke --async` printed."),
    wait: bool = typer.Option(False, "--wait", "-W", help="Wait for a pending call."),
    timeout: float = typer.Option(60.0, "--timeout", min=0, help="Seconds to wait."),
    output: Format = typer.Option(None, "--output", "-o", help="json/yaml: the record."),
    namespace: Optional[str] = NamespaceOpt,
):
    """The result of an async call."""
    inv = call(lambda b: b.result(call_id, wait=timeout if wait else 0.0))
    if output is not None and output not in (Format.table, Format.wide):
        _emit(inv, output)
        return
    if inv.status == "pending":
        message(f"call {call_id} is still running; try --wait")
        return
    if inv.status != "ok" and inv.error:
        message(f"error: {inv.error}")
    _print_result(inv)


@app.command()
def prewarm(
    fn: str = typer.Argument(..., help="Function name.", autocompletion=complete_function),
    node: Optional[str] = typer.Option(
        None,
        "--node",
        autocompletion=complete_node,
        help="Node to prewarm on (default: where the backend places them).",
    ),
    count: int = typer.Option(1, "--count", "-c", min=1, help="Containers to start."),
    all_nodes: bool = typer.Option(False, "--all-nodes", help="Prewarm on every node."),
    output: Format = OutputOpt,
    namespace: Optional[str] = NamespaceOpt,
):
    """Start containers of a function ahead of calls."""
    from ..actions import Prewarm

    spec = _checked(lambda: Prewarm(fn, node=node, count=count, all_nodes=all_nodes))
    started = call(spec.run)
    _emit(started, output, "Container")
    if output in (Format.table, Format.wide):
        message(f"prewarmed {len(started)} container(s) of {fn}")


@app.command(context_settings={"ignore_unknown_options": True})
def dispatch(
    input: str = typer.Option("", "--input", "-i", help="Input of the first step."),
    steps: list[str] = typer.Option(..., "--step", "-s", metavar="NODE:FUNCTION", help="A step (repeatable)."),
    fanout: bool = typer.Option(False, "--fanout", help="Send the input to every step in parallel."),
    output: Format = OutputOpt,
    namespace: Optional[str] = NamespaceOpt,
):
    """Run a chain of steps (each output feeds the next), or a fan-out."""
    from backends.model import DispatchStep

    from ..actions import Dispatch

    spec = _checked(
        lambda: Dispatch(input, tuple(DispatchStep.parse(s) for s in steps), mode="fanout" if fanout else "chain")
    )
    res = call(spec.run)
    if output in (Format.json, Format.yaml):
        emit(res, output)
    elif output == Format.name:
        _emit(res.steps, output, "Invocation")
    else:
        out = format_result(res.output)
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
        from ..output import stdout_console, table_for

        stdout_console(stderr=True).print(table_for(res.steps, "Invocation", wide=output == Format.wide))
    if any(s.status != "ok" for s in res.steps):
        raise typer.Exit(1)


@app.command()
def fuse(
    functions: list[str] = typer.Argument(..., help="Two or more functions.", autocompletion=complete_function),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the group."),
    output: Format = OutputOpt,
    namespace: Optional[str] = NamespaceOpt,
):
    """Host functions in one worker: calls between them become local calls."""
    from ..actions import Fuse

    spec = _checked(lambda: Fuse(tuple(functions), name))
    _emit(call(spec.run), output)


@app.command()
def unfuse(
    group: str = typer.Argument(..., help="Fusion group name."),
    output: Format = OutputOpt,
    namespace: Optional[str] = NamespaceOpt,
):
    """Split a fusion group back into separate functions."""
    from ..actions import Unfuse

    spec = _checked(lambda: Unfuse(group))
    fns = call(spec.run)
    if output in (Format.json, Format.yaml):
        emit({"group": group, "functions": fns}, output)
    elif output == Format.name:
        for fn in fns:
            print(f"function/{fn}")
    else:
        message(f"unfused {group}: {', '.join(fns)}")


@app.command(context_settings={"ignore_unknown_options": True})
def scale(
    fn: str = typer.Argument(..., help="Function name.", autocompletion=complete_function),
    count: Optional[str] = typer.Argument(
        None,
        metavar="N|+K|-K",
        help="N sets the replicas (absolute); +K and -K add or take away from the current "
        "count (relative; never below 0). `scale FN -- -1` also works.",
    ),
    replicas: Optional[int] = typer.Option(
        None, "--replicas", min=0, metavar="N", help="The replicas to keep (absolute), as kubectl scale."
    ),
    output: Format = OutputOpt,
    namespace: Optional[str] = NamespaceOpt,
):
    """Set the minimum replicas kept of a function: N (absolute), +K or -K (relative)."""
    from faastui.scaling import parse_replicas

    from ..actions import from_cli

    spec = _checked(lambda: from_cli("scale", {"fn": fn, "count": count, "replicas": replicas}))
    try:
        parse_replicas(spec.replicas)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    if fn == "worker":  # [workflow] the pool of a running workflow, on any context (issue 11)
        from .workflow import scale_running_workflow

        if scale_running_workflow(spec.replicas, output):
            return
    done = call(spec.change)
    _emit(done.function, output)
    message(done.summary())


@app.command()
def deploy(
    paths: Optional[list[str]] = typer.Argument(
        None,
        metavar="PATH...|NAME...",
        help="Function folders (or a folder of them), zips or stack files; with -f, the stack's functions to deploy.",
    ),
    stack: Optional[Path] = typer.Option(None, "--yaml", "-f", help="An OpenFaaS stack file: deploy its functions."),
    source: Optional[Path] = typer.Option(None, "--source", help="A handler source file."),
    name: Optional[str] = typer.Option(None, "--name", help="Deploy under this name."),
    requirement: list[str] = typer.Option(
        [], "--requirement", "-r", metavar="REQ", help="A pip requirement (with --source; repeatable)."
    ),
    output: Format = OutputOpt,
    namespace: Optional[str] = NamespaceOpt,
):
    """Deploy functions: folders, zips and stack files in any format faastui reads (faastui,
    OpenFaaS, Nuclio, the Fusionizer, Ilúvatar), a folder of such folders (each one in it),
    or handler source (--source)."""
    if source is not None:
        if paths or stack is not None:
            raise usage_error("--source deploys one handler file; give no PATH or -f with it")
        try:
            text = source.read_text()
        except OSError as exc:
            raise usage_error(f"cannot read {source}: {exc.strerror}") from None
        fn = call(lambda b: b.deploy_source(text, name=name, requirements=requirement or None))
        _emit(fn, output)
        if output in (Format.table, Format.wide):
            message(f"deployed {fn.name}")
        return
    if requirement:
        raise usage_error("--requirement goes with --source; a package lists its own")
    from .deploying import deploy_all, plan

    targets = plan(paths or [], stack, name)
    deploy_all(targets, output)


def _function_name(text: str) -> str:
    """A function named as ``-o name`` prints it (``function/hello``) or plainly."""
    return text[len("function/") :] if text.startswith("function/") else text


@app.command("rm")
def rm(
    fns: list[str] = typer.Argument(
        ..., help="Function name(s); function/NAME (-o name) too.", autocompletion=complete_function
    ),
    namespace: Optional[str] = NamespaceOpt,
):
    """Remove deployed functions (aliases: delete, remove)."""
    from ..actions import Remove

    names = [_function_name(f) for f in fns]
    _checked(lambda: Remove(tuple(names)))

    async def run(b):
        for fn in names:  # one at a time: each is said as it goes, so none is lost unsaid
            await Remove((fn,)).run(b)
            message(f"removed {fn}")

    call(run)


app.command("delete", hidden=True, help="Remove deployed functions (as rm).")(rm)
app.command("remove", hidden=True, help="Remove deployed functions (as rm).")(rm)
