"""``i`` and ``I``: invoke a function (on a chosen node), or asynchronously (a call id,
then the result)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Label, Static, TextArea

from ...actions import Invoke, InvokeAsync
from .base import ANY, ActionDialog, Outcome, parse_payload
from .render import result_text

__all__ = ["InvokeDialog"]


class InvokeDialog(ActionDialog):
    verb = "invoke"
    heading = "Invoke a function"
    run_label = "Invoke"

    def __init__(self, *args, asynchronous: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.asynchronous = asynchronous
        if asynchronous:
            self.heading = "Invoke asynchronously (returns a call id, then waits for the result)"

    def form(self) -> ComposeResult:
        yield Label("function", classes="field-label")
        yield self.fn_select(value=self.preset.get("function"))
        if not self.asynchronous:
            yield Label("node", classes="field-label")
            yield self.node_select(value=self.preset.get("node"))
        yield Label("payload (JSON, or plain text)", classes="field-label")
        yield TextArea(self.preset.get("payload", '{"name": "faastui"}'), id="payload", language=None)

    def spec(self) -> Invoke | InvokeAsync:
        fn = self.value("#function")
        payload = parse_payload(self.value("#payload"))
        if self.asynchronous:
            return InvokeAsync(fn, payload)
        node = self.value("#node")
        return Invoke(fn, payload, node=None if node in ("", ANY) else node)

    async def perform(self) -> Outcome:
        spec = self.spec()
        if isinstance(spec, InvokeAsync):
            call_id = await spec.run(self.backend)
            self.app.call_later(self._pending, call_id)
            inv = await self.backend.result(call_id, wait=30.0)
            return Outcome("invoke_async", f"{spec.function} call {call_id}: {inv.status}", inv, inv.status == "ok")
        inv = await spec.run(self.backend)
        total = inv.duration_ms + inv.cold_start_ms + inv.overhead_ms
        return Outcome(
            "invoke",
            f"{spec.function} on {inv.node}: {inv.status} ({inv.container_state}, {total:.2f} ms)",
            inv,
            inv.status == "ok",
        )

    def _pending(self, call_id: str) -> None:
        if self.running:
            self.query_one("#result", Static).update(Text(f"started: call id {call_id} — waiting…"))

    def show(self, outcome: Outcome):
        inv = outcome.result
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        total = inv.cold_start_ms + inv.duration_ms + inv.overhead_ms
        rows = [
            ("status", inv.status),
            ("call id", inv.call_id),
            (
                "latency",
                f"{total:.2f} ms  (cold start {inv.cold_start_ms:.2f}, run "
                f"{inv.duration_ms:.2f}, overhead {inv.overhead_ms:.2f})",
            ),
            ("node", inv.node or "-"),
            ("container", inv.container_state or "-"),
        ]
        if inv.error:
            rows.append(("error", inv.error))
        rows.append(("result", result_text(inv.result)))
        for k, v in rows:
            table.add_row(k, v)
        return table
