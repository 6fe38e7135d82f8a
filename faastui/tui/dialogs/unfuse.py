"""``u``: split a fusion group back into separate functions."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Label, Select

from ...actions import Unfuse
from .base import ActionDialog, Outcome

__all__ = ["UnfuseDialog"]


class UnfuseDialog(ActionDialog):
    verb = "unfuse"
    heading = "Split a fusion group"
    run_label = "Unfuse"

    def __init__(self, *args, groups: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = groups

    def form(self) -> ComposeResult:
        yield Label("fusion group", classes="field-label")
        value = (
            self.preset.get("group")
            if self.preset.get("group") in self.groups
            else (self.groups[0] if self.groups else None)
        )
        yield Select(
            [(g, g) for g in self.groups], value=value if value else Select.BLANK, id="group", allow_blank=value is None
        )

    def spec(self) -> Unfuse:
        return Unfuse(self.value("#group"))

    async def perform(self) -> Outcome:
        spec = self.spec()
        fns = await spec.run(self.backend)
        return Outcome("unfuse", f"unfused {spec.group}: {', '.join(fns)}", fns)
