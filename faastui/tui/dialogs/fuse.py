"""``f``: fuse functions (the ones marked with space in Placement) into one worker, so the
calls between them become local calls."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Label

from ...actions import Fuse
from .base import ActionDialog, Outcome

__all__ = ["FuseDialog"]


class FuseDialog(ActionDialog):
    verb = "fuse"
    heading = "Fuse functions into one worker (calls between them become local)"
    run_label = "Fuse"

    def form(self) -> ComposeResult:
        yield Label("functions (marked with space in Placement; separated by spaces)", classes="field-label")
        yield Input(" ".join(self.preset.get("members", [])), id="functions")
        yield Label("group name (optional)", classes="field-label")
        yield Input(self.preset.get("name", ""), id="name")

    def spec(self) -> Fuse:
        return Fuse(tuple(self.value("#functions").split()), self.value("#name").strip() or None)

    async def perform(self) -> Outcome:
        group = await self.spec().run(self.backend)
        return Outcome("fuse", f"fused {', '.join(group.functions)} as {group.name} on {group.node or '-'}", group)
