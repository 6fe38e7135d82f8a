"""The dashboard's poll: one ``snapshot()`` per tick in a worker, the timer re-armed after
each answer, paused behind a dialog.

``Poller.fetch()`` runs one poll in an async worker (``group="poll"``, exclusive) that
never touches a widget: it posts ``SnapshotFetched`` (the snapshot, plus the engine's
new events and latest finished calls where the backend has them) or ``SnapshotFailed``
to the app, whose handlers show the result and call ``arm()`` for the next tick. So a
slow backend delays the next tick instead of piling calls up, and a timeout turns into
an error badge while the last good data stays on screen. An unreachable backend is
closed and built again on the next tick (the engine may come back elsewhere).

The first poll starts before the panes exist (``fetch_early``, from the app's
``on_load``), so the backend answers while the app composes and mounts; an answer that
comes before the panes are mounted is kept and shown from ``on_mount`` (``mounted``),
before the screen's first layout. The first frame then shows the data, instead of a
frame of empty panes drawn first and the whole screen again a moment later
(bench/tui.py: the empty frame cost about a tenth of the time to first frame).
"""

from __future__ import annotations

import asyncio

from textual.message import Message

from backends.base import Capability
from backends.errors import BackendError, Unreachable
from backends.model import Snapshot

__all__ = ["Poller", "SnapshotFetched", "SnapshotFailed", "part_errors", "CALLS_PER_TICK"]

#: finished calls fetched per poll for the Events pane (under load, the latest of them)
CALLS_PER_TICK = 20

#: a ``Snapshot.errors`` entry starts with the part it concerns ("node ...: ...")
_ERROR_PARTS = {
    "node": "nodes",
    "placement": "placements",
    "queue": "queues",
    "qos": "qos",
    "fusion": "fusion_groups",
    "function": "placements",
}


class SnapshotFetched(Message, namespace="dashboard"):
    """A poll answered (handled by ``Dashboard.on_dashboard_snapshot_fetched``)."""

    def __init__(self, snapshot: Snapshot, events: list[dict], calls: list | None = None):
        super().__init__()
        self.snapshot = snapshot
        self.events = events
        self.calls = calls or []  # the latest finished calls, newest first


class SnapshotFailed(Message, namespace="dashboard"):
    """A poll failed or timed out; ``error`` is the one line to show."""

    def __init__(self, error: str):
        super().__init__()
        self.error = error


def part_errors(snap: Snapshot) -> dict[str, str]:
    """The pane part each of ``snap.errors`` concerns -> that error (a partial snapshot)."""
    out: dict[str, str] = {}
    for err in snap.errors:
        head = err.split(":", 1)[0].strip().lower()
        for prefix, part in _ERROR_PARTS.items():
            if head.startswith(prefix):
                out[part] = err
    return out


class Poller:
    """The poll of one dashboard: its timer, its worker, and what it remembers between ticks
    (the newest engine event seen). It asks for events and calls only of a backend whose
    capabilities have EVENTS and HISTORY."""

    def __init__(self, app):
        self.app = app
        self.timer = None
        self.events_since = 0.0
        self.ready = True  # whether answers are posted (False: kept in ``early``)
        self.early: Message | None = None  # an answer that came before the panes were mounted
        self.focus: list[str] = []  # the placement rows on screen when the poll began

    def fetch_early(self):
        """The first poll, before the panes are mounted: its answer waits for ``mounted``."""
        self.ready = False
        return self.fetch()

    def mounted(self) -> Message | None:
        """The panes are mounted: answers are posted from now on. Returns: the answer that
        came before (a SnapshotFetched or SnapshotFailed, for the caller to show), or None."""
        self.ready = True
        early, self.early = self.early, None
        return early

    def _answer(self, msg: Message) -> None:
        if self.ready:
            self.app.post_message(msg)
        else:
            self.early = msg

    def arm(self) -> None:
        """Schedule the next poll one interval from now."""
        if self.timer is not None:
            self.timer.stop()
        self.timer = self.app.set_timer(self.app.options.poll_interval, self._tick)

    def _tick(self) -> None:
        self.timer = None
        if len(self.app.screen_stack) > 1:  # paused behind a dialog
            self.arm()
            return
        self.fetch()

    def fetch(self):
        """Poll now (a poll still running is cancelled). Returns: the Worker."""
        pane = self.app.panes.get("placements")
        self.focus = pane.table.visible_keys() if pane is not None and pane.is_mounted else []
        return self.app.run_worker(
            self._fetch, name="fetch_snapshot", group="poll", exclusive=True, exit_on_error=False
        )

    async def _fetch(self) -> None:
        """One poll: snapshot (+ the engine's new events when it has them). Never touches widgets."""
        app, options = self.app, self.app.options
        name = app.backend_class.name
        try:
            if app.backend is None:
                app.backend = app.make_backend()
            backend = app.backend
            backend.focus(self.focus)  # the functions on screen: a cluster reads their pods first
            snap = await asyncio.wait_for(backend.snapshot(), options.poll_timeout)
            events: list[dict] = []
            calls: list = []
            if options.engine_events and Capability.EVENTS in backend.capabilities:
                try:
                    events = await asyncio.wait_for(backend.events(self.events_since), 2.0)
                except (BackendError, TimeoutError):
                    events = []
            if options.engine_events and Capability.HISTORY in backend.capabilities:
                try:
                    calls = await asyncio.wait_for(backend.invocations(CALLS_PER_TICK), 2.0)
                except (BackendError, TimeoutError):
                    calls = []
        except TimeoutError:
            self._answer(SnapshotFailed(f"the {name} backend did not answer within {options.poll_timeout:g}s"))
        except BackendError as exc:
            if isinstance(exc, Unreachable):
                await self.drop_backend()  # rebuilt next tick: the engine may come back elsewhere
            self._answer(SnapshotFailed(str(exc)))
        else:
            self._answer(SnapshotFetched(snap, events, calls))

    def saw_events(self, events: list[dict]) -> None:
        """The next poll asks only for events after these."""
        if events:
            self.events_since = max(float(e.get("t", 0)) for e in events)

    async def drop_backend(self) -> None:
        """Close the app's backend (it is built again on the next poll)."""
        backend, self.app.backend = self.app.backend, None
        if backend is not None:
            try:
                await backend.aclose()
            except Exception:  # noqa: BLE001 - closing a dead connection must not matter
                pass
