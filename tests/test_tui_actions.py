"""Pilot tests of every dashboard key against the real engine (the session daemon).

Each test opens the dashboard with ``app.run_test`` on a LocalBackend pointed
at the engine, presses the key, drives the dialog, and then checks two things:
that the action reached the engine (through a separate backend, not the UI)
and that the panes show the result after a refresh. State that other tests
rely on is put back at the end of each test.
"""

from __future__ import annotations

import csv
import json
import time

from textual.widgets import Input, Select, TextArea

from backends.base import Capability
from backends.local.client import LocalBackend
from faastui import config
from faastui.tui.app import Dashboard
from faastui.tui.dialogs import (
    ConfirmRemove,
    DeployDialog,
    DispatchDialog,
    FuseDialog,
    HelpScreen,
    InvokeDialog,
    OptimizeDialog,
    PrewarmDialog,
    ScaleDialog,
    UnfuseDialog,
)

from .conftest import FUNCTIONS, run

SIZE = (170, 50)


def make_app(engine, **kwargs) -> Dashboard:
    kwargs.setdefault("interval", 30.0)  # tests refresh on purpose (r / after dialogs)
    kwargs.setdefault("remember_theme", False)
    return Dashboard(engine.backend, **kwargs)


async def until(pilot, cond, timeout: float = 20.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def refreshed(app, pilot) -> None:
    """Ask for a snapshot now and wait until the panes have it."""
    n = app.refreshes
    app.fetch_snapshot()
    await until(pilot, lambda: app.refreshes > n, what="a refresh")


async def started(app, pilot) -> None:
    await until(pilot, lambda: app.refreshes >= 1, what="the first snapshot")


async def open_dialog(app, pilot, key: str, cls):
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, cls), what=f"{cls.__name__} after {key!r}")
    await pilot.pause()
    return app.screen


async def run_dialog(pilot, dialog):
    await pilot.press("ctrl+r")
    await until(
        pilot,
        lambda: not dialog.running and (dialog.outcome is not None or dialog.query_one("#result").has_class("-error")),
        what="the dialog's action",
    )
    assert dialog.outcome is not None, str(dialog.query_one("#result").render())
    return dialog.outcome


def cmdline(dialog) -> str:
    return str(dialog.query_one("#cmdline").render())


def cell(app, fn: str, node: str) -> str:
    return app.panes["placements"].table.get_cell(fn, f"n:{node}").plain


def events_text(app) -> str:
    return "\n".join(
        " ".join(str(getattr(c, "plain", c)) for c in row) for row in app.panes["events"].table.target.values()
    )


async def engine_snapshot(engine):
    async with engine.backend() as b:
        return await b.snapshot()


def count(snap, fn, node, state) -> int:
    return sum(p.count for p in snap.placements if p.function == fn and p.node == node and p.state == state)


async def engine_calls(engine, limit: int = 50) -> dict[str, object]:
    """The engine's latest finished calls by call id (its history, not the QoS count: that
    one is a sliding 60 s window, so calls of earlier tests may leave it meanwhile)."""
    async with engine.backend() as b:
        return {i.call_id: i for i in await b.invocations(limit)}


def qos_count(snap, fn) -> int:
    return next((q.count for q in snap.qos if q.subject == fn), 0)


# ---- panes from a real snapshot ------------------------------------------------------------
def test_panes_show_the_engine(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            nodes = app.panes["nodes"].table
            assert nodes.ordered_keys() == ["node-1", "node-2", "node-3"]
            assert nodes.get_cell("node-1", "ready").plain == "yes"
            grid = app.panes["placements"].table
            assert {"hello", "echo", "crash"} <= set(grid.ordered_keys())
            assert [c[1] for c in grid.column_spec[1:]] == ["node-1", "node-2", "node-3"]
            assert "input_queue" in app.panes["queues"].table.ordered_keys()
            assert app.error is None and "3 nodes" in str(app.query_one("#status").render())
            for pane in app.panes.values():
                assert "now" in pane.border_subtitle or "s ago" in pane.border_subtitle

    run(go())


def test_events_show_calls_made_elsewhere(engine):
    """A call made by another client (here the CLI's backend) appears in Events as a call."""

    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            async with engine.backend() as other:
                inv = await other.invoke("echo", {"from": "elsewhere"}, node="node-3")
                bad = await other.invoke("crash", "x")
            assert inv.status == "ok" and bad.status != "ok"
            await refreshed(app, pilot)
            # newest first, as on screen (``target`` is the display order)
            rows = [r for r in app.panes["events"].table.target.values() if r[1] == "call"]
            texts = [r[2].plain for r in rows]
            mine = [t for t in texts if t.startswith("echo @node-3")]
            assert mine and mine[0].endswith("ok"), texts
            crashed = next(r for r in rows if r[2].plain.startswith("crash"))
            assert f"  {bad.status}" in crashed[2].plain and bad.status in ("error", "crashed")
            assert crashed[2].style == app.panes["events"].palette.bad  # shown as a failure
            # the next refresh adds nothing twice
            n = len(rows)
            await refreshed(app, pilot)
            again = [r for r in app.panes["events"].table.target.values() if r[1] == "call"]
            assert len(again) == n

    run(go())


# ---- i: invoke -------------------------------------------------------------------------------
def test_i_invokes_on_the_chosen_node(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            dialog = await open_dialog(app, pilot, "i", InvokeDialog)
            dialog.query_one("#function", Select).value = "hello"
            dialog.query_one("#node", Select).value = "node-2"
            dialog.query_one("#payload", TextArea).text = '{"name": "pilot"}'
            await pilot.pause()
            assert cmdline(dialog) == """$ faastui invoke hello -d '{"name": "pilot"}' --node node-2"""
            outcome = await run_dialog(pilot, dialog)
            inv = outcome.result
            assert inv.status == "ok" and inv.node == "node-2" and "pilot" in json.dumps(inv.result)
            shown = dialog.result_text()
            for needle in ("status", "latency", "node-2", "container"):
                assert needle in shown
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, InvokeDialog))
            after = await engine_snapshot(engine)  # the engine saw it
            seen = (await engine_calls(engine)).get(inv.call_id)
            assert seen is not None and (seen.function, seen.node) == ("hello", "node-2")
            assert count(after, "hello", "node-2", "warm") >= 1
            await refreshed(app, pilot)
            assert "w" in cell(app, "hello", "node-2")
            assert "hello on node-2: ok" in events_text(app)

    run(go())


# ---- I: async invoke -------------------------------------------------------------------------
def test_shift_i_invokes_asynchronously(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            dialog = await open_dialog(app, pilot, "I", InvokeDialog)
            assert dialog.asynchronous
            dialog.query_one("#function", Select).value = "echo"
            dialog.query_one("#payload", TextArea).text = "ping"
            await pilot.pause()
            assert cmdline(dialog) == "$ faastui invoke echo --raw -d ping --async"
            outcome = await run_dialog(pilot, dialog)
            assert outcome.verb == "invoke_async" and outcome.result.status == "ok"
            assert outcome.result.call_id in outcome.summary
            seen = (await engine_calls(engine)).get(outcome.result.call_id)
            assert seen is not None and seen.function == "echo" and seen.status == "ok"
            await pilot.press("escape")
            await refreshed(app, pilot)  # the QoS pane shows the engine's count
            assert app.panes["qos"].table.get_cell("echo", "count") == str(qos_count(app.snapshot, "echo"))
            assert qos_count(app.snapshot, "echo") >= 1

    run(go())


# ---- p: prewarm --------------------------------------------------------------------------------
def test_p_prewarms_on_a_node(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            before = count(await engine_snapshot(engine), "data-processor", "node-3", "prewarm")
            dialog = await open_dialog(app, pilot, "p", PrewarmDialog)
            dialog.query_one("#function", Select).value = "data-processor"
            dialog.query_one("#node", Select).value = "node-3"
            dialog.query_one("#count", Input).value = "2"
            await pilot.pause()
            assert cmdline(dialog) == "$ faastui prewarm data-processor --node node-3 --count 2"
            outcome = await run_dialog(pilot, dialog)
            assert len(outcome.result) == 2 and all(i.node == "node-3" for i in outcome.result)
            snap = await engine_snapshot(engine)
            assert count(snap, "data-processor", "node-3", "prewarm") >= min(before + 2, 2)
            await pilot.press("escape")
            await until(pilot, lambda: app.refreshes >= 2)
            await refreshed(app, pilot)
            assert "p" in cell(app, "data-processor", "node-3")
            # (any): the backend places it, and the CLI line has no --node
            dialog = await open_dialog(app, pilot, "p", PrewarmDialog)
            dialog.query_one("#function", Select).value = "sleep"
            dialog.query_one("#node", Select).value = "(any)"
            await pilot.pause()
            assert cmdline(dialog) == "$ faastui prewarm sleep --count 1"
            outcome = await run_dialog(pilot, dialog)
            assert len(outcome.result) == 1 and outcome.result[0].node.startswith("node-")
            assert f"on {outcome.result[0].node}" in outcome.summary

    run(go())


# ---- d: dispatch -------------------------------------------------------------------------------
def test_d_dispatches_a_chain_with_per_step_timings(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            dialog = await open_dialog(app, pilot, "d", DispatchDialog)
            dialog.query_one("#input", Input).value = '{"Name": "pilot"}'
            dialog.query_one("#steps", Input).value = "node-1:hello"
            dialog.query_one("#step-node", Select).value = "node-2"
            dialog.query_one("#step-function", Select).value = "json-transformer"
            await pilot.click("#add-step")
            await pilot.pause()
            assert dialog.query_one("#steps", Input).value == "node-1:hello node-2:json-transformer"
            assert cmdline(dialog) == (
                """$ faastui dispatch -i '{"Name": "pilot"}' -s node-1:hello """
                "-s node-2:json-transformer"
            )
            outcome = await run_dialog(pilot, dialog)
            res = outcome.result
            assert [(s.node, s.function) for s in res.steps] == [("node-1", "hello"), ("node-2", "json-transformer")]
            shown = dialog.result_text()
            assert "per-step timings" in shown and "run ms" in shown
            # the engine ran it (its call history, not the QoS count: that one is a sliding
            # 60 s window, so older calls may leave it while this test runs)
            async with engine.backend() as b:
                latest = await b.invocations(10)
            ran = [(i.function, i.node) for i in latest if i.ended_at >= res.steps[0].started_at]
            assert ("hello", "node-1") in ran and ("json-transformer", "node-2") in ran
            await pilot.press("escape")
            await refreshed(app, pilot)
            assert "dispatch" in events_text(app)

    run(go())


# ---- space + f: fuse the marked functions; u: unfuse ------------------------------------------
def test_f_fuses_marked_functions_and_u_unfuses(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            grid = app.panes["placements"].table
            grid.focus()
            for fn in ("cpu-burn", "echo"):
                grid.move_cursor(row=grid.get_row_index(fn))
                await pilot.press("space")
            assert app.panes["placements"].marked == {"cpu-burn", "echo"}
            assert grid.get_cell("echo", "function").plain == "● echo"
            dialog = await open_dialog(app, pilot, "f", FuseDialog)
            assert dialog.query_one("#functions", Input).value == "cpu-burn echo"
            dialog.query_one("#name", Input).value = "tui-pair"
            await pilot.pause()
            assert cmdline(dialog) == "$ faastui fuse cpu-burn echo --name tui-pair"
            try:
                outcome = await run_dialog(pilot, dialog)
                assert outcome.result.name == "tui-pair"
                groups = {g.name: g for g in (await engine_snapshot(engine)).fusion_groups}
                assert set(groups["tui-pair"].functions) == {"cpu-burn", "echo"}
                await pilot.press("escape")
                await refreshed(app, pilot)
                fusion = app.panes["fusion_groups"]
                assert "tui-pair" in [g.name for g in fusion.groups]
                labels = [str(n.label) for n in fusion.group_tree.root.children]
                assert any(label.startswith("tui-pair") for label in labels)
                # u on the fusion pane, cursor on the new group
                fusion.group_tree.focus()
                idx = [g.name for g in fusion.groups].index("tui-pair")
                fusion.group_tree.cursor_line = fusion.group_tree.root.children[idx].line
                await pilot.pause()
                dialog = await open_dialog(app, pilot, "u", UnfuseDialog)
                assert dialog.query_one("#group", Select).value == "tui-pair"
                assert cmdline(dialog) == "$ faastui unfuse tui-pair"
                outcome = await run_dialog(pilot, dialog)
                assert set(outcome.result) == {"cpu-burn", "echo"}
                assert "tui-pair" not in {g.name for g in (await engine_snapshot(engine)).fusion_groups}
                await pilot.press("escape")
                await refreshed(app, pilot)
                assert "tui-pair" not in [g.name for g in fusion.groups]
            finally:
                async with engine.backend() as b:
                    if "tui-pair" in {g.name for g in await b.fusion_groups()}:
                        await b.unfuse("tui-pair")

    run(go())


# ---- s: scale ----------------------------------------------------------------------------------
def test_shift_f_optimizes_fusion_from_the_call_graph(engine):
    """F: the plan (dry run) as the dialog opens; Apply fuses; calls then stay local."""

    async def go():
        async with engine.backend() as b:
            for i in range(4):
                assert (await b.invoke("fusion-front", {"text": f"t{i}"})).status == "ok"
            edges = {(a, c): n for a, c, n in await b.call_graph()}
        assert edges[("fusion-front", "fusion-back")] >= 4
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            dialog = await open_dialog(app, pilot, "F", OptimizeDialog)
            dialog.query_one("#min_calls", Input).value = "3"
            dialog.query_one("#min_share", Input).value = "0.9"
            await until(
                pilot, lambda: dialog.plan is not None and dialog.plan.thresholds.min_calls == 3, what="the dry run"
            )
            assert cmdline(dialog) == ("$ faastui optimize-fusion --apply --min-calls 3 --min-share 0.9 --max-size 4")
            preview = dialog.result_text()
            assert "dry run" in preview and "= fusion-back + fusion-front" in preview
            assert not (await engine_snapshot(engine)).fusion_groups  # a dry run changes nothing
            group = None
            try:
                outcome = await run_dialog(pilot, dialog)
                assert outcome.ok and "applied" in outcome.summary
                groups = (await engine_snapshot(engine)).fusion_groups
                group = next(g.name for g in groups if "fusion-front" in g.functions)
                assert set(next(g for g in groups if g.name == group).functions) == {"fusion-front", "fusion-back"}
                await pilot.press("escape")
                await refreshed(app, pilot)
                assert group in [g.name for g in app.panes["fusion_groups"].groups]
                assert "optimize-fusion" in events_text(app)
                async with engine.backend() as b:  # the calls between them are local now
                    inv = await b.invoke("fusion-front", {"text": "x"})
                    assert inv.status == "ok"
                    g = next(g for g in await b.fusion_groups() if g.name == group)
                    assert g.calls_local >= 1
            finally:
                async with engine.backend() as b:
                    for g in await b.fusion_groups():
                        await b.unfuse(g.name)

    run(go())


def test_shift_f_with_bad_knobs_says_so_and_changes_nothing(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            dialog = await open_dialog(app, pilot, "F", OptimizeDialog)
            dialog.query_one("#min_share", Input).value = "lots"
            await until(pilot, lambda: "error" in dialog.result_text(), what="the error")
            assert "min share" in dialog.result_text()
            await pilot.press("ctrl+r")
            await until(pilot, lambda: not dialog.running, what="the refused run")
            assert dialog.outcome is None
            assert not (await engine_snapshot(engine)).fusion_groups

    run(go())


def test_s_scales_relative(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            async with engine.backend() as b:
                before = (await b.describe("sleep")).replicas
            grid = app.panes["placements"].table
            grid.focus()
            grid.move_cursor(row=grid.get_row_index("sleep"))
            dialog = await open_dialog(app, pilot, "s", ScaleDialog)
            assert dialog.query_one("#function", Select).value == "sleep"  # the selected row
            dialog.query_one("#replicas", Input).value = "+1"
            await pilot.pause()
            assert cmdline(dialog) == "$ faastui scale sleep +1"
            try:
                outcome = await run_dialog(pilot, dialog)
                async with engine.backend() as b:
                    assert (await b.describe("sleep")).replicas == before + 1
                assert outcome.result.replicas == before + 1
                await pilot.press("escape")
                await refreshed(app, pilot)
                assert "scaled sleep" in events_text(app)
                assert (
                    sum(
                        app.panes["placements"].counts.get("sleep", {}).get(n, {}).get(s, 0)
                        for n in ("node-1", "node-2", "node-3")
                        for s in ("prewarm", "warm", "busy")
                    )
                    >= 1
                )
            finally:
                async with engine.backend() as b:
                    await b.scale("sleep", before)

    run(go())


# ---- D: deploy; x: remove (confirm) ------------------------------------------------------------
def test_shift_d_deploys_and_x_removes(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            dialog = await open_dialog(app, pilot, "D", DeployDialog)
            dialog.query_one("#path", Input).value = str(FUNCTIONS / "echo")
            dialog.query_one("#name", Input).value = "tui-echo"
            await pilot.pause()
            assert cmdline(dialog) == f"$ faastui deploy {FUNCTIONS / 'echo'} --name tui-echo"
            try:
                outcome = await run_dialog(pilot, dialog)
                assert outcome.result.name == "tui-echo"
                async with engine.backend() as b:
                    assert "tui-echo" in {f.name for f in await b.functions()}
                await pilot.press("escape")
                await refreshed(app, pilot)
                grid = app.panes["placements"].table
                assert "tui-echo" in grid.ordered_keys()
                grid.focus()
                grid.move_cursor(row=grid.get_row_index("tui-echo"))
                dialog = await open_dialog(app, pilot, "x", ConfirmRemove)
                assert dialog.query_one("#function", Select).value == "tui-echo"
                assert cmdline(dialog) == "$ faastui rm tui-echo"
                await pilot.press("ctrl+r")
                await until(
                    pilot, lambda: not isinstance(app.screen, ConfirmRemove), what="the confirm dialog to close"
                )
                async with engine.backend() as b:
                    assert "tui-echo" not in {f.name for f in await b.functions()}
                await refreshed(app, pilot)
                assert "tui-echo" not in grid.ordered_keys()
                assert "removed tui-echo" in events_text(app)
            finally:
                async with engine.backend() as b:
                    if "tui-echo" in {f.name for f in await b.functions()}:
                        await b.remove("tui-echo")

    run(go())


# ---- / filter, : command bar, r refresh, q quit ------------------------------------------------
def test_slash_filters_the_focused_table_and_bang_negates(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            grid = app.panes["placements"].table
            grid.focus()
            total = len(grid.ordered_keys())
            await pilot.press("slash")
            assert app.focused is app.query_one("#prompt")
            await pilot.press(*"^(hello|echo)$", "enter")
            assert grid.ordered_keys() == ["echo", "hello"]
            assert "2/" in app.panes["placements"].border_subtitle
            await pilot.press("slash", "ctrl+u", *"!^(hello|echo)$", "enter")
            assert len(grid.ordered_keys()) == total - 2 and "hello" not in grid.ordered_keys()
            await refreshed(app, pilot)  # the filter holds across refreshes
            assert "hello" not in grid.ordered_keys()
            await pilot.press("slash", "ctrl+u", "enter")
            assert len(grid.ordered_keys()) == total
            nodes = app.panes["nodes"].table
            nodes.focus()
            await pilot.press("slash", *"node-2", "enter")
            assert nodes.ordered_keys() == ["node-2"]

    run(go())


def test_colon_commands_views_theme_context_and_quit(engine):
    async def go():
        cfg = config.load_config()
        cfg.contexts.append(config.Context(name="other", backend="local", url=engine.url))
        config.save_config(cfg)
        app = make_app(engine, remember_theme=True)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await pilot.press("colon", *"qos", "enter")
            assert app.focused is app.panes["qos"].table and app.screen.maximized is app.panes["qos"]
            await pilot.press("colon", *"nodes", "enter")
            assert app.screen.maximized is app.panes["nodes"]
            await pilot.press("escape")
            assert app.screen.maximized is None
            await pilot.press("colon", *"theme light", "enter")
            assert app.theme == "faastui-light"
            assert config.load_config().theme == "faastui-light"  # remembered
            await pilot.press("colon", *"ctx other", "enter")
            await until(pilot, lambda: app.context_name == "other" and app.refreshes >= 2)
            assert "context other" in app.sub_title and app.error is None
            await pilot.press("colon", *"q", "enter")
        assert app.return_code == 0

    run(go())


def test_r_refreshes_now(engine):
    async def go():
        app = make_app(engine, interval=600.0)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            async with engine.backend() as b:
                inv = await b.invoke("cpu-burn", {"ms": 1})
            n = app.refreshes
            await pilot.press("r")
            await until(pilot, lambda: app.refreshes > n)
            assert app.snapshot.taken_at >= inv.ended_at  # a snapshot taken after the call
            assert app.panes["qos"].table.get_cell("cpu-burn", "count") == str(qos_count(app.snapshot, "cpu-burn"))
            assert "cpu-burn @" in events_text(app)  # and the call itself, in Events

    run(go())


def test_q_quits(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await pilot.press("q")
            await until(pilot, lambda: app.return_code is not None or not app.is_running)
        assert not app.is_running

    run(go())


# ---- ctrl+s save, ? help, ctrl+p palette -------------------------------------------------------
def test_ctrl_s_saves_svg_and_the_focused_table(engine, tmp_path):
    async def go():
        app = make_app(engine, save_dir=tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            app.panes["nodes"].table.focus()
            await pilot.press("ctrl+s")
            svg, csv_path, json_path = app.saved
            assert svg.read_text().lstrip().startswith("<svg") and "Placement" in svg.read_text()
            rows = list(csv.reader(csv_path.open()))
            assert rows[0][0] == "NODE" and [r[0] for r in rows[1:]] == ["node-1", "node-2", "node-3"]
            assert [r["NODE"] for r in json.loads(json_path.read_text())] == ["node-1", "node-2", "node-3"]
            assert json_path.name.endswith("-nodes.json")

    run(go())


def test_question_mark_opens_help(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            assert ("i", "Invoke  (invoke)", "ok") in app.screen.rows
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

    run(go())


def test_ctrl_p_palette_switches_theme_and_runs_actions(engine):
    async def go():
        app = make_app(engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"faastui-ember")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await until(pilot, lambda: app.theme == "faastui-ember", what="the ember theme")
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"Action: Prewarm")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, PrewarmDialog), what="the prewarm dialog")

    run(go())


# ---- readonly, missing capabilities, remapped keys, a dead backend ------------------------------
def test_readonly_hides_every_state_changing_action(engine):
    async def go():
        app = make_app(engine, readonly=True)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            for key in ("i", "I", "p", "d", "f", "u", "s", "D", "x", "b"):
                await pilot.press(key)
                await pilot.pause()
                assert len(app.screen_stack) == 1, key
            shown = {b.binding.action for b in app.active_bindings.values() if b.enabled}
            assert not shown & {"invoke", "prewarm", "dispatch", "fuse", "scale", "deploy", "remove", "bench"}
            assert "read-only" in app.sub_title

    run(go())


class NoPrewarm(LocalBackend):
    """The real engine, but a backend that declares no PREWARM and no FUSE."""

    name = "limited"
    capabilities = LocalBackend.capabilities & ~Capability.PREWARM & ~Capability.FUSE


def test_an_action_the_backend_cannot_do_is_greyed_with_the_reason(engine):
    async def go():
        app = Dashboard(lambda: NoPrewarm(engine.url), interval=30.0, remember_theme=False)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await pilot.press("p")
            await pilot.pause()
            assert len(app.screen_stack) == 1
            assert app.check_action("prewarm", ()) is None and app.check_action("invoke", ()) is True
            binding = next(b for b in app.active_bindings.values() if b.binding.action == "prewarm")
            assert not binding.enabled
            assert binding.binding.tooltip == "unavailable: the limited backend cannot prewarm"
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            assert ("f", "Fuse  (fuse)", "the limited backend cannot fuse") in app.screen.rows

    run(go())


def test_keys_remap_by_binding_id(engine):
    async def go():
        app = make_app(engine, keys={"prewarm": "w", "invoke": "ctrl+o"})
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await pilot.press("w")
            await until(pilot, lambda: isinstance(app.screen, PrewarmDialog))
            await pilot.press("escape")
            await pilot.press("ctrl+o")
            await until(pilot, lambda: isinstance(app.screen, InvokeDialog))

    run(go())


def test_keys_and_theme_live_in_the_config():
    cfg = config.load_config()
    cfg.keys = {"prewarm": "w"}
    cfg.theme = "faastui-light"
    config.save_config(cfg)
    again = config.load_config()
    assert again.keys == {"prewarm": "w"} and again.theme == "faastui-light"


def test_a_dead_backend_shows_errors_and_keeps_the_screen_alive(fresh_engine):
    from backends.local.control import stop_engine

    async def go():
        app = make_app(fresh_engine, interval=0.25, poll_timeout=2.0)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            stop_engine(fresh_engine.state_dir)
            fresh_engine.process.wait(timeout=10)
            await until(pilot, lambda: app.error is not None, what="the error state")
            nodes = app.panes["nodes"]
            assert nodes.has_class("-error") and "⚠" in nodes.border_subtitle
            assert nodes.table.ordered_keys() == ["node-1", "node-2"]  # last good data stays
            await pilot.press("question_mark")  # the UI still answers keys
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            assert "does not answer" in events_text(app) or "timed out" in events_text(app)

    run(go())
