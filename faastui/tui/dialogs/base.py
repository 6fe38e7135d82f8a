"""The base of the action dialogs: a form, its `faastui ...` command line, Run in a worker.

An ``ActionDialog`` composes a small form (``form()``), turns it into an action spec
(``spec()``, a ``faastui.actions`` spec) and keeps the spec's command line
(``to_argv()``) on show as the form changes. Run calls ``perform()`` in a worker
(``@work(exclusive=True, group="action", exit_on_error=False)``), which runs the spec
on the backend and describes the result as an ``Outcome``; it comes back as a
``Performed``/``Failed`` message and is shown in the dialog. The dialog dismisses with
the outcome (or None), so the app can log it and refresh.
"""

from __future__ import annotations

import json
import os
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from backends.errors import BackendError

from ...actions import Action, command_line

__all__ = ["ActionDialog", "Outcome", "parse_payload", "ANY", "ALL"]

ANY = "(any)"
ALL = "(all nodes)"


def parse_payload(text: str) -> Any:
    """The payload editor's text: JSON if it parses, else the text itself (None if empty)."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class Outcome:
    """What an action did: its verb, a one-line summary and the raw result."""

    def __init__(self, verb: str, summary: str, result: Any, ok: bool = True):
        self.verb, self.summary, self.result, self.ok = verb, summary, result, ok


class ActionDialog(ModalScreen[Outcome | None]):
    """Base of the action dialogs. Subclasses: ``form()``, ``spec()``, ``perform()``."""

    verb = ""
    heading = ""
    run_label = "Run"
    BINDINGS = [Binding("escape", "close", "Close"), Binding("ctrl+r", "run", "Run", priority=True)]
    DEFAULT_CSS = """
    ActionDialog { align: center middle; }
    ActionDialog > #dialog {
        width: 90; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ActionDialog #heading { text-style: bold; color: $primary; width: 1fr; }
    ActionDialog #form { height: auto; max-height: 40; }
    ActionDialog .field-label { color: $text-muted; margin-top: 1; }
    ActionDialog #cmdline { background: $boost; color: $accent; padding: 0 1; margin-top: 1; }
    ActionDialog #result { height: auto; max-height: 16; margin-top: 1; }
    ActionDialog #result.-error { color: $error; }
    ActionDialog #buttons { height: auto; margin-top: 1; align-horizontal: right; }
    ActionDialog #buttons Button { margin-left: 1; }
    ActionDialog TextArea { height: 6; }
    ActionDialog Select { width: 1fr; }
    """

    class Performed(Message):
        def __init__(self, outcome: Outcome):
            super().__init__()
            self.outcome = outcome

    class Failed(Message):
        def __init__(self, error: str):
            super().__init__()
            self.error = error

    def __init__(self, backend, functions: list[str], nodes: list[str], **preset):
        super().__init__()
        self.backend = backend
        self.functions = functions
        self.nodes = nodes
        self.preset = preset
        self.outcome: Outcome | None = None
        self.shown: Any = None  # the renderable in the result area
        self.running = False

    # ---- to implement ----------------------------------------------------------------
    def form(self) -> ComposeResult:
        yield from ()

    def spec(self) -> Action:
        """The form as an action spec. Raises: ValueError (or InvalidRequest) for a field
        that does not parse yet."""
        raise NotImplementedError

    def command(self) -> str:
        """The CLI line that does what Run does."""
        return command_line(self.spec())

    async def perform(self) -> Outcome:
        raise NotImplementedError

    def show(self, outcome: Outcome):
        """A renderable of the outcome for the result area."""
        return Text(outcome.summary)

    # ---- shared ----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.heading, id="heading")
            with VerticalScroll(id="form"):
                yield from self.form()
                yield Static("", id="cmdline")
                yield Static("", id="result")
            with Horizontal(id="buttons"):
                yield Button(self.run_label, id="run", variant="primary")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.update_command()

    def fn_select(self, id: str = "function", value: str | None = None) -> Select:
        options = [(f, f) for f in self.functions]
        value = value if value in self.functions else (self.functions[0] if self.functions else None)
        return Select(options, value=value if value is not None else Select.BLANK, id=id, allow_blank=value is None)

    def node_select(self, id: str = "node", extra: str | None = ANY, value: str | None = None) -> Select:
        options = ([(extra, extra)] if extra else []) + [(n, n) for n in self.nodes]
        if value not in self.nodes:
            value = extra or (self.nodes[0] if self.nodes else None)
        return Select(options, value=value if value is not None else Select.BLANK, id=id, allow_blank=value is None)

    def value(self, selector: str) -> str:
        widget = self.query_one(selector)
        if isinstance(widget, Select):
            v = widget.value
            return "" if v is Select.BLANK or v is None else str(v)
        if isinstance(widget, TextArea):
            return widget.text
        return widget.value

    def result_text(self, width: int = 120) -> str:
        """The result area as plain text (tests, screen readers)."""
        from rich.console import Console

        if self.shown is None:
            return ""
        console = Console(width=width, record=True, file=open(os.devnull, "w"), color_system=None)
        console.print(self.shown)
        return console.export_text()

    def update_command(self) -> None:
        try:
            line = self.command()
        except Exception:  # a half-typed form still shows something
            line = f"faastui {self.verb} ..."
        self.query_one("#cmdline", Static).update(Text("$ " + line))

    @on(Input.Changed)
    @on(Select.Changed)
    @on(TextArea.Changed)
    def _changed(self) -> None:
        self.update_command()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#run")
    def _run_pressed(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#close")
    def _close_pressed(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        self.dismiss(self.outcome)

    def action_run(self) -> None:
        if self.running:
            return
        self.running = True
        result = self.query_one("#result", Static)
        result.remove_class("-error")
        result.update(Text("running…"))
        self._perform()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def _perform(self) -> None:
        try:
            outcome = await self.perform()
        except BackendError as exc:
            self.post_message(self.Failed(str(exc)))
        except (ValueError, TypeError) as exc:
            self.post_message(self.Failed(f"invalid input: {exc}"))
        else:
            self.post_message(self.Performed(outcome))

    def on_action_dialog_performed(self, msg: Performed) -> None:
        self.running = False
        self.outcome = msg.outcome
        result = self.query_one("#result", Static)
        result.set_class(not msg.outcome.ok, "-error")
        self.shown = self.show(msg.outcome)
        result.update(self.shown)
        if hasattr(self.app, "action_performed"):
            self.app.action_performed(msg.outcome)

    def on_action_dialog_failed(self, msg: Failed) -> None:
        self.running = False
        result = self.query_one("#result", Static)
        result.add_class("-error")
        result.update(Text(f"error: {msg.error}"))
        if hasattr(self.app, "action_failed"):
            self.app.action_failed(self.verb, msg.error)
