"""What every command module shares: the chosen context, running a backend call,
turning errors into one line and an exit code, and the common options.

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

__all__ = ["state", "call", "fail", "usage_error", "OutputOpt", "WatchOpt", "IntervalOpt",
           "current_context", "handle_errors", "complete_function", "complete_node"]


class _State:
    context: str | None = None


state = _State()

OutputOpt = typer.Option(Format.table, "--output", "-o", help="table, wide, json or yaml.",
                         case_sensitive=False)
WatchOpt = typer.Option(False, "--watch", "-w", help="Keep refreshing until Ctrl-C.")
IntervalOpt = typer.Option(2.0, "--interval", help="Seconds between refreshes with --watch.",
                           min=0.05)


def current_context():
    from ..config import resolve_context

    return resolve_context(state.context)


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
