"""Which dashboard actions may run here: hidden with ``--readonly``, greyed (with the reason)
when the backend lacks the capability, off while a dialog is open.

``ACTIONS`` are the action keys by binding id (= action name = the DESIGN.md verb = the
``faastui.actions`` spec's verb); every one changes state, even invoke (it warms a
container), so ``--readonly`` hides them all.
"""

from __future__ import annotations

import dataclasses

from backends.base import ACTION_CAPABILITY

from ._textual_compat import map_bindings

__all__ = ["ACTIONS", "MUTATING", "unavailable_reason", "grey_unavailable", "allowed"]

ACTIONS = (
    "invoke",
    "invoke_async",
    "prewarm",
    "dispatch",
    "fuse",
    "unfuse",
    "optimize",
    "scale",
    "deploy",
    "remove",
    "bench",
)
MUTATING = frozenset(ACTIONS)
#: the dashboard's own keys that, like the actions, go to a dialog or view while one is open
_SCREEN_KEYS = ("mark", "filter", "command_bar", "refresh", "help", "restore", "describe", "yaml", "logs")


def unavailable_reason(action: str, backend_name: str, capabilities, readonly: bool) -> str | None:
    """Why ``action`` cannot run on the backend named ``backend_name`` with ``capabilities``
    (its instance's), or with ``readonly``; None when it can."""
    if action in MUTATING and readonly:
        return "read-only (--readonly)"
    cap = ACTION_CAPABILITY.get(action)
    if cap is not None and cap not in capabilities:
        return f"the {backend_name} backend cannot {action.replace('_', ' ')}"
    return None


def grey_unavailable(app) -> None:
    """Give the app's unavailable action bindings a tooltip with the reason (the footer
    shows it)."""

    def with_reason(binding):
        reason = app.unavailable_reason(binding.action) if binding.action in MUTATING else None
        return dataclasses.replace(binding, tooltip=f"unavailable: {reason}") if reason else binding

    map_bindings(app, with_reason)


def allowed(app, action: str) -> bool | None:
    """``App.check_action``: True, False (hidden) or None (greyed)."""
    if action in MUTATING or action in _SCREEN_KEYS:
        if len(app.screen_stack) > 1:
            return False  # a dialog is open: dashboard keys go to it
    if action in MUTATING:
        if app.readonly:
            return False  # hidden: --readonly shows no state-changing action at all
        if app.unavailable_reason(action):
            return None  # greyed, with the reason in the tooltip and in `?`
    if action == "logs" and app.logs_unavailable_reason():
        return None
    return True
