"""``:ctx NAME`` and ``:ns NAME``: switch the dashboard to another context (another
backend), or its context to another namespace, in place.

The new backend replaces the old one (closed in the background), the panes forget their
rows and styles, and a poll starts at once; a context that does not exist, a namespace on
a backend without namespaces, or a backend that cannot be built is a notice and the
dashboard stays where it was.
"""

from __future__ import annotations

from collections.abc import Callable

from backends.base import Backend
from backends.errors import BackendError

__all__ = ["switch_context", "switch_namespace", "context_backend", "namespace_backends"]


def context_backend(name: str) -> tuple[str, Callable[[], Backend]]:
    """The config's context ``name``: (its name, its backend factory). Raises: BackendError."""
    from ..config import resolve_context  # deferred: the config pulls in PyYAML

    ctx = resolve_context(name)
    return ctx.name, ctx.build_backend


def namespace_backends(start=None) -> Callable[[str, str], Callable[[], Backend]]:
    """``options.make_namespace_backend`` for a dashboard started on context ``start`` (a
    ``faastui.config.Context``, maybe not one of the config's: ``-g URL``): (context name,
    namespace) -> that context's backend factory in the namespace. Raises: Unsupported for a
    backend without namespaces, BackendError for an unknown context."""

    def make(name: str, namespace: str) -> Callable[[], Backend]:
        from ..config import resolve_context  # deferred, as in context_backend

        base = start if start is not None and name == start.name else resolve_context(name)
        return base.in_namespace(namespace).build_backend

    return make


def switch_context(app, name: str) -> None:
    """Point ``app`` at context ``name`` (``options.make_context_backend`` resolves it)."""
    resolve = app.options.make_context_backend or context_backend
    try:
        ctx_name, factory = resolve(name)
    except BackendError as exc:
        app.notify(str(exc), severity="error")
        return
    app.namespace = None  # a context works in its own namespace until :ns
    _replace_backend(app, factory, ctx_name, f"switched to context {ctx_name}")


def switch_namespace(app, namespace: str) -> None:
    """Point ``app``'s context at ``namespace`` (``options.make_namespace_backend``)."""
    from backends.base import Capability

    make = app.options.make_namespace_backend
    if Capability.NAMESPACES not in app.capabilities:
        app.notify(f"the {app.backend_class.name} backend has no namespaces", severity="error")
        return
    if make is None:
        app.notify("this dashboard cannot switch namespaces", severity="error")
        return
    try:
        factory = make(app.context_name, namespace)
    except BackendError as exc:
        app.notify(str(exc), severity="error")
        return
    app.namespace = namespace
    _replace_backend(app, factory, app.context_name, f"switched to namespace {namespace}")


def _replace_backend(app, factory: Callable[[], Backend], ctx_name: str, notice: str) -> None:
    old = app.backend
    app.make_backend = factory
    app.backend = None
    try:
        app.backend = factory()
    except BackendError as exc:
        app.notify(str(exc), severity="error")
    if app.backend is not None:
        app.backend_class = type(app.backend)
        app.capabilities = app.backend.capabilities
    app.context_name = ctx_name
    app.sub_title = app.subtitle()
    app.snapshot = None
    for pane in app.panes.values():
        pane.repaint()
    if old is not None:
        app.call_later(old.aclose)
    app.refresh_bindings()
    app.notify(notice)
    app.fetch_snapshot()
