"""``d``: dispatch a chain (each output feeds the next step) or a fan-out of
``node:function`` steps, with per-step timings."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, Select

from backends.model import DispatchStep

from ...actions import Dispatch
from .base import ActionDialog, Outcome
from .render import invocation_table, result_text

__all__ = ["DispatchDialog"]


class DispatchDialog(ActionDialog):
    verb = "dispatch"
    heading = "Dispatch a chain or a fan-out of node:function steps"
    run_label = "Dispatch"

    def form(self) -> ComposeResult:
        yield Label("input", classes="field-label")
        yield Input(self.preset.get("input", "hello"), id="input")
        yield Label("mode", classes="field-label")
        yield Select(
            [("chain (each output feeds the next step)", "chain"), ("fan-out (every step gets the input)", "fanout")],
            value="chain",
            id="mode",
            allow_blank=False,
        )
        yield Label("add a step: node, function", classes="field-label")
        with Horizontal(id="step-pick", classes="picker"):
            yield self.node_select(id="step-node", extra=None)
            yield self.fn_select(id="step-function", value=self.preset.get("function"))
            yield Button("Add step", id="add-step")
        yield Label("steps (NODE:FUNCTION, separated by spaces)", classes="field-label")
        yield Input(self.preset.get("steps", ""), id="steps", placeholder="node-1:hello node-2:echo")

    DEFAULT_CSS = (
        ActionDialog.DEFAULT_CSS
        + """
    DispatchDialog #step-pick { height: auto; }
    """
    )

    @on(Button.Pressed, "#add-step")
    def _add_step(self) -> None:
        steps = self.query_one("#steps", Input)
        step = f"{self.value('#step-node')}:{self.value('#step-function')}"
        steps.value = (steps.value + " " + step).strip()

    def spec(self) -> Dispatch:
        steps = tuple(DispatchStep.parse(s) for s in self.value("#steps").split())
        return Dispatch(self.value("#input"), steps, mode=self.value("#mode"))

    async def perform(self) -> Outcome:
        res = await self.spec().run(self.backend)
        ok = all(s.status == "ok" for s in res.steps)
        return Outcome("dispatch", f"{res.mode} of {len(res.steps)} step(s): {'ok' if ok else 'failed'}", res, ok)

    def show(self, outcome: Outcome):
        from rich.console import Group

        res = outcome.result
        return Group(
            invocation_table(res.steps, f"{outcome.summary} — per-step timings"),
            Text(f"output: {result_text(res.output, 300)}"),
        )
