"""The action dialogs: one ModalScreen per verb, each showing its `faastui ...` command line.

An ``ActionDialog`` composes a small form, keeps the equivalent CLI command
line up to date as the form changes, and on Run calls the backend in a worker
(``@work(exclusive=True, group="action", exit_on_error=False)``); the outcome
comes back as a ``Performed``/``Failed`` message and is shown in the dialog.
The dialog dismisses with the outcome (or None), so the app can log it and
refresh. ``ConfirmRemove`` is the yes/no dialog of ``x``; ``HelpScreen`` is ``?``.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from backends.errors import BackendError, InvalidRequest
from backends.model import DispatchStep

from .. import locations
from ..scaling import scale_to

__all__ = ["ActionDialog", "InvokeDialog", "PrewarmDialog", "DispatchDialog", "FuseDialog",
           "UnfuseDialog", "OptimizeDialog", "ScaleDialog", "DeployDialog", "ConfirmRemove",
           "HelpScreen",
           "Outcome", "parse_payload"]

ANY = "(any)"
ALL = "(all nodes)"


def parse_payload(text: str) -> Any:
    """The payload editor's text: JSON if it parses, else the text itself (None if empty)."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _q(value: str) -> str:
    return shlex.quote(value)


class Outcome:
    """What an action did: its verb, a one-line summary and the raw result."""

    def __init__(self, verb: str, summary: str, result: Any, ok: bool = True):
        self.verb, self.summary, self.result, self.ok = verb, summary, result, ok


class ActionDialog(ModalScreen[Outcome | None]):
    """Base of the action dialogs. Subclasses: ``form()``, ``command()``, ``perform()``."""

    verb = ""
    heading = ""
    run_label = "Run"
    BINDINGS = [Binding("escape", "close", "Close"), Binding("ctrl+r", "run", "Run", priority=True)]
    DEFAULT_CSS = """
    ActionDialog { align: center middle; }
    ActionDialog > #dialog {
        width: 90; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ActionDialog #heading { text-style: bold; color: $primary; width: 1fr; }
    ActionDialog #form { height: auto; max-height: 40; }
    ActionDialog .field-label { color: $text-muted; margin-top: 1; }
    ActionDialog #cmdline { background: $boost; color: $accent; padding: 0 1; margin-top: 1; }
    ActionDialog #result { height: auto; max-height: 16; margin-top: 1; }
    ActionDialog #result.-error { color: $error; }
    ActionDialog #buttons { height: auto; margin-top: 1; align-horizontal: right; }
    ActionDialog #buttons Button { margin-left: 1; }
    ActionDialog TextArea { height: 6; }
    ActionDialog Select { width: 1fr; }
    """

    class Performed(Message):
        def __init__(self, outcome: Outcome):
            super().__init__()
            self.outcome = outcome

    class Failed(Message):
        def __init__(self, error: str):
            super().__init__()
            self.error = error

    def __init__(self, backend, functions: list[str], nodes: list[str], **preset):
        super().__init__()
        self.backend = backend
        self.functions = functions
        self.nodes = nodes
        self.preset = preset
        self.outcome: Outcome | None = None
        self.shown: Any = None  # the renderable in the result area
        self.running = False

    # ---- to implement ----------------------------------------------------------------
    def form(self) -> ComposeResult:
        yield from ()

    def command(self) -> str:
        raise NotImplementedError

    async def perform(self) -> Outcome:
        raise NotImplementedError

    def show(self, outcome: Outcome):
        """A renderable of the outcome for the result area."""
        return Text(outcome.summary)

    # ---- shared ----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.heading, id="heading")
            with VerticalScroll(id="form"):
                yield from self.form()
                yield Static("", id="cmdline")
                yield Static("", id="result")
            with Horizontal(id="buttons"):
                yield Button(self.run_label, id="run", variant="primary")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.update_command()

    def fn_select(self, id: str = "function", value: str | None = None) -> Select:
        options = [(f, f) for f in self.functions]
        value = value if value in self.functions else (self.functions[0] if self.functions else None)
        return Select(options, value=value if value is not None else Select.BLANK, id=id,
                      allow_blank=value is None)

    def node_select(self, id: str = "node", extra: str | None = ANY, value: str | None = None) -> Select:
        options = ([(extra, extra)] if extra else []) + [(n, n) for n in self.nodes]
        if value not in self.nodes:
            value = extra or (self.nodes[0] if self.nodes else None)
        return Select(options, value=value if value is not None else Select.BLANK, id=id,
                      allow_blank=value is None)

    def value(self, selector: str) -> str:
        widget = self.query_one(selector)
        if isinstance(widget, Select):
            v = widget.value
            return "" if v is Select.BLANK or v is None else str(v)
        if isinstance(widget, TextArea):
            return widget.text
        return widget.value

    def result_text(self, width: int = 120) -> str:
        """The result area as plain text (tests, screen readers)."""
        from rich.console import Console

        if self.shown is None:
            return ""
        console = Console(width=width, record=True, file=open(os.devnull, "w"), color_system=None)
        console.print(self.shown)
        return console.export_text()

    def update_command(self) -> None:
        try:
            line = self.command()
        except Exception:  # a half-typed form still shows something
            line = f"faastui {self.verb} ..."
        self.query_one("#cmdline", Static).update(Text("$ " + line))

    @on(Input.Changed)
    @on(Select.Changed)
    @on(TextArea.Changed)
    def _changed(self) -> None:
        self.update_command()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#run")
    def _run_pressed(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#close")
    def _close_pressed(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        self.dismiss(self.outcome)

    def action_run(self) -> None:
        if self.running:
            return
        self.running = True
        result = self.query_one("#result", Static)
        result.remove_class("-error")
        result.update(Text("running…"))
        self._perform()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def _perform(self) -> None:
        try:
            outcome = await self.perform()
        except BackendError as exc:
            self.post_message(self.Failed(str(exc)))
        except (ValueError, TypeError) as exc:
            self.post_message(self.Failed(f"invalid input: {exc}"))
        else:
            self.post_message(self.Performed(outcome))

    def on_action_dialog_performed(self, msg: Performed) -> None:
        self.running = False
        self.outcome = msg.outcome
        result = self.query_one("#result", Static)
        result.set_class(not msg.outcome.ok, "-error")
        self.shown = self.show(msg.outcome)
        result.update(self.shown)
        if hasattr(self.app, "action_performed"):
            self.app.action_performed(msg.outcome)

    def on_action_dialog_failed(self, msg: Failed) -> None:
        self.running = False
        result = self.query_one("#result", Static)
        result.add_class("-error")
        result.update(Text(f"error: {msg.error}"))
        if hasattr(self.app, "action_failed"):
            self.app.action_failed(self.verb, msg.error)


def _invocation_table(invs, title: str | None = None) -> Table:
    table = Table(title=title, expand=False, box=None, padding=(0, 1), header_style="bold")
    for col in ("#", "node", "function", "container", "status", "cold ms", "run ms", "overhead ms"):
        table.add_column(col, justify="right" if col.endswith("ms") or col == "#" else "left")
    for i, inv in enumerate(invs, 1):
        table.add_row(str(i), inv.node, inv.function, inv.container_state or "-", inv.status,
                      f"{inv.cold_start_ms:.2f}", f"{inv.duration_ms:.2f}", f"{inv.overhead_ms:.2f}")
    return table


def _result_text(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=None, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


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
        yield TextArea(self.preset.get("payload", '{"name": "faastui"}'), id="payload",
                       language=None)

    def command(self) -> str:
        line = f"faastui invoke {_q(self.value('#function') or 'FN')}"
        payload = self.value("#payload").strip()
        if payload:
            line += f" -d {_q(payload)}" if isinstance(parse_payload(payload), (dict, list, int, float))\
                or payload.startswith('"') else f" --raw -d {_q(payload)}"
        if self.asynchronous:
            line += " --async"
        elif self.value("#node") not in ("", ANY):
            line += f" --node {_q(self.value('#node'))}"
        return line

    async def perform(self) -> Outcome:
        fn = self.value("#function")
        if not fn:
            raise InvalidRequest("pick a function")
        payload = parse_payload(self.value("#payload"))
        if self.asynchronous:
            call_id = await self.backend.invoke_async(fn, payload)
            self.app.call_later(self._pending, call_id)
            inv = await self.backend.result(call_id, wait=30.0)
            return Outcome("invoke_async", f"{fn} call {call_id}: {inv.status}", inv, inv.status == "ok")
        node = self.value("#node")
        inv = await self.backend.invoke(fn, payload, node=None if node in ("", ANY) else node)
        return Outcome("invoke", f"{fn} on {inv.node}: {inv.status} "
                                 f"({inv.container_state}, {inv.duration_ms + inv.cold_start_ms + inv.overhead_ms:.2f} ms)",
                       inv, inv.status == "ok")

    def _pending(self, call_id: str) -> None:
        if self.running:
            self.query_one("#result", Static).update(Text(f"started: call id {call_id} — waiting…"))

    def show(self, outcome: Outcome):
        inv = outcome.result
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        total = inv.cold_start_ms + inv.duration_ms + inv.overhead_ms
        rows = [("status", inv.status), ("call id", inv.call_id),
                ("latency", f"{total:.2f} ms  (cold start {inv.cold_start_ms:.2f}, run "
                            f"{inv.duration_ms:.2f}, overhead {inv.overhead_ms:.2f})"),
                ("node", inv.node or "-"), ("container", inv.container_state or "-")]
        if inv.error:
            rows.append(("error", inv.error))
        rows.append(("result", _result_text(inv.result)))
        for k, v in rows:
            table.add_row(k, v)
        return table


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
        yield Select([(ANY, ANY), (ALL, ALL)] + [(n, n) for n in self.nodes], id="node",
                     value=value if value in self.nodes else ANY, allow_blank=False)
        yield Label("count", classes="field-label")
        yield Input(str(self.preset.get("count", 1)), id="count", type="integer")

    def _count(self) -> int:
        count = int(self.value("#count") or "1")
        if count < 1:
            raise ValueError("count must be at least 1")
        return count

    def command(self) -> str:
        node = self.value("#node")
        where = {ALL: " --all-nodes", ANY: ""}.get(node, f" --node {_q(node)}")
        return f"faastui prewarm {_q(self.value('#function') or 'FN')}{where} --count {self._count()}"

    async def perform(self) -> Outcome:
        import asyncio

        fn, node, count = self.value("#function"), self.value("#node"), self._count()
        targets = self.nodes if node == ALL else [None if node == ANY else node]
        batches = await asyncio.gather(*(self.backend.prewarm(fn, t, count) for t in targets))
        started = [i for b in batches for i in b]
        where = sorted({i.node for i in started if i.node}) or [t or "any node" for t in targets]
        return Outcome("prewarm", f"prewarmed {len(started)} container(s) of {fn} on "
                                  f"{', '.join(where)}", started)

    def show(self, outcome: Outcome):
        return _invocation_table(outcome.result, outcome.summary)


class DispatchDialog(ActionDialog):
    verb = "dispatch"
    heading = "Dispatch a chain or a fan-out of node:function steps"
    run_label = "Dispatch"

    def form(self) -> ComposeResult:
        yield Label("input", classes="field-label")
        yield Input(self.preset.get("input", "hello"), id="input")
        yield Label("mode", classes="field-label")
        yield Select([("chain (each output feeds the next step)", "chain"),
                      ("fan-out (every step gets the input)", "fanout")], value="chain", id="mode",
                     allow_blank=False)
        yield Label("add a step: node, function", classes="field-label")
        with Horizontal(id="step-pick", classes="picker"):
            yield self.node_select(id="step-node", extra=None)
            yield self.fn_select(id="step-function", value=self.preset.get("function"))
            yield Button("Add step", id="add-step")
        yield Label("steps (NODE:FUNCTION, separated by spaces)", classes="field-label")
        yield Input(self.preset.get("steps", ""), id="steps", placeholder="node-1:hello node-2:echo")

    DEFAULT_CSS = ActionDialog.DEFAULT_CSS + """
    DispatchDialog #step-pick { height: auto; }
    """

    @on(Button.Pressed, "#add-step")
    def _add_step(self) -> None:
        steps = self.query_one("#steps", Input)
        step = f"{self.value('#step-node')}:{self.value('#step-function')}"
        steps.value = (steps.value + " " + step).strip()

    def _steps(self) -> list[DispatchStep]:
        return [DispatchStep.parse(s) for s in self.value("#steps").split()]

    def command(self) -> str:
        line = "faastui dispatch"
        if self.value("#input"):
            line += f" -i {_q(self.value('#input'))}"
        for s in self.value("#steps").split():
            line += f" -s {_q(s)}"
        if self.value("#mode") == "fanout":
            line += " --fanout"
        return line

    async def perform(self) -> Outcome:
        steps = self._steps()
        if not steps:
            raise InvalidRequest("add at least one step")
        res = await self.backend.dispatch(self.value("#input"), steps, mode=self.value("#mode"))
        ok = all(s.status == "ok" for s in res.steps)
        return Outcome("dispatch", f"{res.mode} of {len(res.steps)} step(s): "
                                   f"{'ok' if ok else 'failed'}", res, ok)

    def show(self, outcome: Outcome):
        from rich.console import Group

        res = outcome.result
        return Group(_invocation_table(res.steps, f"{outcome.summary} — per-step timings"),
                     Text(f"output: {_result_text(res.output, 300)}"))


class FuseDialog(ActionDialog):
    verb = "fuse"
    heading = "Fuse functions into one worker (calls between them become local)"
    run_label = "Fuse"

    def form(self) -> ComposeResult:
        yield Label("functions (marked with space in Placement; separated by spaces)",
                    classes="field-label")
        yield Input(" ".join(self.preset.get("members", [])), id="functions")
        yield Label("group name (optional)", classes="field-label")
        yield Input(self.preset.get("name", ""), id="name")

    def command(self) -> str:
        line = "faastui fuse " + " ".join(_q(f) for f in self.value("#functions").split())
        if self.value("#name").strip():
            line += f" --name {_q(self.value('#name').strip())}"
        return line

    async def perform(self) -> Outcome:
        fns = self.value("#functions").split()
        if len(fns) < 2:
            raise InvalidRequest("fuse needs at least two functions")
        group = await self.backend.fuse(fns, self.value("#name").strip() or None)
        return Outcome("fuse", f"fused {', '.join(group.functions)} as {group.name} on "
                               f"{group.node or '-'}", group)


class UnfuseDialog(ActionDialog):
    verb = "unfuse"
    heading = "Split a fusion group"
    run_label = "Unfuse"

    def __init__(self, *args, groups: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = groups

    def form(self) -> ComposeResult:
        yield Label("fusion group", classes="field-label")
        value = self.preset.get("group") if self.preset.get("group") in self.groups else (
            self.groups[0] if self.groups else None)
        yield Select([(g, g) for g in self.groups], value=value if value else Select.BLANK,
                     id="group", allow_blank=value is None)

    def command(self) -> str:
        return f"faastui unfuse {_q(self.value('#group') or 'GROUP')}"

    async def perform(self) -> Outcome:
        group = self.value("#group")
        if not group:
            raise InvalidRequest("there is no fusion group to split")
        fns = await self.backend.unfuse(group)
        return Outcome("unfuse", f"unfused {group}: {', '.join(fns)}", fns)


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
            for key, label, default in (("min_calls", "min calls per edge", 10),
                                        ("min_share", "min share of callee", 0.6),
                                        ("max_size", "max group size", 4)):
                with Vertical():
                    yield Label(label, classes="field-label")
                    yield Input(str(self.preset.get(key, default)), id=key)

    def update_command(self) -> None:
        super().update_command()
        self.preview()  # the plan follows the knobs

    def knobs(self) -> dict:
        try:
            knobs = {"min_calls": int(self.value("#min_calls")),
                     "min_share": float(self.value("#min_share")),
                     "max_size": int(self.value("#max_size"))}
        except ValueError:
            raise InvalidRequest("min calls and max size are whole numbers, min share a "
                                 "number in (0, 1]") from None
        return knobs

    def command(self) -> str:
        k = self.knobs()
        return (f"faastui optimize-fusion --apply --min-calls {k['min_calls']} "
                f"--min-share {k['min_share']:g} --max-size {k['max_size']}")

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def preview(self) -> None:
        """The dry run, shown in the result area (Apply does the same with apply=True)."""
        from backends.fusionizer import optimize

        try:
            plan = await optimize(self.backend, apply=False, **self.knobs())
        except (BackendError, ValueError) as exc:
            self.post_message(self.Previewed(None, str(exc)))
        else:
            self.post_message(self.Previewed(plan))

    class Previewed(Message):
        def __init__(self, plan, error: str = ""):
            super().__init__()
            self.plan = plan
            self.error = error

    def on_optimize_dialog_previewed(self, msg: "OptimizeDialog.Previewed") -> None:
        if self.running or self.outcome is not None:
            return  # Apply has been pressed: its result stays on show
        result = self.query_one("#result", Static)
        result.set_class(msg.plan is None, "-error")
        self.plan = msg.plan
        self.shown = Text(f"error: {msg.error}") if msg.plan is None else \
            self._plan_view(msg.plan, "dry run")
        result.update(self.shown)

    async def perform(self) -> Outcome:
        from backends.fusionizer import optimize

        plan = await optimize(self.backend, apply=True, **self.knobs())
        if plan.empty:
            return Outcome(self.verb, "nothing to change: the groups fit the call graph", plan)
        groups = "; ".join(f"{g.name}={','.join(g.functions)}" for g in plan.groups
                           if g.status != "keep")
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


class ScaleDialog(ActionDialog):
    verb = "scale"
    heading = "Scale: the minimum containers kept of a function"
    run_label = "Scale"

    def form(self) -> ComposeResult:
        yield Label("function", classes="field-label")
        yield self.fn_select(value=self.preset.get("function"))
        yield Label("replicas: N, +K or -K", classes="field-label")
        yield Input(str(self.preset.get("replicas", "1")), id="replicas")

    def command(self) -> str:
        return f"faastui scale {_q(self.value('#function') or 'FN')} {_q(self.value('#replicas'))}"

    async def perform(self) -> Outcome:
        fn = self.value("#function")
        res = await scale_to(self.backend, fn, self.value("#replicas"))
        return Outcome("scale", f"scaled {fn} to {res.replicas} replica(s) "
                                f"({res.available_replicas} available)", res)


class DeployDialog(ActionDialog):
    verb = "deploy"
    heading = "Deploy a function folder or zip"
    run_label = "Deploy"

    def form(self) -> ComposeResult:
        yield Label("path (a folder with handler.py + function.yaml, or a zip)",
                    classes="field-label")
        default = self.preset.get("path") or str(locations.functions_dir() / "hello")
        yield Input(default, id="path")
        yield Label("deploy under this name (optional)", classes="field-label")
        yield Input(self.preset.get("name", ""), id="name")

    def command(self) -> str:
        line = f"faastui deploy {_q(self.value('#path'))}"
        if self.value("#name").strip():
            line += f" --name {_q(self.value('#name').strip())}"
        return line

    async def perform(self) -> Outcome:
        path = Path(self.value("#path")).expanduser()
        if not path.exists():
            raise InvalidRequest(f"{path} does not exist")
        fn = await self.backend.deploy(str(path), name=self.value("#name").strip() or None)
        return Outcome("deploy", f"deployed {fn.name} ({fn.handler})", fn)


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

    def command(self) -> str:
        return f"faastui rm {_q(self.value('#function') or 'FN')}"

    async def perform(self) -> Outcome:
        fn = self.value("#function")
        if not fn:
            raise InvalidRequest("pick a function")
        await self.backend.remove(fn)
        return Outcome("remove", f"removed {fn}", fn)

    def on_action_dialog_performed(self, msg) -> None:
        super().on_action_dialog_performed(msg)
        self.dismiss(self.outcome)


class HelpScreen(ModalScreen[None]):
    """``?``: every key, what it does, and why an action is unavailable here."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 96; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, rows: list[tuple[str, str, str]], context: str, backend: str):
        super().__init__()
        self.rows = rows
        self.context = context
        self.backend_name = backend

    def compose(self) -> ComposeResult:
        table = Table(title=f"faastui keys — context {self.context} ({self.backend_name} backend)",
                      box=None, padding=(0, 2), header_style="bold", expand=True)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("action")
        table.add_column("availability")
        for key, desc, avail in self.rows:
            table.add_row(key, desc, Text(avail, style="dim" if avail != "ok" else ""))
        tail = Text("\n:nodes :fn :queues :qos :fusion :events (focus a pane)  :all  :ctx NAME  "
                    ":theme NAME  :q\nFilter: /regex, /!regex negates, empty clears. "
                    "space marks functions for f; [ and ] page the Placement node columns. Keys remap in config.yaml under keys: "
                    "{binding_id: key}.", style="dim")
        with VerticalScroll():
            yield Static(table)
            yield Static(tail)

    def action_close(self) -> None:
        self.dismiss(None)


