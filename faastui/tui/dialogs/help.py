"""``?``: the help screen — every key, what it does, and why an action is unavailable here."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen"]


class HelpScreen(ModalScreen[None]):
    """``?``: every key, what it does, and why an action is unavailable here."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 96; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, rows: list[tuple[str, str, str]], context: str, backend: str):
        super().__init__()
        self.rows = rows
        self.context = context
        self.backend_name = backend

    def compose(self) -> ComposeResult:
        table = Table(
            title=f"faastui keys — context {self.context} ({self.backend_name} backend)",
            box=None,
            padding=(0, 2),
            header_style="bold",
            expand=True,
        )
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("action")
        table.add_column("availability")
        for key, desc, avail in self.rows:
            table.add_row(key, desc, Text(avail, style="dim" if avail != "ok" else ""))
        tail = Text(
            "\n:nodes :fn :queues :qos :fusion :events (focus a pane)  :all  :ctx [NAME]  :ns [NAME]  "
            ":theme NAME  :logs [FN]  :q\nEnter opens a row (describe; y YAML, j JSON, "
            "c copy, l logs, b bench, escape back). Filter: /regex, /!regex negates, "
            "empty clears. A click on a header sorts too. space marks functions for f; "
            "[ and ] page the Placement node columns. Keys remap in config.yaml: "
            "keymap: k9s, and keys: {binding_id: key}.",
            style="dim",
        )
        with VerticalScroll():
            yield Static(table)
            yield Static(tail)

    def action_close(self) -> None:
        self.dismiss(None)
