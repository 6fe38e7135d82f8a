"""The dashboard app: six panes fed by one ``snapshot()`` per tick, every action a key.

``Dashboard`` is the Textual ``App``: its bindings, its layout, and the handlers that
show each polled snapshot in the panes. The parts it is built from live beside it,
one job each:

- ``options.py``   DashboardOptions, the settings (``Dashboard(factory, interval=30)``);
- ``polling.py``   the poll worker and its timer, paused behind a dialog;
- ``gating.py``    what an action needs: hidden with ``--readonly``, greyed (with the
                   reason) without the backend's capability;
- ``selection.py`` what the cursor is on (dialogs open preset from it);
- ``launchers.py`` one launcher per action key, opening its dialog (``dialogs/``),
                   whose Run performs a ``faastui.actions`` spec on the backend;
- ``command_bar.py`` ``/`` filter and ``:`` commands; ``contexts.py`` ``:ctx``;
  ``themes.py`` themes; ``export.py`` ctrl+s; ``command_palette.py`` ctrl+p;
- ``panes/``, ``table.py``, ``cells.py`` the panes and their diffed tables;
- ``_textual_compat.py`` every private Textual access, in one place.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static, Tree

from backends.base import Backend, Capability
from backends.errors import BackendError
from backends.model import Snapshot

from . import gating, launchers
from ._textual_compat import FirstFrameScreen
from .command_bar import CommandBar
from .footer import QuietFooter
from .gating import ACTIONS, MUTATING
from .options import DashboardOptions
from .panes import PANES, Pane, PlacementPane
from .polling import Poller, SnapshotFailed, SnapshotFetched, part_errors
from .selection import Selection
from .themes import ThemeKeeper

if TYPE_CHECKING:
    from .dialogs import Outcome

__all__ = ["Dashboard", "DashboardOptions", "run", "ACTIONS", "MUTATING"]


class Dashboard(App[int]):
    """The faastui dashboard over one Backend (built by ``make_backend``).

    ``options`` (a DashboardOptions) holds the settings; keywords are a shorthand for
    its fields (``Dashboard(factory, readonly=True)``).
    """

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
        Binding("b", "bench", "Bench", id="bench", show=False),
        Binding("enter", "describe", "Open", id="describe", show=False),
        Binding("y", "yaml", "YAML", id="yaml", show=False),
        Binding("l", "logs", "Logs", id="logs", show=False),
        Binding("space", "mark", "Mark", id="mark", show=False),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("colon", "command_bar", "Cmd", id="command"),
        Binding("r", "refresh", "Refresh", id="refresh"),
        Binding("ctrl+s", "save", "Save", id="save"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("escape", "restore", "Restore", id="restore", show=False),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    SnapshotFetched = SnapshotFetched
    SnapshotFailed = SnapshotFailed

    def __init__(self, make_backend: Callable[[], Backend], options: DashboardOptions | None = None, **changes: Any):
        super().__init__()
        self.options = options = dataclasses.replace(options or DashboardOptions(), **changes)
        self.make_backend = make_backend
        self.backend: Backend | None = make_backend()
        self.backend_class = type(self.backend)
        #: the backend instance's capabilities (``contexts`` updates them on a switch)
        self.capabilities = self.backend.capabilities
        self.context_name = options.context_name
        self.namespace = options.namespace  # -n, then :ns (None: the backend's own)
        self.readonly = options.readonly
        self.snapshot: Snapshot | None = None
        self.ok_at: float | None = None
        self.error: str | None = None
        self.refreshes = 0  # snapshots applied (tests wait on it)
        self.failures = 0
        self.saved: tuple | None = None  # the files of the last ctrl+s
        self.panes: dict[str, Pane] = {}
        self.poller = Poller(self)
        self.selection = Selection(self)
        self.command_bar = CommandBar(self)
        self.themes = ThemeKeeper(self, options.theme, options.remember_theme)
        gating.grey_unavailable(self)
        self.themes.select()

    # ---- capabilities ----------------------------------------------------------------
    def unavailable_reason(self, action: str) -> str | None:
        """Why ``action`` cannot run here, or None."""
        return gating.unavailable_reason(action, self.backend_class.name, self.capabilities, self.readonly)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return gating.allowed(self, action)

    # ---- layout ----------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        # focus starts on the placement grid: auto-focus there directly, not on the first
        # table and then again from on_mount (each move restyles both tables and panes);
        # and the screen is not restyled whole when it first shows (FirstFrameScreen)
        screen = FirstFrameScreen(id="_default")
        screen.AUTO_FOCUS = "#placements-table"
        return screen

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="λ")
        with Container(id="panes"):
            for cls in PANES:
                pane = cls(id=f"pane-{cls.part}")
                self.panes[cls.part] = pane
                yield pane
        yield Static("", id="status")  # the #prompt Input goes below it when first opened
        yield QuietFooter()

    def on_load(self) -> None:
        self.poller.fetch_early()  # the backend answers while the app composes (polling.py)

    def on_mount(self) -> None:
        self.themes.mounted()
        if self.options.keys:
            self.set_keymap(dict(self.options.keys))
        self.sub_title = self.subtitle()
        self.panes["placements"].table.focus()  # already there (AUTO_FOCUS): unless app_focus is off
        self.set_interval(1.0, self._tick_badges)
        early = self.poller.mounted()  # shown now, so the first frame has the data
        if isinstance(early, SnapshotFetched):
            self.on_dashboard_snapshot_fetched(early)
        elif isinstance(early, SnapshotFailed):
            self.on_dashboard_snapshot_failed(early)
        view = self.options.view
        if view and view != "all":
            from .command_bar import VIEWS

            if VIEWS.get(view):
                self.call_after_refresh(self.show_view, VIEWS[view])
        if self.options.background is not None:
            self.run_background()

    def subtitle(self) -> str:
        ro = " · read-only" if self.readonly else ""
        ns = f" -n {self.namespace}" if self.namespace else ""
        return f"context {self.context_name}{ns} · {self.backend_class.name}{ro}"

    # ---- polled snapshots ------------------------------------------------------------
    def fetch_snapshot(self):
        """Poll now (``polling.Poller``); the panes show the answer when it comes."""
        return self.poller.fetch()

    def on_dashboard_snapshot_fetched(self, msg: SnapshotFetched) -> None:
        was_failing = self.error is not None
        first = self.snapshot is None
        self.error = None
        self.apply_snapshot(msg.snapshot)
        events = self.panes["events"]
        clock = self.options.clock
        if first:
            events.add(clock(), "connected", f"context {self.context_name} ({self.backend_class.name} backend)")
        if was_failing:
            events.add(clock(), "backend", "backend answers again", events.palette.ok)
        if msg.events:
            self.poller.saw_events(msg.events)
            events.add_engine(msg.events)
        if msg.calls:
            events.add_calls(msg.calls)
        events.flush()
        self._tick_badges()
        self._set_status()
        self.poller.arm()

    def on_dashboard_snapshot_failed(self, msg: SnapshotFailed) -> None:
        self.failures += 1
        events = self.panes["events"]
        if self.error is None:
            events.add(self.options.clock(), "backend", msg.error, events.palette.bad)
            events.flush()
        self.error = msg.error
        for part, pane in self.panes.items():
            if part != "events":
                pane.set_error(msg.error)
        self._tick_badges()
        self._set_status()
        self.poller.arm()

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Show ``snap`` in every pane (diffed). Public for tests and bench/tui.py."""
        now = self.options.clock()
        self.snapshot = snap
        self.ok_at = now
        errors = part_errors(snap)
        for part, pane in self.panes.items():
            if part == "events":
                continue
            pane.apply(snap)
            pane.set_error(errors.get(part))
            if part not in errors:
                pane.ok_at = now
        self.panes["events"].ok_at = now
        self.refreshes += 1
        self._tick_badges()

    def _tick_badges(self) -> None:
        now = self.options.clock()
        for pane in self.panes.values():
            pane.badge(now)

    def _set_status(self) -> None:
        status = self.query_one("#status", Static)
        if self.error:
            status.update(f"⚠ {self.error} — showing the last good data")
        else:
            snap = self.snapshot
            msg = (
                ""
                if snap is None
                else (
                    f"{len(snap.nodes)} nodes · {len(snap.functions)} functions · "
                    f"{sum(p.count for p in snap.placements if p.state != 'cold')} containers · "
                    f"{len(snap.queues)} queues" + (f" · partial: {'; '.join(snap.errors)}" if snap.errors else "")
                )
            )
            status.update(msg)
        status.set_class(bool(self.error), "-error")

    # ---- background work (faastui demo's load) --------------------------------------
    @work(group="background", exit_on_error=False)
    async def run_background(self) -> None:
        backend = self.make_backend()
        try:
            await self.options.background(backend)
        except BackendError as exc:
            self.notify(f"background load stopped: {exc}", severity="warning")
        finally:
            await backend.aclose()

    # ---- the action keys: each opens its dialog (launchers.py) -----------------------
    def action_invoke(self) -> None:
        launchers.launch(self, "invoke")

    def action_invoke_async(self) -> None:
        launchers.launch(self, "invoke_async")

    def action_prewarm(self) -> None:
        launchers.launch(self, "prewarm")

    def action_dispatch(self) -> None:
        launchers.launch(self, "dispatch")

    def action_fuse(self) -> None:
        launchers.launch(self, "fuse")

    def action_unfuse(self) -> None:
        launchers.launch(self, "unfuse")

    def action_optimize(self) -> None:
        launchers.launch(self, "optimize")

    def action_scale(self) -> None:
        launchers.launch(self, "scale")

    def action_deploy(self) -> None:
        launchers.launch(self, "deploy")

    def action_remove(self) -> None:
        launchers.launch(self, "remove")

    def action_bench(self) -> None:
        launchers.launch(self, "bench")

    # ---- the views: Enter on a row, y, l -----------------------------------------------
    def action_describe(self) -> None:
        launchers.open_row(self, "describe")

    def action_yaml(self) -> None:
        launchers.open_row(self, "yaml")

    def action_logs(self) -> None:
        launchers.open_logs(self)

    def open_logs_of(self, function: str) -> None:
        """A view's ``l``: the log of ``function``."""
        launchers.open_logs(self, function)

    def launch_for(self, verb: str, **preset) -> None:
        """A view's action key: ``verb``'s dialog with ``preset`` filled in."""
        launchers.launch(self, verb, **preset)

    def logs_unavailable_reason(self) -> str | None:
        if Capability.LOGS not in self.capabilities:
            return f"the {self.backend_class.name} backend cannot show logs"
        return None

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.screen is self.screen_stack[0]:
            launchers.open_row(self, "describe")

    @on(Tree.NodeSelected)
    def _tree_node_selected(self, event) -> None:
        event.stop()
        if self.screen is self.screen_stack[0]:
            launchers.open_row(self, "describe")

    def do_action(self, action: str) -> None:
        """Run a dashboard action by name (palette, command bar), saying why if it cannot."""
        reason = self.unavailable_reason(action) if action in MUTATING else None
        if reason:
            self.notify(f"{action}: {reason}", severity="warning")
            return
        getattr(self, f"action_{action}")()

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

    # ---- the other keys --------------------------------------------------------------
    def action_mark(self) -> None:
        pane = self.selection.focused_pane()
        if isinstance(pane, PlacementPane):
            key = pane.table.cursor_key()
            if key:
                pane.toggle_mark(key)
                pane.badge(self.options.clock())

    def action_refresh(self) -> None:
        self.fetch_snapshot()

    def action_help(self) -> None:
        launchers.open_help(self)

    def action_restore(self) -> None:
        if self.command_bar.visible:
            self.command_bar.hide()
        else:
            self.screen.minimize()

    def action_filter(self) -> None:
        self.command_bar.open_filter()

    def action_command_bar(self) -> None:
        self.command_bar.open_command()

    @on(Input.Submitted, "#prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.command_bar.submitted(event.value)

    def action_save(self) -> None:
        """Save a screenshot (SVG) and the focused table (CSV and JSON)."""
        from .export import save_view  # deferred, as the two below: not needed for the first frame

        self.saved = save_view(self)

    # ---- switching: context, theme, view ---------------------------------------------
    def switch_context(self, name: str) -> None:
        from .contexts import switch_context

        switch_context(self, name)

    def switch_namespace(self, name: str) -> None:
        from .contexts import switch_namespace

        switch_namespace(self, name)

    def switch_theme(self, name: str) -> bool:
        return self.themes.switch(name)

    def show_view(self, part: str) -> None:
        self.command_bar.show_view(part)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from .command_palette import dashboard_commands

        yield from super().get_system_commands(screen)
        yield from dashboard_commands(self)

    # ---- focus tracking, shutdown ----------------------------------------------------
    def on_descendant_focus(self, event) -> None:
        if self.screen_stack:  # not while the app is shutting down (no screen to ask)
            self.selection.focus_changed()

    async def on_unmount(self) -> None:
        await self.poller.drop_backend()


def run(
    context: str | None = None,
    *,
    readonly: bool = False,
    theme: str | None = None,
    background: Callable[[Backend], Awaitable[Any]] | None = None,
    make_backend: Callable[[], Backend] | None = None,
    interval: float | None = None,
    label: str | None = None,
    view: str | None = None,
    save_dir: str | None = None,
    remember_theme: bool = True,
    start_context=None,
    namespace: str | None = None,
) -> int:
    """Open the dashboard on ``context`` (default: the current one). Returns the exit code.

    The config's ``readonly``, ``refresh_s``, ``default_view`` and ``keymap`` apply where
    the arguments leave them (``--readonly`` only ever adds read-only). ``remember_theme``
    False (``faastui demo``) keeps a ``:theme`` switch out of the user's config.
    ``start_context`` is the context (a ``faastui.config.Context``) when it is not one of the
    config's (``-g URL``); ``namespace`` the ``-n`` it works in.
    """
    import sys

    from ..config import load_config, resolve_context
    from .contexts import namespace_backends
    from .options import from_config

    try:
        cfg = load_config()
        ctx = start_context or resolve_context(context, cfg)
        app = Dashboard(
            make_backend or ctx.build_backend,
            from_config(
                cfg,
                label or ctx.name,
                readonly=readonly,
                theme=theme,
                interval=interval,
                view=view,
                save_dir=save_dir,
                remember_theme=remember_theme,
                background=background,
                namespace=namespace,
                make_namespace_backend=namespace_backends(ctx),
            ),
        )
    except BackendError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    result = app.run()
    return int(result or 0)
