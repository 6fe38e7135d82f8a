"""The action commands of DESIGN.md's action table: invoke, result, prewarm, dispatch,
fuse, unfuse, scale, deploy, rm.

Each is one Backend method (``scale +K`` reads ``describe(fn).replicas``
first). Results go to stdout, summaries to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ..output import Format, emit, format_result, invocation_summary, message
from ._common import OutputOpt, call, complete_function, complete_node, fail, usage_error

__all__ = ["app", "read_payload"]

app = typer.Typer(rich_markup_mode=None)


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
        raise usage_error(f"-d is not valid JSON: {exc}",
                          hint="quote it for the shell, e.g. -d '{\"name\": \"Ada\"}', or pass --raw") from None


def _print_result(inv) -> None:
    if inv.status == "ok":
        out = format_result(inv.result)
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
        sys.stdout.flush()
        message(invocation_summary(inv))
    else:
        message(invocation_summary(inv))
        raise typer.Exit(1 if inv.status != "pending" else 0)


def parse_header(text: str) -> tuple[str, str]:
    """``-H`` as faas-cli writes it (``K=V``) or as curl does (``K: V``): split at the first
    of ``=`` and ``:``."""
    cut = min((i for i in (text.find("="), text.find(":")) if i > 0), default=-1)
    if cut < 0:
        raise usage_error(f"bad header {text!r}", hint="write -H 'Name: value' or -H Name=value")
    return text[:cut].strip(), text[cut + 1:].strip()


def parse_query(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise usage_error(f"bad query {item!r}", hint="write --query name=value")
        out.append((key, value))
    return out


@app.command()
def invoke(fn: str = typer.Argument(..., help="Function name.", autocompletion=complete_function),
           data: Optional[str] = typer.Option(None, "--data", "-d",
                                              help="JSON payload, @FILE, or - for stdin."),
           raw: bool = typer.Option(False, "--raw", help="Send -d as plain text, not JSON."),
           node: Optional[str] = typer.Option(None, "--node", "-n", help="Run on this node.",
                                              autocompletion=complete_node),
           header: list[str] = typer.Option([], "--header", "-H", metavar="'NAME: VALUE'",
                                            help="A request header (repeatable; NAME=VALUE works too)."),
           query: list[str] = typer.Option([], "--query", metavar="NAME=VALUE",
                                           help="A query-string option (repeatable)."),
           method: Optional[str] = typer.Option(None, "--method", "-m", help="The HTTP method (POST)."),
           content_type: Optional[str] = typer.Option(None, "--content-type",
                                                      help="The Content-Type the function sees."),
           path: Optional[str] = typer.Option(None, "--path", help="The path below the function, e.g. /items/7."),
           async_: bool = typer.Option(False, "--async", help="Return a call id at once."),
           output: Format = typer.Option(None, "--output", "-o",
                                         help="json/yaml: print the Invocation record.")):
    """Call a function and print its output (a summary goes to stderr)."""
    from backends.base import Capability, HttpRequest
    from backends.errors import BackendError

    payload = read_payload(data, raw)
    headers = dict(parse_header(h) for h in header)
    if content_type:
        headers["Content-Type"] = content_type
    try:
        request = HttpRequest.of(method, path, parse_query(query), headers)
    except BackendError as exc:
        raise fail(exc) from None
    extra = {}
    if request is not None:
        extra["request"] = request

    def needs_request(b):
        if request is not None:
            b.require(Capability.HTTP_REQUEST, "pass a method, path, query or headers to a function")

    if async_:
        if node:
            raise usage_error("--async cannot pick a node")

        async def start(b):
            needs_request(b)
            return await b.invoke_async(fn, payload, **extra)

        call_id = call(start)
        if output in (Format.json, Format.yaml):
            emit({"call_id": call_id}, output)
        else:
            print(call_id)
            message(f"started {fn}: fetch the result with `faastui result {call_id} --wait`")
        return

    async def run(b):
        needs_request(b)
        return await b.invoke(fn, payload, node=node, **extra)

    inv = call(run)
    if output is not None and output != Format.table:
        emit(inv, output)
        if inv.status not in ("ok",):
            message(invocation_summary(inv) + (f": {inv.error}" if inv.error else ""))
            raise typer.Exit(1)
        return
    if inv.status != "ok" and inv.error:
        message(f"error: {inv.error}")
    _print_result(inv)


@app.command()
def result(call_id: str = typer.Argument(..., help="The id `invoke --async` printed."),
           wait: bool = typer.Option(False, "--wait", "-W", help="Wait for a pending call."),
           timeout: float = typer.Option(60.0, "--timeout", min=0, help="Seconds to wait."),
           output: Format = typer.Option(None, "--output", "-o", help="json/yaml: the record.")):
    """The result of an async call."""
    inv = call(lambda b: b.result(call_id, wait=timeout if wait else 0.0))
    if output is not None and output != Format.table:
        emit(inv, output)
        return
    if inv.status == "pending":
        message(f"call {call_id} is still running; try --wait")
        return
    if inv.status != "ok" and inv.error:
        message(f"error: {inv.error}")
    _print_result(inv)


@app.command()
def prewarm(fn: str = typer.Argument(..., help="Function name.", autocompletion=complete_function),
            node: Optional[str] = typer.Option(
                None, "--node", "-n", autocompletion=complete_node,
                help="Node to prewarm on (default: where the backend places them)."),
            count: int = typer.Option(1, "--count", "-c", min=1, help="Containers to start."),
            all_nodes: bool = typer.Option(False, "--all-nodes", help="Prewarm on every node."),
            output: Format = OutputOpt):
    """Start containers of a function ahead of calls."""
    if node and all_nodes:
        raise usage_error("use either --node or --all-nodes, not both")

    async def run(b):
        import asyncio

        targets = [n.name for n in await b.nodes()] if all_nodes else [node or None]
        done = await asyncio.gather(*(b.prewarm(fn, t, count) for t in targets))
        return [i for batch in done for i in batch]

    started = call(run)
    emit(started, output, "Invocation")
    if output in (Format.table, Format.wide):
        message(f"prewarmed {len(started)} container(s) of {fn}")


@app.command(context_settings={"ignore_unknown_options": True})
def dispatch(input: str = typer.Option("", "--input", "-i", help="Input of the first step."),
             steps: list[str] = typer.Option(..., "--step", "-s", metavar="NODE:FUNCTION",
                                             help="A step (repeatable)."),
             fanout: bool = typer.Option(False, "--fanout", help="Send the input to every step in parallel."),
             output: Format = OutputOpt):
    """Run a chain of steps (each output feeds the next), or a fan-out."""
    from backends.model import DispatchStep

    try:
        plan = [DispatchStep.parse(s) for s in steps]
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    res = call(lambda b: b.dispatch(input, plan, mode="fanout" if fanout else "chain"))
    if output in (Format.json, Format.yaml):
        emit(res, output)
    else:
        out = format_result(res.output)
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
        from ..output import stdout_console, table_for

        stdout_console(stderr=True).print(table_for(res.steps, "Invocation", wide=output == Format.wide))
    if any(s.status != "ok" for s in res.steps):
        raise typer.Exit(1)


@app.command()
def fuse(functions: list[str] = typer.Argument(..., help="Two or more functions.",
                                               autocompletion=complete_function),
         name: Optional[str] = typer.Option(None, "--name", help="Name of the group."),
         output: Format = OutputOpt):
    """Host functions in one worker: calls between them become local calls."""
    if len(functions) < 2:
        raise usage_error("fuse needs at least two functions")
    group = call(lambda b: b.fuse(functions, name))
    emit(group, output)


@app.command()
def unfuse(group: str = typer.Argument(..., help="Fusion group name."),
           output: Format = OutputOpt):
    """Split a fusion group back into separate functions."""
    fns = call(lambda b: b.unfuse(group))
    if output in (Format.json, Format.yaml):
        emit({"group": group, "functions": fns}, output)
    else:
        message(f"unfused {group}: {', '.join(fns)}")


@app.command(context_settings={"ignore_unknown_options": True})
def scale(fn: str = typer.Argument(..., help="Function name.", autocompletion=complete_function),
          replicas: str = typer.Argument(..., help="N, +K or -K.", metavar="N|+K|-K"),
          output: Format = OutputOpt):
    """Set the minimum replicas kept of a function."""
    from faastui.scaling import parse_replicas, scale_to

    try:
        parse_replicas(replicas)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    if fn == "worker":  # [workflow] the pool of a running workflow, on any context (issue 11)
        from .workflow import scale_running_workflow

        if scale_running_workflow(replicas, output):
            return
    emit(call(lambda b: scale_to(b, fn, replicas)), output)


@app.command()
def deploy(paths: Optional[list[str]] = typer.Argument(
               None, metavar="PATH...|NAME...",
               help="Function folders, zips or stack files; with -f, the stack's functions to deploy."),
           stack: Optional[Path] = typer.Option(None, "--yaml", "-f",
                                                help="An OpenFaaS stack file: deploy its functions."),
           source: Optional[Path] = typer.Option(None, "--source", help="A handler source file."),
           name: Optional[str] = typer.Option(None, "--name", help="Deploy under this name."),
           requirement: list[str] = typer.Option([], "--requirement", "-r", metavar="REQ",
                                                  help="A pip requirement (with --source; repeatable)."),
           output: Format = OutputOpt):
    """Deploy functions: folders, zips and stack files in any format faastui reads (faastui,
    OpenFaaS, Nuclio, the Fusionizer, Ilúvatar), or handler source (--source)."""
    if source is not None:
        if paths or stack is not None:
            raise usage_error("--source deploys one handler file; give no PATH or -f with it")
        try:
            text = source.read_text()
        except OSError as exc:
            raise usage_error(f"cannot read {source}: {exc.strerror}") from None
        fn = call(lambda b: b.deploy_source(text, name=name, requirements=requirement or None))
        emit(fn, output)
        if output in (Format.table, Format.wide):
            message(f"deployed {fn.name}")
        return
    if requirement:
        raise usage_error("--requirement goes with --source; a package lists its own")
    from .deploying import deploy_all, plan

    targets = plan(paths or [], stack, name)
    deploy_all(targets, output)


@app.command("rm")
def rm(fns: list[str] = typer.Argument(..., help="Function name(s).", autocompletion=complete_function)):
    """Remove deployed functions."""
    async def run(b):
        for fn in fns:
            await b.remove(fn)
            message(f"removed {fn}")
    call(run)
