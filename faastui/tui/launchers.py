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

from .gating import MUTATING

__all__ = ["launch", "open_help", "help_rows", "LAUNCHERS"]


def _dialogs():
    from . import dialogs  # deferred: see the module docstring

    return dialogs


def _common(app) -> tuple:
    """What every action dialog gets: the backend, the function names, the node names."""
    return (app.backend or app.make_backend(), app.selection.function_names(),
            app.selection.node_names())


def _invoke(app):
    sel = app.selection
    return _dialogs().InvokeDialog(*_common(app), function=sel.function(), node=sel.node())


def _invoke_async(app):
    return _dialogs().InvokeDialog(*_common(app), asynchronous=True,
                                   function=app.selection.function())


def _prewarm(app):
    sel = app.selection
    return _dialogs().PrewarmDialog(
        *_common(app), function=sel.function(), node=sel.node(),
        any_node=Capability.NODE_TARGET not in app.backend_class.capabilities)


def _dispatch(app):
    sel = app.selection
    fn = sel.function() or "hello"
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
        group = next((f.fusion_group for f in app.snapshot.functions
                      if f.name == sel.function()), None)
    return _dialogs().UnfuseDialog(*_common(app), groups=groups, group=group)


def _optimize(app):
    return _dialogs().OptimizeDialog(*_common(app))


def _scale(app):
    fn = app.selection.function()
    current = next((f.replicas for f in app.snapshot.functions if f.name == fn), 0) \
        if app.snapshot else 0
    return _dialogs().ScaleDialog(*_common(app), function=fn, replicas=str(current + 1))


def _deploy(app):
    return _dialogs().DeployDialog(*_common(app))


def _remove(app):
    return _dialogs().ConfirmRemove(*_common(app), function=app.selection.function())


#: verb -> the function building its dialog
LAUNCHERS: dict[str, Callable] = {
    "invoke": _invoke, "invoke_async": _invoke_async, "prewarm": _prewarm, "dispatch": _dispatch,
    "fuse": _fuse, "unfuse": _unfuse, "optimize": _optimize, "scale": _scale, "deploy": _deploy,
    "remove": _remove}


def launch(app, verb: str) -> None:
    """Open ``verb``'s dialog; poll as soon as it closes."""
    app.push_screen(LAUNCHERS[verb](app), callback=lambda _outcome: app.fetch_snapshot())


def help_rows(app) -> list[tuple[str, str, str]]:
    """``?``'s rows: (key, what it does (binding id), "ok" or why it is unavailable)."""
    rows = []
    for binding in app.BINDINGS:
        key = app.options.keys.get(binding.id, binding.key)
        reason = app.unavailable_reason(binding.action) if binding.action in MUTATING else None
        if reason and app.readonly:
            continue
        rows.append((key, f"{binding.description or binding.action}  ({binding.id})",
                     reason or "ok"))
    rows.append(("ctrl+p", "command palette (actions, views, themes)", "ok"))
    return rows


def open_help(app) -> None:
    app.push_screen(_dialogs().HelpScreen(help_rows(app), app.context_name, app.backend_class.name))
