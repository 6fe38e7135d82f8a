"""``:ctx NAME``: switch the dashboard to another context (another backend) in place.

The new context's backend replaces the old one (closed in the background), the panes
forget their rows and styles, and a poll starts at once; a context that does not exist
or cannot be built is a notice and the dashboard stays where it was.
"""

from __future__ import annotations

from collections.abc import Callable

from backends.base import Backend
from backends.errors import BackendError

__all__ = ["switch_context", "context_backend"]


def context_backend(name: str) -> tuple[str, Callable[[], Backend]]:
    """The config's context ``name``: (its name, its backend factory). Raises: BackendError."""
    from ..config import resolve_context  # deferred: the config pulls in PyYAML

    ctx = resolve_context(name)
    return ctx.name, ctx.build_backend


def switch_context(app, name: str) -> None:
    """Point ``app`` at context ``name`` (``options.make_context_backend`` resolves it)."""
    resolve = app.options.make_context_backend or context_backend
    try:
        ctx_name, factory = resolve(name)
    except BackendError as exc:
        app.notify(str(exc), severity="error")
        return
    old = app.backend
    app.make_backend = factory
    app.backend = None
    try:
        app.backend = factory()
    except BackendError as exc:
        app.notify(str(exc), severity="error")
    app.backend_class = type(app.backend) if app.backend is not None else app.backend_class
    app.context_name = ctx_name
    app.sub_title = app.subtitle()
    app.snapshot = None
    for pane in app.panes.values():
        pane.repaint()
    if old is not None:
        app.call_later(old.aclose)
    app.refresh_bindings()
    app.notify(f"switched to context {ctx_name}")
    app.fetch_snapshot()
