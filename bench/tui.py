"""Dashboard benchmark: a generated cluster of 1,000 nodes, 200 functions, 5,000 placements
and 100 queues, fed to the real Dashboard (headless) through a fixed-data backend.

Prints:
- time to first frame: the app starting until the first snapshot is applied and
  the screen has rendered it (in this process), plus the import cost of textual
  and faastui.tui measured in a fresh interpreter; and exec in a pty until the data is
  on screen, wall time and the CPU time the process used until then;
- the median time to apply a new snapshot with 10% of the cells changed (the
  diffed, in-place path every refresh takes);
- the median time of a full rebuild of the same data (tables cleared and rows
  re-added, what a naive refresh does), and the ratio;
- peak memory (max RSS) of the process.

In the pty, the dashboard loads the generated snapshot from a pickle the parent wrote
(inside the measured time, as a backend decodes its answer) rather than generating it:
the bench's random draws are no part of the dashboard.

The pty figure is also given for two bare Textual apps started the same way,
interleaved, as this machine's floor at that moment: the small one (header, six
DataTables of 20 rows stacked, footer: three of them on screen, 5 narrow columns each,
about half the cells the dashboard draws), and one drawing the dashboard's screen with
stock widgets (header, the same 2 x 3 grid of bordered panes, five DataTables with the
dashboard's columns and as many rows as the terminal is tall, a tree in the sixth, a
status line, a footer with as many keys: the same rows and cells on screen).

Goals (issue #4): first frame <= 1.0 s, incremental <= 30 ms median and >= 5x
faster than a rebuild, memory <= 300 MB; (issue #14) the first frame within 1.3x of the
bare floor. A warning says when the project's bytecode is stale (``make bytecode``): with
PYTHONDONTWRITEBYTECODE=1 every start would otherwise compile the edited modules, which
the floors (Textual, installed with its bytecode) never do.
Usage: ``python bench/tui.py [--rounds N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import resource
import statistics
import subprocess
import sys
import time

from backends.base import Backend, Capability
from backends.model import Function, FusionGroup, Node, Placement, QoSStat, QueueStat, Snapshot

N_NODES, N_FUNCTIONS, N_PLACEMENTS, N_QUEUES = 1000, 200, 5000, 100
STATES = ("cold", "prewarm", "warm", "busy")


def generate(seed: int = 1) -> Snapshot:
    rng = random.Random(seed)
    r, u = rng.randrange, rng.uniform
    nodes = [
        Node(
            f"node-{i:04d}",
            f"10.0.{i // 250}.{i % 250}",
            True,
            8,
            16384,
            round(u(0, 8), 1),
            round(u(0, 16384)),
            {"zone": f"z{i % 4}"},
            32,
            r(32),
        )
        for i in range(N_NODES)
    ]
    functions = [Function(f"fn-{i:03d}", replicas=r(3)) for i in range(N_FUNCTIONS)]
    seen: set[tuple[str, str, str]] = set()
    placements = []
    while len(placements) < N_PLACEMENTS:
        key = (f"fn-{r(N_FUNCTIONS):03d}", f"node-{r(N_NODES):04d}", rng.choice(STATES))
        if key in seen:
            continue
        seen.add(key)
        placements.append(Placement(*key, count=0 if key[2] == "cold" else rng.randint(1, 4)))
    queues = [QueueStat(f"queue-{i:03d}", r(500), r(20), u(0, 100), u(0, 100), u(0, 30)) for i in range(N_QUEUES)]
    qos = [
        QoSStat(f.name, 60, r(1000), r(5), u(0.2, 2), u(2, 20), u(20, 80), 90, 100, rng.random() / 10)
        for f in functions
    ]
    groups = [
        FusionGroup(
            f"group-{i}",
            [f"fn-{2 * i:03d}", f"fn-{2 * i + 1:03d}"],
            f"node-{i:04d}",
            "warm",
            rng.randrange(100),
            rng.randrange(10),
        )
        for i in range(10)
    ]
    return Snapshot(nodes, functions, placements, queues, qos, groups, taken_at=time.time())


def mutate(snap: Snapshot, rng: random.Random, share: float = 0.10) -> Snapshot:
    """A new snapshot with ``share`` of the rows/cells of each part changed."""

    def some(items, change):
        items = list(items)
        for i in rng.sample(range(len(items)), int(len(items) * share)):
            items[i] = change(items[i])
        return items

    return dataclasses.replace(
        snap,
        nodes=some(
            snap.nodes,
            lambda n: dataclasses.replace(n, used_cpus=round(rng.uniform(0, 8), 1), containers=rng.randrange(32)),
        ),
        placements=some(
            snap.placements, lambda p: dataclasses.replace(p, count=(p.count % 4) + 1, state=rng.choice(STATES[1:]))
        ),
        queues=some(snap.queues, lambda q: dataclasses.replace(q, length=rng.randrange(500))),
        qos=some(snap.qos, lambda q: dataclasses.replace(q, count=q.count + 1, p95_ms=rng.uniform(2, 20))),
        taken_at=snap.taken_at + 1,
    )


class Generated(Backend):
    """Fixed-data backend serving the generated snapshot."""

    name = "bench"
    capabilities = Capability.INVOKE

    def __init__(self, snap: Snapshot):
        self.snap = snap

    async def snapshot(self) -> Snapshot:
        return self.snap


def child() -> None:
    """Run the dashboard on the generated data in this (pty) process until killed.

    The data comes the way a backend hands it over: decoded (unpickled from the file the
    parent wrote, ``BENCH_SNAPSHOT``), inside the measured time. Generating it here instead
    would add the bench's own random draws for 6,000 objects (~20 ms), which no backend
    makes and no floor pays; without the file (a start by hand) it is generated."""
    import os
    import pickle

    from faastui.tui.app import Dashboard

    path = os.environ.get("BENCH_SNAPSHOT")
    if path:
        with open(path, "rb") as f:
            snap = pickle.load(f)
    else:
        snap = generate()
    Dashboard(lambda: Generated(snap), interval=3600, remember_theme=False, engine_events=False).run()


def floor_child() -> None:
    """The reference: a bare Textual app (header, six 20-row DataTables, footer)."""
    from textual.app import App
    from textual.widgets import DataTable, Footer, Header

    class Bare(App):
        BINDINGS = [("i", "bell", "Invoke"), ("p", "bell", "Prewarm"), ("q", "quit", "Quit")]

        def compose(self):
            yield Header()
            for _ in range(6):
                yield DataTable()
            yield Footer()

        def on_mount(self):
            for i, table in enumerate(self.query(DataTable)):
                table.add_columns("a", "b", "c", "d", "e")
                table.add_rows([(f"node-{i}{j:03d}", "fn-000", "x", "y", "z") for j in range(20)])

    Bare().run()


def same_screen_spec() -> dict:
    """What the dashboard draws, for ``same_screen_child``: each table pane's column widths
    (the placement grid with its window of node columns) and how many keys its footer shows."""
    from faastui.tui.app import Dashboard
    from faastui.tui.cells import PLACEMENT_WIDTH
    from faastui.tui.panes import PANES, PlacementPane, TablePane

    tables = []
    for cls in PANES:
        if issubclass(cls, TablePane):
            widths = [w for _, _, w in cls.columns]
            if cls is PlacementPane:
                widths += [max(PLACEMENT_WIDTH, len("node-0000") + 1)] * cls.WINDOW
            tables.append(
                {
                    "widths": widths,
                    "rows": {
                        "nodes": N_NODES,
                        "placements": N_FUNCTIONS,
                        "queues": N_QUEUES,
                        "qos": N_FUNCTIONS,
                        "events": 1,
                    }[cls.part],
                }
            )
    keys = sum(1 for b in Dashboard.BINDINGS if b.show)
    return {"tables": tables, "keys": keys, "groups": 10}


def same_screen_child() -> None:
    """The reference drawing the dashboard's screen with stock Textual (no faastui import):
    the same layout, the same columns, as many rows as the terminal is tall in each table
    (what any of them can show), a tree of the fusion groups, a status line, the footer."""
    import json
    import os

    from textual.app import App
    from textual.containers import Container, Vertical
    from textual.widgets import DataTable, Footer, Header, Static, Tree

    spec = json.loads(os.environ["BENCH_SAME_SCREEN"])

    class SameScreen(App):
        CSS = """
        #panes { layout: grid; grid-size: 2 3; grid-columns: 9fr 11fr; grid-rows: 1fr 1fr 1fr;
                 height: 1fr; }
        #panes > Vertical { height: 1fr; border: round $primary 40%; }
        #panes DataTable, #panes Tree { height: 1fr; }
        #status { height: 1; }
        """
        BINDINGS = [(chr(ord("a") + i), f"key({i})", f"Key{i}") for i in range(spec["keys"] - 1)] + [
            ("q", "quit", "Quit")
        ]

        def action_key(self, i: int) -> None:
            self.bell()

        def compose(self):
            yield Header()
            with Container(id="panes"):
                for i in range(6):
                    box = Vertical()
                    box.border_title, box.border_subtitle = f"Pane {i}", "1000 · now"
                    with box:
                        if i == 4:
                            yield Tree("fusion groups")
                        else:
                            yield DataTable(cursor_type="row", cell_padding=0)
            yield Static("status", id="status")
            yield Footer()

        def on_mount(self):
            height = self.size.height
            tables = list(self.query(DataTable))
            for t, (table, pane) in enumerate(zip(tables, spec["tables"])):
                widths = pane["widths"]
                for c, width in enumerate(widths):
                    table.add_column(f"COL{c}"[:width], width=width)
                first = "node-0000" if t == 0 else "fn-000"
                table.add_rows(
                    [
                        (first if r == 0 else f"row-{t}-{r:03d}",) + tuple("x" * (w - 1) for w in widths[1:])
                        for r in range(min(pane["rows"], height))
                    ]
                )
            tree = self.query_one(Tree)
            tree.show_root = False
            for g in range(spec["groups"]):
                group = tree.root.add(f"group-{g}", expand=True)
                group.add_leaf(f"fn-{2 * g:03d} on node-{g:04d}")
                group.add_leaf(f"fn-{2 * g + 1:03d} on node-{g:04d}")

    SameScreen().run()


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, all its threads (Linux schedstat, in ns); NaN
    where the kernel does not say."""
    import glob

    total = 0
    try:
        for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
            with open(path) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return total / 1e9 if total else float("nan")


def pty_first_frame(timeout: float = 30.0, mode: str = "--child", snapshot: str = "") -> tuple[float, float]:
    """exec -> the generated data on screen, in a real pty (imports included).

    Returns: (wall seconds, CPU seconds the process used until then). The CPU figure moves
    far less with the machine's load than the wall one (which waits for the CPU as well)."""
    import json
    import os
    import pty
    import select
    import signal

    env = dict(os.environ, TERM="xterm-256color", COLUMNS="200", LINES="60", BENCH_SNAPSHOT=snapshot)
    env["BENCH_SAME_SCREEN"] = json.dumps(same_screen_spec())
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execve(sys.executable, [sys.executable, __file__, mode], env)
    seen = b""
    try:
        while time.perf_counter() - t0 < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
                if b"node-0000" in seen and b"fn-000" in seen:
                    return time.perf_counter() - t0, cpu_seconds(pid)
        raise RuntimeError("the dashboard never showed the data")
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)


def stale_bytecode() -> list[str]:
    """The project's sources whose bytecode is missing or older than them. With
    PYTHONDONTWRITEBYTECODE=1 (this CI) Python compiles those on every start, which an
    installed faastui never does: the first frame would include compiling them
    (``make bytecode`` writes it)."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    stale = []
    for package in ("faastui", "backends"):
        for src in sorted((root / package).rglob("*.py")):
            pyc = Path(importlib.util.cache_from_source(str(src)))
            if not pyc.exists() or pyc.stat().st_mtime < src.stat().st_mtime:
                stale.append(str(src.relative_to(root)))
    return stale


def import_cost() -> float:
    code = "import time; t=time.perf_counter(); import faastui.tui.app; print(time.perf_counter()-t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


async def bench(rounds: int) -> dict:
    from faastui.tui.app import Dashboard

    snap = generate()
    rng = random.Random(2)
    variants = [snap]
    for _ in range(rounds + 1):
        variants.append(mutate(variants[-1], rng))
    t0 = time.perf_counter()
    app = Dashboard(lambda: Generated(snap), interval=3600, remember_theme=False, engine_events=False)
    async with app.run_test(size=(200, 60)) as pilot:
        while app.refreshes < 1:
            await pilot.pause(0.01)
        first_frame = time.perf_counter() - t0  # data applied to every pane (headless)
        await pilot.pause()
        incremental, rebuild, cells = [], [], []
        incremental_cpu, rebuild_cpu = [], []  # CPU time (moves less with the machine's load)
        for v in variants[1 : rounds + 1]:
            before = sum(p.table.cells_updated for p in _tables(app))
            t, c = time.perf_counter(), time.thread_time()
            app.apply_snapshot(v)
            incremental.append(time.perf_counter() - t)
            incremental_cpu.append(time.thread_time() - c)
            cells.append(sum(p.table.cells_updated for p in _tables(app)) - before)
            await pilot.pause()
        for v in variants[1 : max(3, rounds // 3) + 1]:
            t, c = time.perf_counter(), time.thread_time()
            for pane in _tables(app):  # the naive refresh: clear and re-add every row
                pane.table.clear()
                pane.table.shown = {}
                pane.table.rows_all = {}
                pane.models = {}
            app.panes["placements"].counts = {}
            app.apply_snapshot(v)
            for pane in _tables(app):  # every row, not just the first screenful
                pane.table.fill_now()
            rebuild.append(time.perf_counter() - t)
            rebuild_cpu.append(time.thread_time() - c)
            await pilot.pause()
    return {
        "first_frame_s": first_frame,
        "incremental_ms": statistics.median(incremental) * 1000,
        "rebuild_ms": statistics.median(rebuild) * 1000,
        "incremental_cpu_ms": statistics.median(incremental_cpu) * 1000,
        "rebuild_cpu_ms": statistics.median(rebuild_cpu) * 1000,
        "cells_changed_per_refresh": statistics.median(cells),
    }


def _tables(app):
    from faastui.tui.panes import TablePane

    return [p for p in app.panes.values() if isinstance(p, TablePane) and p.part != "events"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=5, help="pty starts of each app (median)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--same-screen-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return 0
    if args.floor_child:
        floor_child()
        return 0
    if args.same_screen_child:
        same_screen_child()
        return 0
    stale = stale_bytecode()
    if stale:
        print(
            f"warning: {len(stale)} source files have stale or no bytecode ({', '.join(stale[:3])}"
            f"{', ...' if len(stale) > 3 else ''}): each start compiles them; `make bytecode` first"
        )
    import pickle
    import tempfile  # (here, not at the top: the floors' starts import this module too)

    imports = import_cost()
    runs = {"--child": [], "--floor-child": [], "--same-screen-child": []}
    with tempfile.NamedTemporaryFile(prefix="bench-tui-", suffix=".pickle") as data:
        pickle.dump(generate(), data)  # the dashboard's starts load it (``child``)
        data.flush()
        for _ in range(args.runs):  # interleaved, so all three see the same machine
            for mode, got in runs.items():
                got.append(pty_first_frame(mode=mode, snapshot=data.name))
    pty_frames = sorted(wall for wall, _ in runs["--child"])
    floor_s = statistics.median(wall for wall, _ in runs["--floor-child"])
    same_s = statistics.median(wall for wall, _ in runs["--same-screen-child"])
    cpu = {mode: statistics.median(c for _, c in got) for mode, got in runs.items()}
    res = asyncio.run(bench(args.rounds))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = res["rebuild_ms"] / res["incremental_ms"] if res["incremental_ms"] else float("inf")
    print(
        f"data: {N_NODES} nodes, {N_FUNCTIONS} functions, {N_PLACEMENTS} placements, "
        f"{N_QUEUES} queues; 10% changed per refresh "
        f"(~{res['cells_changed_per_refresh']:.0f} cells updated)"
    )
    print(f"import textual + faastui.tui (fresh interpreter): {imports * 1000:.0f} ms")
    pty_s = statistics.median(pty_frames)
    print(f"app start -> data in every pane (headless):        {res['first_frame_s'] * 1000:.0f} ms")
    print(
        f"time to first frame, exec in a pty -> data shown:  {pty_s * 1000:.0f} ms "
        f"(median of {args.runs}, range {pty_frames[0] * 1000:.0f}-{pty_frames[-1] * 1000:.0f})"
        f"   goal <= 1000 ms {'ok' if pty_s <= 1.0 else 'MISSED'}"
    )
    print(
        f"  reference, a bare Textual app (6 tables x 20 rows): {floor_s * 1000:.0f} ms"
        f"   dashboard / bare = {pty_s / floor_s:.2f}x   goal <= 1.3x "
        f"{'ok' if pty_s / floor_s <= 1.3 else 'MISSED'}"
    )
    print(
        f"  reference, stock Textual drawing the same screen:   {same_s * 1000:.0f} ms"
        f"   dashboard / same screen = {pty_s / same_s:.2f}x   goal <= 1.3x "
        f"{'ok' if pty_s / same_s <= 1.3 else 'MISSED'}"
    )
    dash_cpu, floor_cpu, same_cpu = (cpu[m] for m in runs)
    print(
        f"  CPU used until then, median: dashboard {dash_cpu * 1000:.0f} ms, bare "
        f"{floor_cpu * 1000:.0f} ms ({dash_cpu / floor_cpu:.2f}x), same screen "
        f"{same_cpu * 1000:.0f} ms ({dash_cpu / same_cpu:.2f}x)   (moves less with load)"
    )
    print(
        f"incremental refresh, median:                       {res['incremental_ms']:.1f} ms"
        f"   goal <= 30 ms {'ok' if res['incremental_ms'] <= 30 else 'MISSED'}"
    )
    print(
        f"full rebuild, median:                              {res['rebuild_ms']:.1f} ms"
        f"   ratio {ratio:.1f}x   goal >= 5x {'ok' if ratio >= 5 else 'MISSED'}"
    )
    cpu_ratio = res["rebuild_cpu_ms"] / res["incremental_cpu_ms"] if res["incremental_cpu_ms"] else 0
    print(
        f"  CPU time of the same, medians: incremental {res['incremental_cpu_ms']:.1f} ms, "
        f"rebuild {res['rebuild_cpu_ms']:.1f} ms, ratio {cpu_ratio:.1f}x   (moves less with load)"
    )
    print(
        f"peak memory (max RSS):                             {peak_mb:.0f} MB"
        f"   goal <= 300 MB {'ok' if peak_mb <= 300 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
