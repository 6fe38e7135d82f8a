"""``p``: prewarm containers of a function on a node, on the node the backend picks, or on
every node (one ``faastui.actions.Prewarm``, as `faastui prewarm` runs it)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Label, Select

from ...actions import Prewarm
from .base import ALL, ANY, ActionDialog, Outcome
from .render import invocation_table

__all__ = ["PrewarmDialog"]


class PrewarmDialog(ActionDialog):
    verb = "prewarm"
    heading = "Prewarm containers ahead of calls"
    run_label = "Prewarm"

    def form(self) -> ComposeResult:
        yield Label("function", classes="field-label")
        yield self.fn_select(value=self.preset.get("function"))
        yield Label("node", classes="field-label")
        value = self.preset.get("node") or (self.nodes[0] if self.nodes else ANY)
        if self.preset.get("any_node"):
            value = ANY  # the backend places containers itself (Knative, Nuclio, ...)
        yield Select(
            [(ANY, ANY), (ALL, ALL)] + [(n, n) for n in self.nodes],
            id="node",
            value=value if value in self.nodes else ANY,
            allow_blank=False,
        )
        yield Label("count", classes="field-label")
        yield Input(str(self.preset.get("count", 1)), id="count", type="integer")

    def _count(self) -> int:
        count = int(self.value("#count") or "1")
        if count < 1:
            raise ValueError("count must be at least 1")
        return count

    def spec(self) -> Prewarm:
        node = self.value("#node")
        return Prewarm(
            self.value("#function"),
            node=None if node in (ANY, ALL) else node,
            count=self._count(),
            all_nodes=node == ALL,
        )

    async def perform(self) -> Outcome:
        spec = self.spec()
        started = await spec.run(self.backend)
        targets = self.nodes if spec.all_nodes else [spec.node]
        where = sorted({i.node for i in started if i.node}) or [t or "any node" for t in targets]
        return Outcome(
            "prewarm", f"prewarmed {len(started)} container(s) of {spec.function} on {', '.join(where)}", started
        )

    def show(self, outcome: Outcome):
        return invocation_table(outcome.result, outcome.summary)
