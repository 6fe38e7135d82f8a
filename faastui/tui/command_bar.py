"""The prompt line: ``/`` filters the focused table, ``:`` runs a command (k9s style).

``:nodes`` ``:fn`` ``:queues`` ``:qos`` ``:fusion`` ``:events`` focus and maximise a pane,
``:all`` restores the grid, ``:ctx NAME``, ``:ns NAME`` and ``:theme NAME`` switch
(``:ctx`` and ``:ns`` alone open the context and namespace pickers), ``:logs [FN]``
opens a log, an action verb opens its dialog,
``:q`` quits. A filter is a regex (``!`` negates) over a row's cells;
a bad one is a notice, not an error.
"""

from __future__ import annotations

import re

from textual.widgets import Input

from .gating import ACTIONS
from .panes import TablePane

__all__ = ["CommandBar", "VIEWS"]

#: ``:WORD`` -> the pane part it shows (None: the word is taken, nothing to show)
VIEWS = {
    "nodes": "nodes",
    "node": "nodes",
    "no": "nodes",
    "fn": "placements",
    "functions": "placements",
    "placement": "placements",
    "placements": "placements",
    "queues": "queues",
    "q": None,
    "qos": "qos",
    "fusion": "fusion_groups",
    "events": "events",
    "ev": "events",
}

_COMMANDS_HINT = ":nodes :fn :queues :qos :fusion :events :all :ctx NAME :ns NAME :theme NAME :q"


class CommandBar:
    """Drives the ``#prompt`` Input of one dashboard (``app.command_bar``)."""

    def __init__(self, app):
        self.app = app
        self.mode = ""  # "filter" or "command": what the prompt's text is for

    @property
    def prompt(self) -> Input | None:
        """The ``#prompt`` Input, or None before the first ``/`` or ``:``: it is mounted (below
        the status line) when first opened, as nothing of it is on the first frame (an Input
        and its stylesheet cost the first frame of every start)."""
        found = self.app.query("#prompt")
        return found.first(Input) if found else None

    @property
    def visible(self) -> bool:
        prompt = self.prompt
        return prompt is not None and prompt.has_class("-visible")

    def open_filter(self) -> None:
        sel = self.app.selection
        pane = sel.focused_pane()
        if not isinstance(pane, TablePane):
            pane = sel.last_table()
        sel.last_pane = pane
        self._show("filter", pane.table.filter_text, f"filter {pane.title}: regex, !regex negates, empty clears")

    def open_command(self) -> None:
        sel = self.app.selection
        pane = sel.focused_pane()
        if pane is not None:
            sel.last_pane = pane
        self._show("command", "", _COMMANDS_HINT)

    def _show(self, mode: str, value: str, placeholder: str) -> None:
        self.mode = mode
        prompt = self.prompt
        if prompt is None:
            prompt = Input(value, placeholder, id="prompt")
            status = self.app.query_one("#status")
            status.screen.mount(prompt, after=status)
        else:
            prompt.placeholder = placeholder
            prompt.value = value
        prompt.border_title = "/" if mode == "filter" else ":"
        prompt.add_class("-visible")
        prompt.focus()

    def hide(self) -> None:
        """Hide the prompt and give focus back to the pane it was opened from."""
        prompt = self.prompt
        if prompt is not None:
            prompt.remove_class("-visible")
        target = self.app.selection.last_pane
        if target is not None:
            (target.table if isinstance(target, TablePane) else target.group_tree).focus()
        else:
            self.app.panes["placements"].table.focus()

    def submitted(self, text: str) -> None:
        mode = self.mode
        self.hide()
        if mode == "filter":
            self.apply_filter(text)
        else:
            self.run(text)

    def apply_filter(self, text: str, pane: TablePane | None = None) -> None:
        pane = pane or self.app.selection.last_table()
        try:
            pane.table.set_filter(text)
        except re.error as exc:
            self.app.notify(f"bad filter {text!r}: {exc}", severity="error")
            return
        pane.badge(self.app.options.clock())

    def run(self, text: str) -> None:
        """One ``:`` command: views, context, theme, an action, quit."""
        app = self.app
        words = text.strip().lstrip(":").split()
        if not words:
            return
        verb, args = words[0].lower(), words[1:]
        if verb in ("q", "quit", "q!", "exit"):
            app.exit(0)
        elif verb in ("all", "restore"):
            app.screen.minimize()
        elif verb in VIEWS:
            self.show_view(VIEWS[verb])
        elif verb in ("ctx", "context"):
            if not args:
                from .launchers import pick_context

                pick_context(app)
            else:
                app.switch_context(args[0])
        elif verb in ("ns", "namespace"):
            if not args:
                from .launchers import pick_namespace

                pick_namespace(app)
            else:
                app.switch_namespace(args[0])
        elif verb == "theme":
            if args:
                app.switch_theme(args[0])
            else:
                app.notify(f"theme: {app.theme}")
        elif verb in ("logs", "log"):
            from .launchers import open_logs

            open_logs(app, args[0] if args else None)
        elif verb in ACTIONS or verb in ("rm", "async"):
            app.do_action({"rm": "remove", "async": "invoke_async"}.get(verb, verb))
        else:
            app.notify(f"unknown command :{verb}", severity="error")

    def show_view(self, part: str) -> None:
        """Focus the ``part`` pane and show it alone (``:all`` or escape restores)."""
        app = self.app
        pane = app.panes[part]
        app.screen.minimize()
        target = pane.table if isinstance(pane, TablePane) else pane.group_tree
        target.focus()
        app.screen.maximize(pane)
        app.selection.last_pane = pane
