"""``s``: scale a function, i.e. set the minimum containers kept (``N``, ``+K`` or ``-K``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Label

from ...actions import Scale
from .base import ActionDialog, Outcome

__all__ = ["ScaleDialog"]


class ScaleDialog(ActionDialog):
    verb = "scale"
    heading = "Scale: the minimum containers kept of a function"
    run_label = "Scale"

    def form(self) -> ComposeResult:
        yield Label("function", classes="field-label")
        yield self.fn_select(value=self.preset.get("function"))
        yield Label("replicas: N, +K or -K", classes="field-label")
        yield Input(str(self.preset.get("replicas", "1")), id="replicas")

    def spec(self) -> Scale:
        return Scale(self.value("#function"), self.value("#replicas"))

    async def perform(self) -> Outcome:
        spec = self.spec()
        res = await spec.run(self.backend)
        return Outcome(
            "scale", f"scaled {spec.function} to {res.replicas} replica(s) ({res.available_replicas} available)", res
        )
