"""What every command module shares: the chosen context (``--context``, or a one-shot
``-g/--gateway URL``) and namespace (``-n``), running a backend call, turning errors into
one line and an exit code, and the common options.

Commands call ``call(lambda b: b.method(...))``: it builds the context's
backend, runs the coroutine with ``asyncio.run``, closes the backend, and maps
a ``BackendError`` to ``error: <message>`` (+ ``hint: ...``) on stderr and the
error's ``exit_code`` (2 usage, 3 unsupported, 4 unreachable, 1 otherwise).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import typer

from backends.errors import BackendError, InvalidRequest

from ..output import Format

__all__ = [
    "state",
    "call",
    "fail",
    "usage_error",
    "OutputOpt",
    "WatchOpt",
    "IntervalOpt",
    "NamespaceOpt",
    "current_context",
    "handle_errors",
    "complete_function",
    "complete_node",
    "complete_context",
    "complete_namespace",
]


class _State:
    """What the root command parsed (reset on every run: CliRunner reuses the process)."""

    context: str | None = None
    namespace: str | None = None  # -n, at the root or on a command
    gateway: str | None = None  # -g URL: a one-shot openfaas context

    def reset(self, context: str | None, namespace: str | None, gateway: str | None) -> None:
        self.context, self.namespace, self.gateway = context, namespace, gateway


state = _State()


def _set_namespace(value: str | None) -> str | None:
    if value is not None:  # a command's own -n wins over the root's
        state.namespace = value
    return value


OutputOpt = typer.Option(Format.table, "--output", "-o", help="table, wide, json, yaml or name.", case_sensitive=False)
WatchOpt = typer.Option(False, "--watch", "-w", help="Keep refreshing until Ctrl-C.")
IntervalOpt = typer.Option(2.0, "--interval", help="Seconds between refreshes with --watch.", min=0.05)


def current_context(namespace: str | None = None):
    """The context to use: ``-g URL`` (an openfaas context made for this run), else
    ``--context``/$FAASTUI_CONTEXT/the current one; working in ``namespace`` (default: the
    ``-n`` given). Raises: InvalidRequest for ``-g`` with ``--context``; Unsupported (exit 3)
    for a namespace on a backend without namespaces."""
    from ..config import Context, resolve_context

    if state.gateway is not None:
        if state.context is not None:
            raise InvalidRequest("use either --context or -g/--gateway, not both")
        ctx = Context(name=f"-g {state.gateway}", backend="openfaas", url=state.gateway)
    else:
        ctx = resolve_context(state.context)
    namespace = namespace if namespace is not None else state.namespace
    return ctx if namespace is None else ctx.in_namespace(namespace)


def fail(exc: BackendError) -> typer.Exit:
    """Print ``exc`` as one line (+ hint) on stderr; the Exit to raise."""
    print(f"error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {exc.hint}", file=sys.stderr)
    return typer.Exit(exc.exit_code)


def usage_error(message: str, hint: str | None = None) -> typer.Exit:
    return fail(InvalidRequest(message, hint=hint))


class handle_errors:
    """Context manager: BackendError -> one line + exit code; Ctrl-C -> exit 130."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None:
            return False
        if isinstance(exc, BackendError):
            raise fail(exc) from None
        if isinstance(exc, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None
        return False


def call(action: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``action(backend)`` on the current context's backend and return its result."""
    import asyncio  # deferred: ~25 ms that `--help` need not pay

    async def main():
        backend = current_context().build_backend()
        try:
            return await action(backend)
        finally:
            await backend.aclose()

    with handle_errors():
        return asyncio.run(main())


# ---- shell completion: names from the current context, never an error ------------------
def _names(what: str, incomplete: str) -> list[str]:
    import asyncio

    async def fetch():
        backend = current_context().build_backend()
        try:
            items = await (backend.functions() if what == "functions" else backend.nodes())
            return [i.name for i in items]
        finally:
            await backend.aclose()

    try:
        names = asyncio.run(asyncio.wait_for(fetch(), 2.0))
    except Exception:  # completion must never fail loudly
        return []
    return [n for n in names if n.startswith(incomplete)]


def complete_function(incomplete: str) -> list[str]:
    return _names("functions", incomplete)


def complete_node(incomplete: str) -> list[str]:
    return _names("nodes", incomplete)


def complete_context(incomplete: str) -> list[str]:
    """The contexts of the config (nothing is contacted)."""
    try:
        from ..config import load_config

        names = [c.name for c in load_config().all()]
    except Exception:  # completion must never fail loudly
        return []
    return [n for n in names if n.startswith(incomplete)]


def complete_namespace(incomplete: str) -> list[str]:
    import asyncio

    async def fetch():
        backend = current_context().build_backend()
        try:
            return await backend.namespaces()
        finally:
            await backend.aclose()

    try:
        names = asyncio.run(asyncio.wait_for(fetch(), 2.0))
    except Exception:  # completion must never fail loudly; most backends have none
        return []
    return [n for n in names if n.startswith(incomplete)]


NamespaceOpt = typer.Option(
    None,
    "--namespace",
    "-n",
    metavar="NS",
    callback=_set_namespace,
    autocompletion=complete_namespace,
    help="Work in this namespace (backends that have them: knative, nuclio).",
)
