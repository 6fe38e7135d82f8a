"""The dashboard app: six panes fed by one ``snapshot()`` per tick, every action a key.

Polling runs in an async worker (``group="poll"``, exclusive) that only posts
``SnapshotFetched``/``SnapshotFailed``; the handler applies the snapshot to the
panes (diffed, see ``table.py``) and re-arms the timer, so a slow backend
delays the next tick instead of piling calls up, and a timeout turns into an
error badge while the last good data stays on screen. Polling pauses while a
dialog is open. Actions open the dialogs of ``dialogs.py``; ``check_action``
hides every state-changing action with ``--readonly`` and greys those the
backend lacks the capability for (the footer tooltip and ``?`` say why).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from backends.base import ACTION_CAPABILITY, Backend, Capability
from backends.errors import BackendError, Unreachable, Unsupported
from backends.model import Snapshot

from .cells import Palette
from .footer import QuietFooter
from .panes import (EventsPane, FusionPane, NodesPane, Pane, PlacementPane, QoSPane, QueuesPane,
                    TablePane)
from .themes import DEFAULT_THEME, load_themes, resolve_theme

if TYPE_CHECKING:
    from .dialogs import Outcome

__all__ = ["Dashboard", "run", "ACTIONS", "MUTATING"]

#: the action keys, by binding id (= action name = the DESIGN.md verb)
ACTIONS = ("invoke", "invoke_async", "prewarm", "dispatch", "fuse", "unfuse", "optimize", "scale",
           "deploy", "remove")
MUTATING = frozenset(ACTIONS)  # every one changes state (even invoke warms a container)

VIEWS = {"nodes": "nodes", "node": "nodes", "no": "nodes", "fn": "placements",
         "functions": "placements", "placement": "placements", "placements": "placements",
         "queues": "queues", "q": None, "qos": "qos", "fusion": "fusion_groups",
         "events": "events", "ev": "events"}

#: finished calls fetched per poll for the Events pane (under load, the latest of them)
CALLS_PER_TICK = 20

_ERROR_PARTS = {"node": "nodes", "placement": "placements", "queue": "queues", "qos": "qos",
                "fusion": "fusion_groups", "function": "placements"}


class Dashboard(App[int]):
    """The faastui dashboard over one Backend (built by ``make_backend``)."""

    CSS_PATH = "dashboard.tcss"
    TITLE = "faastui"
    BINDINGS = [
        Binding("i", "invoke", "Invoke", id="invoke"),
        Binding("I", "invoke_async", "Async", id="invoke_async"),
        Binding("p", "prewarm", "Prewarm", id="prewarm"),
        Binding("d", "dispatch", "Dispatch", id="dispatch"),
        Binding("f", "fuse", "Fuse", id="fuse"),
        Binding("u", "unfuse", "Unfuse", id="unfuse"),
        Binding("F", "optimize", "Optimize", id="optimize", show=False),
        Binding("s", "scale", "Scale", id="scale"),
        Binding("D", "deploy", "Deploy", id="deploy"),
        Binding("x", "remove", "Remove", id="remove"),
        Binding("space", "mark", "Mark", id="mark", show=False),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("colon", "command_bar", "Cmd", id="command"),
        Binding("r", "refresh", "Refresh", id="refresh"),
        Binding("ctrl+s", "save", "Save", id="save"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("escape", "restore", "Restore", id="restore", show=False),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    class SnapshotFetched(Message):
        def __init__(self, snapshot: Snapshot, events: list[dict], calls: list | None = None):
            super().__init__()
            self.snapshot = snapshot
            self.events = events
            self.calls = calls or []  # the latest finished calls, newest first

    class SnapshotFailed(Message):
        def __init__(self, error: str):
            super().__init__()
            self.error = error

    def __init__(self, make_backend: Callable[[], Backend], *, context_name: str = "local",
                 readonly: bool = False, theme: str | None = None, interval: float = 1.0,
                 keys: dict[str, str] | None = None, clock: Callable[[], float] = time.time,
                 poll_timeout: float = 5.0, remember_theme: bool = True,
                 save_dir: str | Path | None = None, engine_events: bool = True,
                 background: Callable[[Backend], Awaitable[Any]] | None = None,
                 make_context_backend: Callable[[str], tuple[str, Callable[[], Backend]]] | None = None):
        super().__init__()
        self.make_backend = make_backend
        self.backend: Backend | None = make_backend()
        self.backend_class = type(self.backend)
        self.context_name = context_name
        self.readonly = readonly
        self.requested_theme = theme
        self.interval = max(0.25, interval)  # at most 4 refreshes a second (PERF_FACTS.md)
        self.keys = dict(keys or {})
        self.clock = clock
        self.poll_timeout = poll_timeout
        self.remember_theme = remember_theme
        self.save_dir = Path(save_dir) if save_dir else None
        self.engine_events = engine_events
        self.background = background
        self.make_context_backend = make_context_backend or _context_backend
        self.snapshot: Snapshot | None = None
        self.ok_at: float | None = None
        self.error: str | None = None
        self.refreshes = 0  # snapshots applied (tests wait on it)
        self.failures = 0
        self._timer = None
        self._events_since = 0.0
        self._calls_supported = True
        self._last_table: TablePane | FusionPane | None = None
        self._prompt_mode = ""
        self._theme_ready = False
        self.panes: dict[str, Pane] = {}
        self._annotate_unsupported()
        self._select_theme()

    # ---- capabilities ----------------------------------------------------------------
    def unavailable_reason(self, action: str) -> str | None:
        """Why ``action`` cannot run here, or None."""
        if action in MUTATING and self.readonly:
            return "read-only (--readonly)"
        cap = ACTION_CAPABILITY.get(action)
        backend = self.backend_class
        if cap is not None and cap not in backend.capabilities:
            return f"the {backend.name} backend cannot {action.replace('_', ' ')}"
        return None

    def _annotate_unsupported(self) -> None:
        """Give greyed bindings a tooltip with the reason (the footer shows it)."""
        for key, bindings in self._bindings.key_to_bindings.items():
            new = []
            for b in bindings:
                reason = self.unavailable_reason(b.action) if b.action in MUTATING else None
                new.append(dataclasses.replace(b, tooltip=f"unavailable: {reason}") if reason else b)
            self._bindings.key_to_bindings[key] = new

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MUTATING or action in ("mark", "filter", "command_bar", "refresh", "save",
                                            "help", "restore"):
            if len(self.screen_stack) > 1 and action != "save":
                return False  # a dialog is open: dashboard keys go to it
        if action in MUTATING:
            if self.readonly:
                return False  # hidden: --readonly shows no state-changing action at all
            if self.unavailable_reason(action):
                return None  # greyed, with the reason in the tooltip and in `?`
        return True

    # ---- layout ----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="λ")
        with Container(id="panes"):
            for cls in (NodesPane, PlacementPane, QueuesPane, QoSPane, FusionPane, EventsPane):
                pane = cls(id=f"pane-{cls.part}")
                self.panes[cls.part] = pane
                yield pane
        yield Static("", id="status")
        yield Input(id="prompt")
        yield QuietFooter()

    def _select_theme(self) -> None:
        """Register the theme files and pick the theme, before the first CSS pass.

        Called from ``__init__``: setting ``theme`` in ``on_mount`` instead restyles every
        widget a second time right after the first pass (a theme change re-applies the
        whole stylesheet), which was a visible share of the time to first frame.
        """
        for theme in load_themes():
            self.register_theme(theme)
        name = resolve_theme(self.requested_theme or DEFAULT_THEME, self.available_themes) \
            or DEFAULT_THEME
        self._unknown_theme = None
        if self.requested_theme and resolve_theme(self.requested_theme, self.available_themes) is None:
            self._unknown_theme = (self.requested_theme, name)
        if name in self.available_themes:
            self.theme = name

    def on_mount(self) -> None:
        if self._unknown_theme:
            asked, name = self._unknown_theme
            self.notify(f"unknown theme {asked!r}; using {name}", severity="warning")
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._set_palette()
        self._theme_ready = True
        if self.keys:
            self.set_keymap(self.keys)
        self.sub_title = self._subtitle()
        self.panes["placements"].table.focus()
        self.set_interval(1.0, self._tick_badges)
        self.fetch_snapshot()
        if self.background is not None:
            self.run_background()

    def _subtitle(self) -> str:
        ro = " · read-only" if self.readonly else ""
        return f"context {self.context_name} · {self.backend_class.name}{ro}"

    # ---- polling ---------------------------------------------------------------------
    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.interval, self._poll_tick)

    def _poll_tick(self) -> None:
        self._timer = None
        if len(self.screen_stack) > 1:  # paused behind a dialog
            self._arm()
            return
        self.fetch_snapshot()

    @work(exclusive=True, group="poll", exit_on_error=False)
    async def fetch_snapshot(self) -> None:
        """One poll: snapshot (+ the engine's new events when it has them). Never touches widgets."""
        name = self.backend_class.name
        try:
            if self.backend is None:
                self.backend = self.make_backend()
            backend = self.backend
            snap = await asyncio.wait_for(backend.snapshot(), self.poll_timeout)
            events: list[dict] = []
            calls: list = []
            if self.engine_events and hasattr(backend, "events"):
                try:
                    events = await asyncio.wait_for(backend.events(self._events_since), 2.0)
                except (BackendError, TimeoutError):
                    events = []
            if self.engine_events and self._calls_supported:
                try:
                    calls = await asyncio.wait_for(backend.invocations(CALLS_PER_TICK), 2.0)
                except Unsupported:
                    self._calls_supported = False  # a backend with no call history: stop asking
                except (BackendError, TimeoutError):
                    calls = []
        except TimeoutError:
            self.post_message(self.SnapshotFailed(
                f"the {name} backend did not answer within {self.poll_timeout:g}s"))
        except BackendError as exc:
            if isinstance(exc, Unreachable):
                await self._drop_backend()  # rebuilt next tick: the engine may come back elsewhere
            self.post_message(self.SnapshotFailed(str(exc)))
        else:
            self.post_message(self.SnapshotFetched(snap, events, calls))

    async def _drop_backend(self) -> None:
        backend, self.backend = self.backend, None
        if backend is not None:
            try:
                await backend.aclose()
            except Exception:  # noqa: BLE001 - closing a dead connection must not matter
                pass

    def on_dashboard_snapshot_fetched(self, msg: SnapshotFetched) -> None:
        was_failing = self.error is not None
        first = self.snapshot is None
        self.error = None
        self.apply_snapshot(msg.snapshot)
        if first:
            self.panes["events"].add(self.clock(), "connected",
                                     f"context {self.context_name} ({self.backend_class.name} backend)")
        if was_failing:
            self.panes["events"].add(self.clock(), "backend", "backend answers again",
                                     self.panes["events"].palette.ok)
        if msg.events:
            self._events_since = max(float(e.get("t", 0)) for e in msg.events)
            self.panes["events"].add_engine(msg.events)
        if msg.calls:
            self.panes["events"].add_calls(msg.calls)
        self.panes["events"].flush()
        self._tick_badges()
        self._set_status()
        self._arm()

    def on_dashboard_snapshot_failed(self, msg: SnapshotFailed) -> None:
        self.failures += 1
        if self.error is None:
            self.panes["events"].add(self.clock(), "backend", msg.error,
                                     self.panes["events"].palette.bad)
            self.panes["events"].flush()
        self.error = msg.error
        for part, pane in self.panes.items():
            if part != "events":
                pane.set_error(msg.error)
        self._tick_badges()
        self._set_status()
        self._arm()

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Show ``snap`` in every pane (diffed). Public for tests and bench/tui.py."""
        now = self.clock()
        self.snapshot = snap
        self.ok_at = now
        part_errors: dict[str, str] = {}
        for err in snap.errors:
            head = err.split(":", 1)[0].strip().lower()
            for prefix, part in _ERROR_PARTS.items():
                if head.startswith(prefix):
                    part_errors[part] = err
        for part, pane in self.panes.items():
            if part == "events":
                continue
            pane.apply(snap)
            pane.set_error(part_errors.get(part))
            if part not in part_errors:
                pane.ok_at = now
        self.panes["events"].ok_at = now
        self.refreshes += 1
        self._tick_badges()

    def _tick_badges(self) -> None:
        now = self.clock()
        for pane in self.panes.values():
            pane.badge(now)

    def _set_status(self) -> None:
        status = self.query_one("#status", Static)
        if self.error:
            status.update(f"⚠ {self.error} — showing the last good data")
        else:
            snap = self.snapshot
            msg = "" if snap is None else (
                f"{len(snap.nodes)} nodes · {len(snap.functions)} functions · "
                f"{sum(p.count for p in snap.placements if p.state != 'cold')} containers · "
                f"{len(snap.queues)} queues" + (f" · partial: {'; '.join(snap.errors)}"
                                                if snap.errors else ""))
            status.update(msg)
        status.set_class(bool(self.error), "-error")

    # ---- background work (faastui demo's load) --------------------------------------
    @work(group="background", exit_on_error=False)
    async def run_background(self) -> None:
        backend = self.make_backend()
        try:
            await self.background(backend)
        except BackendError as exc:
            self.notify(f"background load stopped: {exc}", severity="warning")
        finally:
            await backend.aclose()

    # ---- themes ----------------------------------------------------------------------
    def _set_palette(self) -> None:
        palette = Palette.from_variables(self.get_css_variables(), no_color=bool(os.environ.get("NO_COLOR")))
        for pane in self.panes.values():
            pane.palette = palette

    def _theme_changed(self, theme) -> None:
        self._set_palette()
        for pane in self.panes.values():
            pane.repaint()
        if self.snapshot is not None:
            self.apply_snapshot(self.snapshot)
        if self.remember_theme and self._theme_ready:
            self._remember_theme(theme.name)

    def _remember_theme(self, name: str) -> None:
        from ..config import load_config, save_config

        try:
            cfg = load_config()
            if cfg.theme != name:
                cfg.theme = name
                save_config(cfg)
        except (BackendError, OSError) as exc:
            self.notify(f"could not remember the theme: {exc}", severity="warning")

    def switch_theme(self, name: str) -> bool:
        resolved = resolve_theme(name, self.available_themes)
        if resolved is None:
            faastui = sorted(t for t in self.available_themes if t.startswith("faastui-"))
            self.notify(f"unknown theme {name!r}; try {', '.join(faastui)}", severity="error")
            return False
        self.theme = resolved
        return True

    # ---- selection helpers -----------------------------------------------------------
    def function_names(self) -> list[str]:
        return [f.name for f in self.snapshot.functions] if self.snapshot else []

    def node_names(self) -> list[str]:
        return [n.name for n in self.snapshot.nodes] if self.snapshot else []

    def focused_pane(self) -> Pane | None:
        widget = self.focused
        while widget is not None and not isinstance(widget, Pane):
            widget = widget.parent
        return widget if isinstance(widget, Pane) else None

    def selected_function(self) -> str | None:
        pane = self.focused_pane()
        names = set(self.function_names())
        if isinstance(pane, (PlacementPane, QoSPane)):
            key = pane.table.cursor_key()
            if key in names:
                return key
        if isinstance(pane, FusionPane):
            node = pane.group_tree.cursor_node
            if node is not None and str(node.label) in names:
                return str(node.label)
        return None

    def selected_node(self) -> str | None:
        """The node under the cursor, for a backend that can target nodes (else None)."""
        if Capability.NODE_TARGET not in self.backend_class.capabilities:
            return None
        pane = self.focused_pane()
        if isinstance(pane, NodesPane):
            return pane.table.cursor_key()
        if isinstance(pane, PlacementPane):
            return pane.node_at(pane.table.cursor_column)
        return None

    # ---- actions ---------------------------------------------------------------------
    def _open(self, dialog) -> None:
        self.push_screen(dialog, callback=self._dialog_closed)

    def _dialog_closed(self, outcome: Outcome | None) -> None:
        self.fetch_snapshot()  # show the action's effect at once

    def _args(self) -> tuple:
        return (self.backend or self.make_backend(), self.function_names(), self.node_names())

    def action_invoke(self) -> None:
        self._open(_dialogs().InvokeDialog(*self._args(), function=self.selected_function(),
                                node=self.selected_node()))

    def action_invoke_async(self) -> None:
        self._open(_dialogs().InvokeDialog(*self._args(), asynchronous=True, function=self.selected_function()))

    def action_prewarm(self) -> None:
        self._open(_dialogs().PrewarmDialog(
            *self._args(), function=self.selected_function(), node=self.selected_node(),
            any_node=Capability.NODE_TARGET not in self.backend_class.capabilities))

    def action_dispatch(self) -> None:
        fn = self.selected_function() or "hello"
        nodes = self.node_names()
        steps = f"{nodes[0]}:{fn}" if nodes and fn in self.function_names() else ""
        self._open(_dialogs().DispatchDialog(*self._args(), function=fn, steps=steps))

    def action_fuse(self) -> None:
        marked = sorted(self.panes["placements"].marked)
        if not marked and self.selected_function():
            marked = [self.selected_function()]
        self._open(_dialogs().FuseDialog(*self._args(), members=marked))

    def action_unfuse(self) -> None:
        fusion: FusionPane = self.panes["fusion_groups"]
        groups = [g.name for g in fusion.groups]
        group = fusion.selected_group() if self.focused_pane() is fusion else None
        if group is None and self.selected_function() and self.snapshot:
            group = next((f.fusion_group for f in self.snapshot.functions
                          if f.name == self.selected_function()), None)
        self._open(_dialogs().UnfuseDialog(*self._args(), groups=groups, group=group))

    def action_optimize(self) -> None:
        self._open(_dialogs().OptimizeDialog(*self._args()))

    def action_scale(self) -> None:
        fn = self.selected_function()
        current = next((f.replicas for f in self.snapshot.functions if f.name == fn), 0) \
            if self.snapshot else 0
        self._open(_dialogs().ScaleDialog(*self._args(), function=fn, replicas=str(current + 1)))

    def action_deploy(self) -> None:
        self._open(_dialogs().DeployDialog(*self._args()))

    def action_remove(self) -> None:
        self._open(_dialogs().ConfirmRemove(*self._args(), function=self.selected_function()))

    def action_performed(self, outcome: Outcome) -> None:
        """A dialog's action finished (called by the dialog)."""
        events = self.panes["events"]
        style = events.palette.ok if outcome.ok else events.palette.bad
        events.add(time.time(), outcome.verb, outcome.summary, style)
        events.flush()
        if outcome.verb in ("fuse", "unfuse", "remove", "deploy"):
            self.panes["placements"].marked.clear()
        self.notify(outcome.summary, severity="information" if outcome.ok else "error", timeout=4)

    def action_failed(self, verb: str, error: str) -> None:
        events = self.panes["events"]
        events.add(time.time(), verb, f"failed: {error}", events.palette.bad)
        events.flush()

    def action_mark(self) -> None:
        pane = self.focused_pane()
        if isinstance(pane, PlacementPane):
            key = pane.table.cursor_key()
            if key:
                pane.toggle_mark(key)
                pane.badge(self.clock())

    def action_refresh(self) -> None:
        self.fetch_snapshot()

    def action_help(self) -> None:
        rows = []
        for binding in self.BINDINGS:
            key = self.keys.get(binding.id, binding.key)
            reason = self.unavailable_reason(binding.action) if binding.action in MUTATING else None
            if reason and self.readonly:
                continue
            rows.append((key, f"{binding.description or binding.action}  ({binding.id})",
                         reason or "ok"))
        rows.append(("ctrl+p", "command palette (actions, views, themes)", "ok"))
        self.push_screen(_dialogs().HelpScreen(rows, self.context_name, self.backend_class.name))

    def action_restore(self) -> None:
        if self.query_one("#prompt", Input).has_class("-visible"):
            self._hide_prompt()
        else:
            self.screen.minimize()

    # ---- prompt: filter and command bar ----------------------------------------------
    def action_filter(self) -> None:
        pane = self.focused_pane()
        if not isinstance(pane, TablePane):
            pane = self._last_table if isinstance(self._last_table, TablePane) else self.panes["placements"]
        self._last_table = pane
        self._show_prompt("filter", pane.table.filter_text,
                          f"filter {pane.title}: regex, !regex negates, empty clears")

    def action_command_bar(self) -> None:
        pane = self.focused_pane()
        if pane is not None:
            self._last_table = pane
        self._show_prompt("command", "", ":nodes :fn :queues :qos :fusion :events :all "
                                         ":ctx NAME :theme NAME :q")

    def _show_prompt(self, mode: str, value: str, placeholder: str) -> None:
        prompt = self.query_one("#prompt", Input)
        self._prompt_mode = mode
        prompt.placeholder = placeholder
        prompt.value = value
        prompt.border_title = "/" if mode == "filter" else ":"
        prompt.add_class("-visible")
        prompt.focus()

    def _hide_prompt(self) -> None:
        prompt = self.query_one("#prompt", Input)
        prompt.remove_class("-visible")
        target = self._last_table
        if target is not None:
            (target.table if isinstance(target, TablePane) else target.group_tree).focus()
        else:
            self.panes["placements"].table.focus()

    @on(Input.Submitted, "#prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        mode = self._prompt_mode
        self._hide_prompt()
        if mode == "filter":
            self.apply_filter(text)
        else:
            self.run_command(text)

    def apply_filter(self, text: str, pane: TablePane | None = None) -> None:
        import re

        pane = pane or (self._last_table if isinstance(self._last_table, TablePane)
                        else self.panes["placements"])
        try:
            pane.table.set_filter(text)
        except re.error as exc:
            self.notify(f"bad filter {text!r}: {exc}", severity="error")
            return
        pane.badge(self.clock())

    def run_command(self, text: str) -> None:
        """The command bar (``:``): views, context, theme, quit."""
        words = text.strip().lstrip(":").split()
        if not words:
            return
        verb, args = words[0].lower(), words[1:]
        if verb in ("q", "quit", "q!", "exit"):
            self.exit(0)
        elif verb in ("all", "restore"):
            self.screen.minimize()
        elif verb in VIEWS:
            self.show_view(VIEWS[verb])
        elif verb in ("ctx", "context"):
            if not args:
                self.notify(f"context: {self.context_name}")
            else:
                self.switch_context(args[0])
        elif verb == "theme":
            if args:
                self.switch_theme(args[0])
            else:
                self.notify(f"theme: {self.theme}")
        elif verb in ACTIONS or verb in ("rm", "async"):
            self.do_action({"rm": "remove", "async": "invoke_async"}.get(verb, verb))
        else:
            self.notify(f"unknown command :{verb}", severity="error")

    def show_view(self, part: str) -> None:
        pane = self.panes[part]
        self.screen.minimize()
        target = pane.table if isinstance(pane, TablePane) else pane.group_tree
        target.focus()
        self.screen.maximize(pane)
        self._last_table = pane

    def switch_context(self, name: str) -> None:
        try:
            ctx_name, factory = self.make_context_backend(name)
        except BackendError as exc:
            self.notify(str(exc), severity="error")
            return
        old = self.backend
        self.make_backend = factory
        self.backend = None
        try:
            self.backend = factory()
        except BackendError as exc:
            self.notify(str(exc), severity="error")
        self.backend_class = type(self.backend) if self.backend is not None else self.backend_class
        self.context_name = ctx_name
        self.sub_title = self._subtitle()
        self.snapshot = None
        for pane in self.panes.values():
            pane.repaint()
        if old is not None:
            self.call_later(old.aclose)
        self.refresh_bindings()
        self.notify(f"switched to context {ctx_name}")
        self.fetch_snapshot()

    # ---- save -----------------------------------------------------------------------
    def action_save(self) -> None:
        """Save a screenshot (SVG) and the focused table (CSV and JSON)."""
        folder = self.save_dir or Path(os.environ.get("FAASTUI_SAVE_DIR") or Path.cwd())
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        svg = Path(self.save_screenshot(f"faastui-{stamp}.svg", str(folder)))
        pane = self.focused_pane() or self._last_table or self.panes["placements"]
        if isinstance(pane, TablePane):
            headers, rows = pane.table.export_rows()
        else:
            headers, rows = pane.export_rows()
        base = folder / f"faastui-{stamp}-{pane.part}"
        with open(f"{base}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(headers)
            writer.writerows(rows)
        Path(f"{base}.json").write_text(json.dumps([dict(zip(headers, r)) for r in rows], indent=2))
        self.saved = (svg, Path(f"{base}.csv"), Path(f"{base}.json"))
        self.notify(f"saved {svg.name}, {base.name}.csv and .json in {folder}")

    # ---- command palette -----------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if binding.action not in MUTATING:
                continue
            reason = self.unavailable_reason(binding.action)
            if self.readonly:
                continue
            help_text = f"key {self.keys.get(binding.id, binding.key)}" + (
                f" — unavailable: {reason}" if reason else "")
            yield SystemCommand(f"Action: {binding.description}", help_text,
                                lambda a=binding.action: self.do_action(a))
        for label, part in (("Nodes", "nodes"), ("Placement", "placements"), ("Queues", "queues"),
                            ("QoS", "qos"), ("Fusion groups", "fusion_groups"), ("Events", "events")):
            yield SystemCommand(f"View: {label}", f"focus and maximise the {label} pane",
                                lambda p=part: self.show_view(p))
        for name in sorted(t for t in self.available_themes if t.startswith("faastui-")):
            yield SystemCommand(f"Theme: {name}", "switch the dashboard theme (remembered)",
                                lambda n=name: self.switch_theme(n))
        yield SystemCommand("Refresh", "fetch a snapshot now", self.action_refresh)
        yield SystemCommand("Save", "screenshot (SVG) and the focused table (CSV, JSON)",
                            self.action_save)

    def do_action(self, action: str) -> None:
        """Run a dashboard action by name (palette, command bar), saying why if it cannot."""
        reason = self.unavailable_reason(action) if action in MUTATING else None
        if reason:
            self.notify(f"{action}: {reason}", severity="warning")
            return
        getattr(self, f"action_{action}")()

    # ---- focus tracking --------------------------------------------------------------
    def on_descendant_focus(self, event) -> None:
        pane = self.focused_pane()
        if pane is not None:
            self._last_table = pane

    async def on_unmount(self) -> None:
        await self._drop_backend()


def _dialogs():
    """The dialogs module, imported when the first dialog opens: it pulls in TextArea,
    Select and friends (~40 ms), none of which the first frame needs."""
    from . import dialogs

    return dialogs


def _context_backend(name: str) -> tuple[str, Callable[[], Backend]]:
    from ..config import resolve_context

    ctx = resolve_context(name)
    return ctx.name, ctx.build_backend


def run(context: str | None = None, *, readonly: bool = False, theme: str | None = None,
        background: Callable[[Backend], Awaitable[Any]] | None = None,
        make_backend: Callable[[], Backend] | None = None, interval: float = 1.0,
        label: str | None = None) -> int:
    """Open the dashboard on ``context`` (default: the current one). Returns the exit code."""
    import sys

    from ..config import load_config, resolve_context

    try:
        cfg = load_config()
        ctx = resolve_context(context, cfg)
        factory = make_backend or ctx.build_backend
        app = Dashboard(factory, context_name=label or ctx.name, readonly=readonly,
                        theme=theme or cfg.theme, keys=cfg.keys, background=background,
                        interval=interval)
    except BackendError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    result = app.run()
    return int(result or 0)
