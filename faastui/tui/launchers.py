"""The action keys' launchers: each opens its dialog preset from what the cursor is on.

``launch(app, verb)`` builds the dialog for a DESIGN.md verb (``LAUNCHERS``), e.g. ``f``
with the functions marked in Placement, ``u`` with the fusion group under the cursor,
``s`` with the replicas one above the current count. When the dialog closes the app
polls at once, so the action's effect shows without waiting for the next tick. The
dialogs are imported when the first one opens: they pull in TextArea, Select and
friends (~40 ms), none of which the first frame needs.
"""

from __future__ import annotations

from collections.abc import Callable

from backends.base import Capability
from backends.errors import BackendError

from .gating import MUTATING

__all__ = ["launch", "open_help", "help_rows", "open_row", "open_logs", "pick_context", "pick_namespace", "LAUNCHERS"]


def _dialogs():
    from . import dialogs  # deferred: see the module docstring

    return dialogs


def _common(app) -> tuple:
    """What every action dialog gets: the backend, the function names, the node names."""
    return (app.backend or app.make_backend(), app.selection.function_names(), app.selection.node_names())


def _function(app) -> str | None:
    """The function under the cursor, else one that answers (never the workflow's
    long-running collector: ``Selection.default_function``)."""
    sel = app.selection
    return sel.function() or sel.default_function()


def _invoke(app):
    return _dialogs().InvokeDialog(*_common(app), function=_function(app), node=app.selection.node())


def _invoke_async(app):
    return _dialogs().InvokeDialog(*_common(app), asynchronous=True, function=_function(app))


def _prewarm(app):
    sel = app.selection
    return _dialogs().PrewarmDialog(
        *_common(app), function=_function(app), node=sel.node(), any_node=Capability.NODE_TARGET not in app.capabilities
    )


def _dispatch(app):
    sel = app.selection
    fn = _function(app) or "hello"
    nodes = sel.node_names()
    steps = f"{nodes[0]}:{fn}" if nodes and fn in sel.function_names() else ""
    return _dialogs().DispatchDialog(*_common(app), function=fn, steps=steps)


def _fuse(app):
    marked = sorted(app.panes["placements"].marked)
    if not marked and app.selection.function():
        marked = [app.selection.function()]
    return _dialogs().FuseDialog(*_common(app), members=marked)


def _unfuse(app):
    sel = app.selection
    fusion = app.panes["fusion_groups"]
    groups = [g.name for g in fusion.groups]
    group = fusion.selected_group() if sel.focused_pane() is fusion else None
    if group is None and sel.function() and app.snapshot:
        group = next((f.fusion_group for f in app.snapshot.functions if f.name == sel.function()), None)
    return _dialogs().UnfuseDialog(*_common(app), groups=groups, group=group)


def _optimize(app):
    return _dialogs().OptimizeDialog(*_common(app))


def _scale(app):
    fn = _function(app)
    current = next((f.replicas for f in app.snapshot.functions if f.name == fn), 0) if app.snapshot else 0
    return _dialogs().ScaleDialog(*_common(app), function=fn, replicas=str(current + 1))


def _deploy(app):
    return _dialogs().DeployDialog(*_common(app))


def _remove(app):
    return _dialogs().ConfirmRemove(*_common(app), function=app.selection.function())


def _bench(app, function: str | None = None):
    return _dialogs().BenchDialog(*_common(app), function=function or _function(app))


#: verb -> the function building its dialog
LAUNCHERS: dict[str, Callable] = {
    "invoke": _invoke,
    "invoke_async": _invoke_async,
    "prewarm": _prewarm,
    "dispatch": _dispatch,
    "fuse": _fuse,
    "unfuse": _unfuse,
    "optimize": _optimize,
    "scale": _scale,
    "deploy": _deploy,
    "remove": _remove,
    "bench": _bench,
}


def launch(app, verb: str, **preset) -> None:
    """Open ``verb``'s dialog; poll as soon as it closes."""
    reason = app.unavailable_reason(verb)
    if reason and preset:  # from a view's key: the app's own gating did not look at it
        app.notify(f"{verb}: {reason}", severity="warning")
        return
    app.push_screen(LAUNCHERS[verb](app, **preset), callback=lambda _outcome: app.fetch_snapshot())


# ---- the views: a row's describe/YAML/JSON, a function's log, the context picker ----------
def _views():
    from . import views  # deferred: the views are not part of the first frame

    return views


def open_row(app, mode: str = "describe") -> None:
    """Enter (or ``y``) on a row: its view, in ``mode`` (describe, yaml, json)."""
    row = app.selection.row()
    if row is None or row.obj is None:
        app.notify("nothing to open here: put the cursor on a row", severity="warning")
        return
    views = _views()
    desc = views.detail.describe_row(row, app.snapshot)
    app.push_screen(views.DetailScreen(row, desc, app.backend or app.make_backend(), mode))


def open_logs(app, function: str | None = None) -> None:
    """``l``: the log of ``function`` (default: the one under the cursor)."""
    fn = function or app.selection.function()
    if fn is None:
        app.notify("logs: put the cursor on a function", severity="warning")
        return
    reason = app.logs_unavailable_reason()
    if reason:
        app.notify(f"logs: {reason}", severity="warning")
        return
    app.push_screen(_views().LogScreen(fn, app.backend or app.make_backend()))


def pick_context(app) -> None:
    """``:ctx`` alone: the context picker; the chosen context replaces the current one."""
    from ..config import load_config  # deferred: the config pulls in PyYAML

    try:
        contexts = [(c.name, c.backend, c.url or c.state_dir or "") for c in load_config().all()]
    except BackendError as exc:
        app.notify(str(exc), severity="error")
        return

    def chosen(name: str | None) -> None:
        if name and name != app.context_name:
            app.switch_context(name)

    app.push_screen(_dialogs().ContextPicker(contexts, app.context_name), callback=chosen)


def pick_namespace(app) -> None:
    """``:ns`` alone: the backend's namespaces (fetched in a worker), then the picker; the
    chosen one replaces the namespace the dashboard works in."""
    from backends.base import Capability

    if Capability.NAMESPACES not in app.capabilities:
        app.notify(f"the {app.backend_class.name} backend has no namespaces", severity="error")
        return

    def chosen(name: str | None) -> None:
        if name and name != app.namespace:
            app.switch_namespace(name)

    async def fetch() -> None:
        backend = app.backend or app.make_backend()
        try:
            names = await backend.namespaces()
        except BackendError as exc:
            app.notify(f"namespaces: {exc}", severity="error")
            return
        current = app.namespace or getattr(backend, "namespace", None) or ""
        app.push_screen(_dialogs().NamespacePicker(names, current), callback=chosen)

    app.run_worker(fetch(), group="namespaces", exclusive=True, exit_on_error=False)


def help_rows(app) -> list[tuple[str, str, str]]:
    """``?``'s rows: (key, what it does (binding id), "ok" or why it is unavailable)."""
    rows = []
    for binding in app.BINDINGS:
        key = app.options.keys.get(binding.id, binding.key)
        reason = app.unavailable_reason(binding.action) if binding.action in MUTATING else None
        if reason and app.readonly:
            continue
        rows.append((key, f"{binding.description or binding.action}  ({binding.id})", reason or "ok"))
    rows.append(("ctrl+p", "command palette (actions, views, themes)", "ok"))
    for pane in app.panes.values():
        text = pane.sort_help() if hasattr(pane, "sort_help") else ""
        if text:
            rows.append(("shift+letter", f"sort {pane.title}: {text} (again: reverse)", "ok"))
    return rows


def open_help(app) -> None:
    app.push_screen(_dialogs().HelpScreen(help_rows(app), app.context_name, app.backend_class.name))
