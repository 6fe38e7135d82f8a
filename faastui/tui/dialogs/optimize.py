"""``F``: the fusion optimizer — the plan (a dry run) as soon as the dialog opens and
whenever a knob changes; Apply carries it out (``faastui.actions.Optimize``)."""

from __future__ import annotations

import dataclasses

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Static

from backends.errors import BackendError, InvalidRequest

from ...actions import Optimize
from .base import ActionDialog, Outcome

__all__ = ["OptimizeDialog"]


class OptimizeDialog(ActionDialog):
    """The fusion optimizer: the plan (a dry run) as soon as it opens, Apply carries it out."""

    verb = "optimize-fusion"
    heading = "Optimize fusion: regroup functions from the call graph"
    run_label = "Apply"
    plan = None  # the latest dry run

    DEFAULT_CSS = """
    OptimizeDialog #knobs { height: auto; }
    OptimizeDialog #knobs > Vertical { width: 1fr; height: auto; }
    """

    def form(self) -> ComposeResult:
        with Horizontal(id="knobs"):
            for key, label, default in (
                ("min_calls", "min calls per edge", 10),
                ("min_share", "min share of callee", 0.6),
                ("max_size", "max group size", 4),
            ):
                with Vertical():
                    yield Label(label, classes="field-label")
                    yield Input(str(self.preset.get(key, default)), id=key)

    def update_command(self) -> None:
        super().update_command()
        self.preview()  # the plan follows the knobs

    def knobs(self) -> dict:
        try:
            knobs = {
                "min_calls": int(self.value("#min_calls")),
                "min_share": float(self.value("#min_share")),
                "max_size": int(self.value("#max_size")),
            }
        except ValueError:
            raise InvalidRequest("min calls and max size are whole numbers, min share a number in (0, 1]") from None
        return knobs

    def spec(self) -> Optimize:
        return Optimize(apply=True, **self.knobs())

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def preview(self) -> None:
        """The dry run, shown in the result area (Apply does the same with apply=True)."""
        try:
            plan = await dataclasses.replace(self.spec(), apply=False).run(self.backend)
        except (BackendError, ValueError) as exc:
            self.post_message(self.Previewed(None, str(exc)))
        else:
            self.post_message(self.Previewed(plan))

    class Previewed(Message):
        def __init__(self, plan, error: str = ""):
            super().__init__()
            self.plan = plan
            self.error = error

    def on_optimize_dialog_previewed(self, msg: OptimizeDialog.Previewed) -> None:
        if self.running or self.outcome is not None:
            return  # Apply has been pressed: its result stays on show
        result = self.query_one("#result", Static)
        result.set_class(msg.plan is None, "-error")
        self.plan = msg.plan
        self.shown = Text(f"error: {msg.error}") if msg.plan is None else self._plan_view(msg.plan, "dry run")
        result.update(self.shown)

    async def perform(self) -> Outcome:
        plan = await self.spec().run(self.backend)
        if plan.empty:
            return Outcome(self.verb, "nothing to change: the groups fit the call graph", plan)
        groups = "; ".join(f"{g.name}={','.join(g.functions)}" for g in plan.groups if g.status != "keep")
        return Outcome(self.verb, f"applied {len(plan.done)} step(s): {groups}", plan)

    def show(self, outcome: Outcome):
        return self._plan_view(outcome.result, outcome.summary)

    @staticmethod
    def _plan_view(plan, title: str) -> Text:
        """The plan as lines: each target group (new, changed, kept), then what was left out."""
        out = Text()
        steps = plan.done if plan.applied else plan.steps
        out.append(f"{title} — {len(steps)} step(s)\n", style="bold")
        if plan.empty:
            out.append("nothing to change: the fusion groups already fit the call graph\n")
        for step in steps:
            if step.action == "unfuse":
                out.append(f"  unfuse {step.group} ({', '.join(step.functions)})\n")
        for g in plan.groups:
            out.append(f"  {g.status:<8}", style="bold" if g.status != "keep" else "dim")
            out.append(f"{g.name} = {' + '.join(g.functions)}\n")
            if g.reason:
                out.append(f"            {g.reason}\n", style="dim")
        for note in plan.skipped[:4]:
            out.append(f"  skipped {note}\n", style="dim")
        out.rstrip()
        return out
