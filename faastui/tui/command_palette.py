"""ctrl+p: the dashboard's entries in Textual's command palette — every action (with its
key, or why it is unavailable), every view, every faastui theme, Refresh and Save."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import SystemCommand

from .gating import MUTATING

__all__ = ["dashboard_commands", "VIEW_LABELS"]

VIEW_LABELS = (
    ("Nodes", "nodes"),
    ("Placement", "placements"),
    ("Queues", "queues"),
    ("QoS", "qos"),
    ("Fusion groups", "fusion_groups"),
    ("Events", "events"),
)


def dashboard_commands(app) -> Iterable[SystemCommand]:
    """The palette entries after Textual's own (``App.get_system_commands``)."""
    for binding in app.BINDINGS:
        if binding.action not in MUTATING:
            continue
        reason = app.unavailable_reason(binding.action)
        if app.readonly:
            continue
        help_text = f"key {app.options.keys.get(binding.id, binding.key)}" + (
            f" — unavailable: {reason}" if reason else ""
        )
        yield SystemCommand(f"Action: {binding.description}", help_text, lambda a=binding.action: app.do_action(a))
    for label, part in VIEW_LABELS:
        yield SystemCommand(
            f"View: {label}", f"focus and maximise the {label} pane", lambda p=part: app.command_bar.show_view(p)
        )
    for name in sorted(t for t in app.available_themes if t.startswith("faastui-")):
        yield SystemCommand(
            f"Theme: {name}", "switch the dashboard theme (remembered)", lambda n=name: app.switch_theme(n)
        )
    yield SystemCommand("Refresh", "fetch a snapshot now", app.action_refresh)
    yield SystemCommand("Save", "screenshot (SVG) and the focused table (CSV, JSON)", app.action_save)
