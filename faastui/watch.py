"""Watch mode: refresh a view in place with rich Live, without a full screen.

``faastui watch`` shows nodes, placements, queues, QoS and fusion groups from
one ``snapshot()`` per tick; ``-w/--watch`` on a read command refreshes that
read. When the backend drops, the last good data stays on screen with its age
and the error; an unreachable backend is rebuilt from its context on the next
tick, so a restarted local engine (even on a new port) is picked up again.
Ctrl-C exits cleanly with code 0. Never imports textual.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from backends.errors import BackendError, Unreachable

from .output import Format, age_text, dump, no_color, render, stdout_console, table_for

__all__ = ["Poller", "snapshot_view", "watch_read", "watch_snapshot"]

Fetch = Callable[[Any], Awaitable[Any]]


class Poller:
    """Fetches with a backend it (re)builds on demand; remembers the last good data."""

    def __init__(self, make_backend: Callable[[], Any], fetch: Fetch):
        self.make_backend = make_backend
        self.fetch = fetch
        self.backend = None
        self.data: Any = None
        self.ok_at: float | None = None
        self.error: BackendError | None = None
        self.ticks = 0

    async def tick(self) -> bool:
        """Fetch once. Returns True on success; the error is kept in ``self.error``."""
        self.ticks += 1
        try:
            if self.backend is None:
                self.backend = self.make_backend()
            self.data = await self.fetch(self.backend)
        except BackendError as exc:
            self.error = exc
            if isinstance(exc, Unreachable):
                await self.close()  # rebuild next time: the engine may come back elsewhere
            return False
        self.ok_at = time.time()
        self.error = None
        return True

    async def close(self) -> None:
        if self.backend is not None:
            backend, self.backend = self.backend, None
            try:
                await backend.aclose()
            except Exception:  # closing a dead connection must not stop the watch
                pass

    def status_line(self, title: str):
        from rich.text import Text

        line = Text()
        line.append(title, style=None if no_color() else "bold")
        line.append(f"  updated {age_text(self.ok_at)}  ({time.strftime('%H:%M:%S')})")
        if self.error is not None:
            line.append("\n")
            err = f"error: {self.error.message}"
            if self.error.hint:
                err += f" ({self.error.hint})"
            line.append(err, style=None if no_color() else "bold red")
            if self.ok_at is not None:
                line.append(f"\nshowing data from {age_text(self.ok_at)}", style=None if no_color() else "yellow")
        return line


def snapshot_view(poller: Poller, title: str = "faastui watch"):
    """The renderable of ``faastui watch``: status line, then one table per part."""
    from rich.console import Group
    from rich.text import Text

    from backends.model import FusionGroup, Node, Placement, QoSStat, QueueStat

    parts: list = [poller.status_line(title)]
    snap = poller.data
    if snap is not None:
        placements = [p for p in snap.placements if p.state != "cold"]
        for items, kind, name in (
            (snap.nodes, Node, "Nodes"),
            (placements, Placement, "Placement"),
            (snap.queues, QueueStat, "Queues"),
            (snap.qos, QoSStat, "QoS"),
            (snap.fusion_groups, FusionGroup, "Fusion groups"),
        ):
            if items:
                parts.append(table_for(items, kind, title=f"{name} ({len(items)})"))
            else:
                parts.append(Text(f"{name}: none", style=None if no_color() else "dim"))
        if snap.errors:
            parts.append(Text("partial: " + "; ".join(snap.errors), style=None if no_color() else "yellow"))
    return Group(*parts)


async def _loop(poller: Poller, show: Callable[[], None], interval: float, once: bool) -> int:
    try:
        while True:
            started = time.monotonic()
            ok = await poller.tick()
            show()
            if once:
                if ok or poller.error is None:
                    return 0 if ok else 1
                print(f"error: {poller.error.message}", file=sys.stderr)
                if poller.error.hint:
                    print(f"hint: {poller.error.hint}", file=sys.stderr)
                return poller.error.exit_code
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        await poller.close()


def _run_live(poller: Poller, view: Callable[[], Any], interval: float, once: bool) -> int:
    from rich.live import Live

    console = stdout_console()
    if once or not console.is_terminal:
        # no cursor tricks on a pipe: print each frame (or the only one)
        def show():
            console.print(view())

        return _run(_loop(poller, show, interval, once))
    with Live(
        console=console,
        auto_refresh=False,
        transient=False,
        redirect_stdout=False,
        redirect_stderr=False,
        vertical_overflow="visible",
    ) as live:

        def show():
            live.update(view(), refresh=True)

        return _run(_loop(poller, show, interval, once))


def _run(coro) -> int:
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:  # Ctrl-C is how a watch ends
        return 0


def watch_snapshot(
    make_backend: Callable[[], Any],
    interval: float = 2.0,
    once: bool = False,
    output: Format = Format.table,
    title: str = "faastui watch",
) -> int:
    """``faastui watch``. Returns the exit code."""
    poller = Poller(make_backend, lambda b: b.snapshot())
    if output in (Format.json, Format.yaml):
        return _run(_loop(poller, lambda: _print_doc(poller, output), interval, once))
    return _run_live(poller, lambda: snapshot_view(poller, title), interval, once)


def watch_read(
    make_backend: Callable[[], Any],
    fetch: Fetch,
    output: Format,
    interval: float,
    kind: type | None = None,
    once: bool = False,
) -> int:
    """``-w/--watch`` on a read command. Returns the exit code."""
    poller = Poller(make_backend, fetch)
    if output in (Format.json, Format.yaml):
        return _run(_loop(poller, lambda: _print_doc(poller, output), interval, once))

    def view():
        from rich.console import Group

        parts = [poller.status_line("faastui")]
        if poller.data is not None:
            out = render(poller.data, output, kind)
            parts.append(out)
        return Group(*parts)

    return _run_live(poller, view, interval, once)


def _print_doc(poller: Poller, output: Format) -> None:
    """JSON/YAML watch: one document per successful tick, errors on stderr."""
    if poller.error is not None:
        print(f"error: {poller.error.message} (last data {age_text(poller.ok_at)})", file=sys.stderr, flush=True)
        return
    text = dump(poller.data, output)
    sys.stdout.write(text if output == Format.json else "---\n" + text)
    sys.stdout.flush()
