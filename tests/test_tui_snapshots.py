"""Snapshot tests (pytest-textual-snapshot) of the dashboard and of every dialog.

Rendering needs deterministic data, so these tests use a fixed-data backend:
``FixedBackend`` below returns the same ``Snapshot`` every time and never
runs anything (the real engine drives the key tests in test_tui_actions.py).
The clock is frozen so data-age badges read the same on every run.
Update the SVGs with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import pytest

from backends.base import Backend, Capability
from backends.model import Function, FusionGroup, Invocation, LogLine, Node, Placement, QoSStat, QueueStat, Snapshot
from faastui.tui.app import Dashboard

SIZE = (160, 46)
NOW = 1_700_000_003.0


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    """Event times are local times: pin the zone so the SVGs match everywhere."""
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def fixed_snapshot() -> Snapshot:
    nodes = [
        Node("edge-1", "10.0.0.1", True, 1, 512, 0.4, 180, {"zone": "edge"}, 6, 3),
        Node("edge-2", "10.0.0.2", True, 1, 512, 0.9, 470, {"zone": "edge"}, 6, 5),
        Node("core-1", "10.0.0.3", True, 2, 2048, 0.3, 400, {"zone": "core"}, 16, 4),
        Node("core-2", "10.0.0.4", False, 2, 2048, 0, 0, {"zone": "core"}, 16, 0),
    ]
    names = ["hello", "echo", "data-processor", "json-transformer", "sleep", "cpu-burn", "fusion-front", "fusion-back"]
    functions = [
        Function(n, replicas=1 if n == "hello" else 0, fusion_group="fusion-pair" if n.startswith("fusion") else None)
        for n in names
    ]
    placements = [
        Placement("hello", "edge-1", "warm", 2),
        Placement("hello", "edge-2", "busy", 1),
        Placement("hello", "core-1", "prewarm", 1),
        Placement("echo", "edge-2", "warm", 1),
        Placement("echo", "core-1", "cold", 0),
        Placement("data-processor", "core-1", "busy", 2),
        Placement("data-processor", "core-1", "warm", 1),
        Placement("sleep", "edge-1", "prewarm", 2),
        Placement("json-transformer", "edge-2", "warm", 3),
        Placement("fusion-front", "core-1", "warm", 1),
        Placement("fusion-back", "core-1", "warm", 1),
    ]
    queues = [
        QueueStat("input_queue", 12, 2, 40.0, 38.5, 0.8),
        QueueStat("worker_queue", 3, 4, 38.5, 38.1, 0.2),
        QueueStat("result_queue", 0, 0, 38.1, 38.1, None),
        QueueStat("output_queue", 140, 0, 38.0, 0.0, 9.5),
    ]
    qos = [
        QoSStat("hello", 60, 420, 0, 0.41, 0.9, 2.8, 420, 420, 0.01),
        QoSStat("data-processor", 60, 130, 2, 3.2, 12.5, 40.1, 118, 130, 0.05),
        QoSStat("json-transformer", 60, 95, 0, 0.6, 1.4, 2.0, 0, 0, 0.02),
        QoSStat("workflow", 60, 900, 4, 22.0, 48.0, 95.0, 850, 900, 0.0),
    ]
    groups = [FusionGroup("fusion-pair", ["fusion-front", "fusion-back"], "core-1", "warm", 240, 12)]
    return Snapshot(nodes, functions, placements, queues, qos, groups, taken_at=NOW - 3)


class FixedBackend(Backend):
    """A fixed-data backend for rendering tests: same Snapshot every call, no actions run."""

    name = "fixed"
    capabilities = (
        Capability.INVOKE
        | Capability.INVOKE_ASYNC
        | Capability.PREWARM
        | Capability.DISPATCH
        | Capability.FUSE
        | Capability.SCALE
        | Capability.DEPLOY
        | Capability.NODE_TARGET
        | Capability.DESCRIBE
        | Capability.CALL_GRAPH
    )

    async def snapshot(self) -> Snapshot:
        return fixed_snapshot()

    async def call_graph(self) -> list[tuple[str, str, int]]:
        return [
            ("data-processor", "json-transformer", 120),
            ("hello", "echo", 40),
            ("sleep", "echo", 38),
            ("fusion-front", "fusion-back", 3),
        ]

    async def describe(self, fn: str) -> Function:
        from backends.errors import FunctionNotFound

        for f in fixed_snapshot().functions:
            if f.name == fn:
                return f
        raise FunctionNotFound(f"function {fn!r} not found")


class LoggingBackend(FixedBackend):
    """FixedBackend with a call history and a log: three calls of hello; fixed lines of
    two instances, then nothing more."""

    capabilities = FixedBackend.capabilities | Capability.LOGS | Capability.HISTORY

    async def invocations(self, limit: int = 50) -> list[Invocation]:
        return [
            Invocation(
                f"call-{i}",
                "hello",
                "edge-1",
                "warm" if i else "cold",
                cold_start_ms=0.0 if i else 4.2,
                duration_ms=0.3 + i / 10,
                started_at=NOW - 10 + i,
                ended_at=NOW - 10 + i,
            )
            for i in range(3)
        ][::-1]

    async def log_lines(self, fn, tail=100, *, since=None, instance=None):
        lines = [
            LogLine(
                fn,
                f"{'GET' if i % 3 else 'POST'} /{fn} answered {i} in {i * 0.25:.2f} ms"
                + (
                    " — a long line that goes on well past the width of the screen so wrap "
                    "shows it on more than one row"
                    if i == 4
                    else ""
                ),
                NOW - 20 + i,
                f"edge-{1 + i % 2}-1",
            )
            for i in range(8)
        ]
        return [ln for ln in lines if instance in (None, ln.instance)][-tail:]

    async def follow_logs(self, fn, tail=10, *, since=None, instance=None, interval=None):
        import asyncio

        for line in await self.log_lines(fn, tail, instance=instance):
            yield line
        await asyncio.Event().wait()  # a followed log that stays quiet


class ReadOnlyish(FixedBackend):
    """The same data from a backend without prewarm/fuse (greyed keys)."""

    name = "limited"
    capabilities = Capability.INVOKE | Capability.SCALE


def make(theme: str = "faastui-dark", backend=FixedBackend, **kwargs) -> Dashboard:
    app = Dashboard(
        backend, theme=theme, interval=3600, clock=lambda: NOW, remember_theme=False, context_name="snap", **kwargs
    )
    return app


async def settle(pilot) -> None:
    app = pilot.app
    while app.refreshes < 1:
        await pilot.pause(0.05)
    await pilot.pause()


@pytest.mark.parametrize("theme", ["faastui-dark", "faastui-light"])
def test_main_screen(snap_compare, theme):
    assert snap_compare(make(theme), terminal_size=SIZE, run_before=settle)


def test_main_screen_high_contrast_with_greyed_keys(snap_compare):
    assert snap_compare(make("faastui-high-contrast", backend=ReadOnlyish), terminal_size=SIZE, run_before=settle)


def _dialog(keys: tuple[str, ...], fill: dict[str, str] | None = None):
    async def before(pilot):
        await settle(pilot)
        await pilot.press(*keys)
        await pilot.pause()
        for selector, value in (fill or {}).items():
            pilot.app.screen.query_one(selector).value = value
        await pilot.pause()
        while getattr(pilot.app.screen, "plan", False) is None:  # the optimizer's dry run
            await pilot.pause(0.02)
        await pilot.pause()

    return before


DIALOGS = {
    "invoke": (("i",), None),
    "invoke_async": (("I",), None),
    "prewarm": (("p",), {"#count": "2"}),
    "dispatch": (("d",), {"#steps": "edge-1:hello core-1:json-transformer"}),
    "fuse": (("space", "down", "space", "f"), {"#name": "pair-2"}),
    "unfuse": (("u",), None),
    "optimize": (("F",), None),
    "scale": (("s",), {"#replicas": "+2"}),
    "deploy": (("D",), {"#path": "functions/hello", "#name": "hello-2"}),
    "remove": (("x",), None),
    "help": (("question_mark",), None),
    "bench": (("b",), {"#calls": "20"}),
}


# the bench dialog runs at once and shows wall times: no fixed picture of it (its Pilot test
# is in test_tui_views.py; test_actions.py checks its command line)
@pytest.mark.parametrize("name", [n for n in DIALOGS if n != "bench"])
def test_dialog(snap_compare, name):
    keys, fill = DIALOGS[name]
    assert snap_compare(make(), terminal_size=SIZE, run_before=_dialog(keys, fill))


def test_events_keep_actions_while_calls_pour_in():
    """Calls have their own bound in the Events pane: 300 of them never push actions out."""
    import asyncio

    from backends.model import Invocation

    async def go():
        app = make()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            events = app.panes["events"]
            events.add(NOW - 10, "deploy", "deployed a")
            calls = [
                Invocation(
                    f"c{i:03d}", "hello", "node-1", "warm", duration_ms=1.0, started_at=NOW + i, ended_at=NOW + i
                )
                for i in range(300)
            ]
            events.add_calls(calls[::-1])  # newest first, as Backend.invocations gives them
            events.add_calls(calls[-5:][::-1])  # seen already: nothing added twice
            events.add(NOW + 500, "scale", "scaled a to 2")
            events.flush()
            await pilot.pause()
            rows = events.table.ordered_keys()
            kinds = [events.table.shown[k][1] for k in rows]
            assert kinds.count("call") == events.LIMIT // 2
            assert kinds[0] == "scale" and "deploy" in kinds  # newest first; the action stays
            newest_call = events.table.shown[rows[1]][2].plain
            assert newest_call == "hello @node-1 warm  1.0 ms  ok"

    asyncio.run(go())


def test_prewarm_leaves_the_node_to_a_backend_that_places_containers_itself():
    """Without NODE_TARGET (Knative, Nuclio, OpenFaaS) the prewarm dialog starts on (any)
    even with the cursor on a node column, so the first Run does not fail."""
    import asyncio

    from textual.widgets import Select

    from faastui.tui.dialogs import PrewarmDialog

    class Places(FixedBackend):
        capabilities = FixedBackend.capabilities & ~Capability.NODE_TARGET

    async def go(backend, expect_node, expect_line):
        app = make(backend=Places if backend == "places" else FixedBackend)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            grid = app.panes["placements"].table
            grid.focus()
            grid.move_cursor(row=0, column=2)  # hello x edge-2
            await pilot.pause()
            await pilot.press("p")
            while not isinstance(app.screen, PrewarmDialog):
                await pilot.pause(0.02)
            await pilot.pause()
            assert app.screen.query_one("#node", Select).value == expect_node
            assert str(app.screen.query_one("#cmdline").render()) == expect_line

    asyncio.run(go("places", "(any)", "$ faastui prewarm hello --count 1"))
    asyncio.run(go("targets", "edge-2", "$ faastui prewarm hello --node edge-2 --count 1"))


# ---- the views: describe, YAML, log; a sorted table -----------------------------------------
def _keys_then_settle(*keys: str, wait=None):
    async def before(pilot):
        await settle(pilot)
        await pilot.press(*keys)
        for _ in range(100):
            if wait is None or wait(pilot.app):
                break
            await pilot.pause(0.02)
        await pilot.pause()

    return before


def _fetched(app) -> bool:
    return getattr(app.screen, "fetches", 0) >= 1


def test_detail_view(snap_compare):
    """Enter on hello in Placement: its describe (placement, QoS, recent calls)."""
    assert snap_compare(
        make(backend=LoggingBackend), terminal_size=SIZE, run_before=_keys_then_settle("enter", wait=_fetched)
    )


def test_yaml_view(snap_compare):
    assert snap_compare(
        make(backend=LoggingBackend), terminal_size=SIZE, run_before=_keys_then_settle("enter", "y", wait=_fetched)
    )


def test_log_view(snap_compare):
    """l on hello: the followed log, timestamps on, wrapped, two instances prefixed."""
    assert snap_compare(
        make(backend=LoggingBackend),
        terminal_size=SIZE,
        run_before=_keys_then_settle("l", "t", "w", wait=lambda app: getattr(app.screen, "received", 0) >= 8),
    )


def test_sorted_tables(snap_compare):
    """Nodes by CPU (most loaded first), Placement by containers on all nodes, QoS by p95."""

    async def before(pilot):
        await settle(pilot)
        app = pilot.app
        for part, key in (("nodes", "C"), ("placements", "W"), ("qos", "P")):
            app.panes[part].table.focus()
            await pilot.press(key)
        await pilot.pause()

    assert snap_compare(make(), terminal_size=SIZE, run_before=before)
