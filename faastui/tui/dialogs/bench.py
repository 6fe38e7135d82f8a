"""``b``: a short bench of a function (``faastui bench``): N calls, C at a time, through
``Backend.invoke``; the latency histogram, percentiles, throughput and the container
states the calls found. It starts as soon as the dialog opens; ctrl+r runs it again."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Input, Label, Static, TextArea

from ...actions import Bench
from ...benchmark import histogram
from .base import ActionDialog, Outcome, parse_payload

__all__ = ["BenchDialog", "DEFAULT_CALLS", "DEFAULT_CONCURRENCY"]

DEFAULT_CALLS = 100
DEFAULT_CONCURRENCY = 4


class BenchDialog(ActionDialog):
    verb = "bench"
    heading = "Bench a function: N calls, C at a time, and their latency histogram"
    run_label = "Bench"

    class Progress(Message):
        def __init__(self, done: int, total: int):
            super().__init__()
            self.done, self.total = done, total

    def form(self) -> ComposeResult:
        yield Label("function", classes="field-label")
        yield self.fn_select(value=self.preset.get("function"))
        yield Label("calls, and how many in flight", classes="field-label")
        yield Input(str(self.preset.get("calls", DEFAULT_CALLS)), id="calls")
        yield Input(str(self.preset.get("concurrency", DEFAULT_CONCURRENCY)), id="concurrency")
        yield Label("payload (JSON, or plain text; empty: none)", classes="field-label")
        yield TextArea(self.preset.get("payload", ""), id="payload", language=None)

    def on_mount(self) -> None:
        super().on_mount()
        if self.preset.get("autorun", True) and self.value("#function"):
            self.action_run()

    def spec(self) -> Bench:
        return Bench(
            self.value("#function"),
            calls=int(self.value("#calls")),
            concurrency=int(self.value("#concurrency")),
            payload=parse_payload(self.value("#payload")),
        )

    async def perform(self) -> Outcome:
        spec = self.spec()
        step = max(1, spec.calls // 20)

        def progress(run) -> None:
            if run.done % step == 0 or run.done == spec.calls:
                self.post_message(self.Progress(run.done, spec.calls))

        result = await spec.run(self.backend, progress)
        rep = result.report()
        lat = rep["latency_ms"]
        return Outcome(
            "bench",
            f"bench {spec.function}: {rep['calls']} calls, p50 "
            f"{lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms, {rep['errors']} errors",
            result,
            rep["errors"] == 0,
        )

    def on_bench_dialog_progress(self, msg: Progress) -> None:
        if self.running:
            self.query_one("#result", Static).update(Text(f"running… {msg.done}/{msg.total} calls"))

    def show(self, outcome: Outcome):
        run = outcome.result
        rep = run.report()
        lat = rep["latency_ms"]
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_row(
            "calls",
            f"{rep['calls']} ({rep['errors']} errors), {run.concurrency} at a "
            f"time, {rep['wall_s']:.2f} s, {rep['throughput_per_s']:.1f}/s",
        )
        table.add_row("latency ms", "  ".join(f"{k} {v:.2f}" for k, v in lat.items()))
        table.add_row(
            "containers",
            "  ".join(f"{s} {v['count']} (p50 {v['p50_ms']:.2f})" for s, v in rep["by_state"].items()) or "-",
        )
        for failure in rep["failures"]:
            table.add_row("failure", failure)
        bars = histogram([ms for ms, _ in run.latencies], width=36, bar="█")
        return Group(table, Text("\n".join(bars)))
