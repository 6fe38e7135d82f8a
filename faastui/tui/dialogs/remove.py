"""``x``: remove a function, after a confirmation (Run is red; the dialog closes when done)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Button, Label

from ...actions import Remove
from .base import ActionDialog, Outcome

__all__ = ["ConfirmRemove"]


class ConfirmRemove(ActionDialog):
    verb = "remove"
    heading = "Remove a function"
    run_label = "Remove"

    def form(self) -> ComposeResult:
        yield Label("function to remove (this cannot be undone)", classes="field-label")
        yield self.fn_select(value=self.preset.get("function"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#close", Button).label = "Cancel"
        self.query_one("#run", Button).variant = "error"

    def spec(self) -> Remove:
        fn = self.value("#function")
        return Remove((fn,) if fn else ())

    async def perform(self) -> Outcome:
        spec = self.spec()
        await spec.run(self.backend)
        fn = spec.functions[0]
        return Outcome("remove", f"removed {fn}", fn)

    def on_action_dialog_performed(self, msg) -> None:
        super().on_action_dialog_performed(msg)
        self.dismiss(self.outcome)
