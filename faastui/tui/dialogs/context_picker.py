"""``:ctx`` alone: pick a context (the config's contexts, the current one marked); Enter
switches the dashboard to it, escape keeps the one it is on."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

__all__ = ["ContextPicker"]


class ContextPicker(ModalScreen[str | None]):
    """``contexts`` are (name, backend kind, where); dismisses with the chosen name."""

    BINDINGS = [Binding("escape", "close", "Close")]
    heading = "Switch to a context (Enter), or escape"
    DEFAULT_CSS = """
    ContextPicker { align: center middle; }
    ContextPicker > Vertical { width: 80; max-width: 95%; height: auto; max-height: 80%;
                               border: thick $primary; background: $surface; padding: 0 1; }
    ContextPicker #heading { text-style: bold; color: $primary; }
    ContextPicker OptionList { height: auto; max-height: 20; }
    """

    def __init__(self, contexts: list[tuple[str, str, str]], current: str):
        super().__init__()
        self.contexts = contexts
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for name, kind, where in self.contexts:
            mark = "● " if name == self.current else "  "
            label = Text(mark + name, style="bold" if name == self.current else "")
            label.append(f"  {kind}" + (f"  {where}" if where else ""), style="dim")
            options.append(Option(label, id=name))
        with Vertical():
            yield Label(self.heading, id="heading")
            yield OptionList(*options, id="contexts")

    def on_mount(self) -> None:
        names = [c[0] for c in self.contexts]
        picker = self.query_one(OptionList)
        if self.current in names:
            picker.highlighted = names.index(self.current)
        picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)
