"""Enter on a row: the object's view — its describe (``faastui.describe``, the same the CLI
prints), ``y`` its YAML, ``j`` its JSON, ``c`` copies what is shown, ``l`` a function's
log, ``b`` a bench of it, ``r`` fetches it afresh, ctrl+s saves it, escape goes back.

The view opens at once with what the last snapshot says, then fetches the object from
the backend in a worker (a function's latest calls are not in the snapshot). ``c`` copies
through the terminal (Textual's ``copy_to_clipboard``, the OSC 52 escape sequence): a
terminal without OSC 52 (or tmux without ``set-clipboard on``) ignores it and nothing
reaches the clipboard, with no error to report — the notice says so, and ctrl+s saves the
same text to a file.
"""

from __future__ import annotations

import json

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from backends.errors import BackendError

from ... import describe
from ...describe import Description

__all__ = ["DetailScreen", "document_text", "MODES"]

MODES = ("describe", "yaml", "json")
#: kinds the backend can be asked about afresh (the others live only in the snapshot)
_FETCHED = ("function", "node", "queue", "fusion_group")


def document_text(desc: Description, mode: str) -> str:
    """What the view shows in ``mode``: the describe text, or the object as YAML or JSON."""
    if mode == "yaml":
        import yaml  # deferred: only the YAML view needs it

        return yaml.safe_dump(desc.fields, sort_keys=False, allow_unicode=True)
    if mode == "json":
        return json.dumps(desc.fields, indent=2, default=str) + "\n"
    return desc.to_text()


def _styled(desc: Description) -> Text:
    text = Text()
    for part, line in desc.lines():
        style = "bold" if part in ("title", "header") else "dim" if part == "note" else ""
        if part == "row" and ":" in line:
            key, _, rest = line.partition(":")
            text.append(key + ":", style="bold")
            text.append(rest + "\n")
            continue
        text.append(line + "\n", style=style)
    return text


def describe_row(row, snap) -> Description | None:
    """A row's description from the snapshot alone (what the view shows first)."""
    obj = row.obj
    if obj is None:
        return None
    if row.kind == "function":
        return describe.function(obj, snap)
    if row.kind == "node":
        return describe.node(obj, snap)
    if row.kind == "queue":
        return describe.queue(obj)
    if row.kind == "fusion_group":
        return describe.fusion_group(obj, snap)
    if row.kind == "qos":
        return describe.qos(obj)
    return describe.event(obj)


class DetailScreen(Screen[None]):
    """One object: describe / YAML / JSON of it, copy, logs, bench."""

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="back"),
        Binding("d", "mode('describe')", "Describe", id="describe"),
        Binding("y", "mode('yaml')", "YAML", id="yaml"),
        Binding("j", "mode('json')", "JSON", id="json"),
        Binding("c", "copy", "Copy", id="copy"),
        Binding("l", "logs", "Logs", id="logs"),
        Binding("b", "bench", "Bench", id="bench"),
        Binding("r", "refresh", "Refresh", id="refresh"),
        Binding("ctrl+s", "save", "Save", id="save"),
    ]
    DEFAULT_CSS = """
    DetailScreen #document-box { border: round $accent; border-title-color: $accent;
                                 border-title-style: bold; border-subtitle-color: $text-muted;
                                 background: $surface; height: 1fr; padding: 0 1; }
    """

    class Fetched(Message):
        def __init__(self, desc: Description | None, error: str | None = None):
            super().__init__()
            self.desc, self.error = desc, error

    def __init__(self, row, desc: Description, backend, mode: str = "describe"):
        super().__init__()
        self.row = row
        self.desc = desc
        self.backend = backend
        self.mode = mode if mode in MODES else "describe"
        self.fetches = 0  # answers applied (tests wait on it)
        self.saved = None  # the file of the last ctrl+s

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="document-box"):
            yield Static(id="document")
        yield Footer()

    def on_mount(self) -> None:
        self.show()
        self.action_refresh()

    # ---- showing ------------------------------------------------------------------------
    def text(self) -> str:
        """The document as shown, as plain text (what ``c`` copies and ctrl+s saves)."""
        return document_text(self.desc, self.mode)

    def show(self) -> None:
        box = self.query_one("#document-box")
        box.border_title = f"{self.desc.kind} {self.desc.name}"
        box.border_subtitle = {
            "describe": "describe · y yaml · j json · c copy",
            "yaml": "yaml · d describe · j json · c copy",
            "json": "json · d describe · y yaml · c copy",
        }[self.mode]
        body = _styled(self.desc) if self.mode == "describe" else Text(self.text())
        self.query_one("#document", Static).update(body)

    def action_mode(self, mode: str) -> None:
        self.mode = mode
        self.show()

    def check_action(self, action: str, parameters) -> bool | None:
        """``l`` and ``b`` are for functions; greyed where the backend cannot, hidden by
        ``--readonly`` (a bench calls the function)."""
        if action not in ("logs", "bench"):
            return True
        if self.row.kind != "function":
            return False
        app = self.app
        if action == "logs":
            return None if app.logs_unavailable_reason() else True
        if app.readonly:
            return False
        return None if app.unavailable_reason("bench") else True

    # ---- fetching -----------------------------------------------------------------------
    def action_refresh(self) -> None:
        if self.row.kind in _FETCHED:
            self._fetch()

    @work(exclusive=True, group="detail", exit_on_error=False)
    async def _fetch(self) -> None:
        try:
            desc = await describe.gather(self.backend, self.row.kind, self.row.name)
        except BackendError as exc:
            self.post_message(self.Fetched(None, str(exc)))
        else:
            self.post_message(self.Fetched(desc))

    def on_detail_screen_fetched(self, msg: Fetched) -> None:
        self.fetches += 1
        if msg.desc is not None:
            self.desc = msg.desc
            self.show()
        else:
            self.notify(f"{self.row.name}: {msg.error}", severity="warning")

    # ---- the keys -----------------------------------------------------------------------
    def action_back(self) -> None:
        self.dismiss(None)

    def action_copy(self) -> None:
        text = self.text()
        self.app.copy_to_clipboard(text)
        what = {"describe": "describe", "yaml": "YAML", "json": "JSON"}[self.mode]
        self.notify(
            f"copied the {what} of {self.desc.name} ({len(text.splitlines())} lines) "
            "through the terminal (OSC 52); a terminal without OSC 52 ignores it — "
            "ctrl+s saves it to a file",
            timeout=6,
        )

    def action_save(self) -> None:
        from ..export import save_text  # deferred: only a save needs it

        ext = {"describe": "txt", "yaml": "yaml", "json": "json"}[self.mode]
        self.saved = save_text(self.app, f"{self.desc.kind.lower()}-{self.desc.name}.{ext}", self.text())

    def action_logs(self) -> None:
        self.app.open_logs_of(self.row.name)  # the app's launchers open views: no import back

    def action_bench(self) -> None:
        self.app.launch_for("bench", function=self.row.name)
