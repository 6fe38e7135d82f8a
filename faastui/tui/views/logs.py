"""``l``: a function's log, followed as it grows (k9s's log view).

The lines come from ``Backend.follow_logs`` (an async iterator: the engine's cursor, or
polling, or a backend's own stream) in a worker that posts them as ``LinesArrived``; the
view keeps the last ``KEEP`` and shows those that pass its settings:

- ``f`` follow: new lines appear and the view stays at the end; off, the view holds
  still (lines still arrive and show when follow is back on);
- ``/`` filter: a regex (``!`` negates) over the text; empty clears;
- ``w`` wrap long lines; ``t`` timestamps; ``i`` one instance (replica, container) at a
  time, then all again (a ``[instance]`` prefix shows whose line it is);
- ``c`` copies the shown lines, ctrl+s saves them; escape goes back.
"""

from __future__ import annotations

import re
from collections import deque

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, RichLog, Static

from backends.errors import BackendError
from backends.model import LogLine

from ...logtext import plain
from ..table import compile_filter

__all__ = ["LogScreen", "KEEP", "TAIL"]

KEEP = 5000  # lines kept in the view
TAIL = 200  # lines of the past shown when the view opens


class LogScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "back", "Back", id="back"),
        Binding("f", "toggle('follow')", "Follow", id="follow"),
        Binding("slash", "filter", "Filter", id="log_filter"),
        Binding("w", "toggle('wrap')", "Wrap", id="wrap"),
        Binding("t", "toggle('timestamps')", "Times", id="timestamps"),
        Binding("i", "next_instance", "Instance", id="instance"),
        Binding("c", "copy", "Copy", id="copy"),
        Binding("ctrl+s", "save", "Save", id="save"),
    ]
    DEFAULT_CSS = """
    LogScreen #log-head { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    LogScreen #log { border: round $accent; background: $surface; height: 1fr; }
    LogScreen #log-filter { display: none; height: 1; border: none; padding: 0 1;
                            background: $boost; }
    LogScreen #log-filter.-visible { display: block; }
    """

    class LinesArrived(Message):
        def __init__(self, lines: list[LogLine]):
            super().__init__()
            self.lines = lines

    class Stopped(Message):
        def __init__(self, error: str):
            super().__init__()
            self.error = error

    def __init__(self, function: str, backend, *, tail: int = TAIL, clock=None):
        super().__init__()
        self.function = function
        self.backend = backend
        self.tail = tail
        self.lines: deque[LogLine] = deque(maxlen=KEEP)
        self.follow = True
        self.wrap = False
        self.timestamps = False
        self.instance: str | None = None
        self.instances: list[str] = []
        self.filter_text = ""
        self._predicate = None
        self.error: str | None = None
        self.received = 0  # lines that arrived (tests wait on it)
        self.saved = None

    def compose(self) -> ComposeResult:
        yield Static(id="log-head")
        yield RichLog(id="log", wrap=False, markup=False, highlight=False, max_lines=KEEP)
        yield Input(id="log-filter", placeholder="filter: regex, !regex negates, empty clears")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#log", RichLog).border_title = f"logs {self.function}"
        self._head()
        self._follow()

    # ---- the lines ------------------------------------------------------------------------
    @work(exclusive=True, group="logs", exit_on_error=False)
    async def _follow(self) -> None:
        try:
            async for line in self.backend.follow_logs(self.function, self.tail):
                self.post_message(self.LinesArrived([line]))
        except BackendError as exc:
            self.post_message(self.Stopped(str(exc)))

    def on_log_screen_lines_arrived(self, msg: LinesArrived) -> None:
        log = self.query_one("#log", RichLog)
        for line in msg.lines:
            self.lines.append(line)
            self.received += 1
            if line.instance and line.instance not in self.instances:
                self.instances.append(line.instance)
                self.instances.sort()
                if len(self.instances) == 2 and self.instance is None:
                    self._rewrite()  # a second instance: every line gets its [instance] now
                    continue
            if self.follow and self._shows(line):
                log.write(self._text(line), scroll_end=True, expand=True)
        self._head()

    def on_log_screen_stopped(self, msg: Stopped) -> None:
        self.error = msg.error
        self.query_one("#log", RichLog).write(f"(the log stopped: {msg.error})")
        self._head()

    def shown(self) -> list[str]:
        """The lines the view shows now, as text (what ``c`` copies)."""
        return [self._text(ln) for ln in self.lines if self._shows(ln)]

    def _shows(self, line: LogLine) -> bool:
        if self.instance is not None and line.instance != self.instance:
            return False
        return self._predicate is None or self._predicate([line.text])

    def _text(self, line: LogLine) -> str:
        return plain(line, self.timestamps, prefix=self.instance is None and len(self.instances) > 1)

    def _rewrite(self) -> None:
        log = self.query_one("#log", RichLog)
        log.wrap = self.wrap
        log.clear()
        for text in self.shown():
            log.write(text, scroll_end=self.follow, expand=True)
        self._head()

    def _head(self) -> None:
        shown = sum(1 for ln in self.lines if self._shows(ln))
        parts = [
            self.function,
            f"instance {self.instance or 'all'}" + (f" of {len(self.instances)}" if self.instances else ""),
            "following" if self.follow else "paused (f follows)",
            f"{shown}/{len(self.lines)} lines",
        ]
        if self.filter_text:
            parts.append(f"/{self.filter_text}")
        if self.wrap:
            parts.append("wrap")
        if self.timestamps:
            parts.append("timestamps")
        if self.error:
            parts.append(f"stopped: {self.error}")
        self.query_one("#log-head", Static).update(" · ".join(parts))

    # ---- the keys -------------------------------------------------------------------------
    def action_toggle(self, setting: str) -> None:
        setattr(self, setting, not getattr(self, setting))
        self._rewrite()

    def action_next_instance(self) -> None:
        choices = [None, *self.instances]
        self.instance = choices[(choices.index(self.instance) + 1) % len(choices)] if self.instance in choices else None
        self._rewrite()

    def action_filter(self) -> None:
        box = self.query_one("#log-filter", Input)
        box.value = self.filter_text
        box.add_class("-visible")
        box.focus()

    @on(Input.Submitted, "#log-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.set_filter(event.value)
        self._close_filter()

    def set_filter(self, text: str) -> None:
        try:
            self._predicate = compile_filter(text)
        except re.error as exc:
            self.notify(f"bad filter {text!r}: {exc}", severity="error")
            return
        self.filter_text = text.strip()
        self._rewrite()

    def _close_filter(self) -> None:
        box = self.query_one("#log-filter", Input)
        box.remove_class("-visible")
        self.query_one("#log", RichLog).focus()

    def action_back(self) -> None:
        box = self.query_one("#log-filter", Input)
        if box.has_class("-visible"):
            self._close_filter()
            return
        self.dismiss(None)

    def action_copy(self) -> None:
        text = "\n".join(self.shown()) + "\n"
        self.app.copy_to_clipboard(text)
        self.notify(
            f"copied {len(self.shown())} lines through the terminal (OSC 52); a "
            "terminal without OSC 52 ignores it — ctrl+s saves them to a file",
            timeout=6,
        )

    def action_save(self) -> None:
        from ..export import save_text  # deferred: only a save needs it

        self.saved = save_text(self.app, f"logs-{self.function}.log", "\n".join(self.shown()) + "\n")
