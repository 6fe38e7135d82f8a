"""Pilot tests of the dashboard's views and settings against the real engine (the session
daemon): Enter on a row of every pane, y/j/c/ctrl+s, the log view's keys, b's bench,
sorting by key and by a header click, :ctx alone, :ns (on a fake multi-namespace OpenFaaS
gateway), --view, the k9s key map, user themes, the Nodes pane sized to its data,
and the two fixes from the newcomer issue (a dialog's default function, WARM = CONT with
a fusion group). What a view shows is checked against the engine through a separate
backend, not through the UI.
"""

from __future__ import annotations

import json

import pytest
import yaml
from textual.widgets import RichLog, Select

from backends.model import Function, Node, Placement, Snapshot
from faastui import config
from faastui.tui.app import Dashboard
from faastui.tui.dialogs import BenchDialog, ConfirmRemove, ContextPicker, DispatchDialog, InvokeDialog
from faastui.tui.keymaps import load_keymap
from faastui.tui.views import DetailScreen, LogScreen, document_text

from .conftest import run
from .test_logs import PRINTER
from .test_tui_actions import SIZE, make_app, refreshed, started, until


@pytest.fixture(scope="module")
def views_engine(engine):
    """The session engine with a function that prints, called a few times."""

    async def go():
        async with engine.backend() as b:
            await b.deploy_source(PRINTER, name="tui-printer")
            for i in range(3):
                await b.invoke("tui-printer", f"call {i}")
            await b.invoke("hello", {"name": "views"})

    run(go())
    return engine


async def focus_row(app, pilot, part: str, key: str) -> None:
    table = app.panes[part].table
    table.focus()
    await until(pilot, lambda: key in table.ordered_keys(), what=f"{key} in {part}")
    table.move_cursor(row=table.ordered_keys().index(key))
    await pilot.pause()


async def opened(app, pilot, cls):
    await until(pilot, lambda: isinstance(app.screen, cls), what=cls.__name__)
    await pilot.pause()
    return app.screen


def shown(screen) -> str:
    return screen.text()


# ---- Enter: the describe, y, j, c, ctrl+s, escape ----------------------------------------
def test_enter_on_a_function_opens_its_describe_yaml_and_json(views_engine, tmp_path):
    async def calls_of_hello():
        async with views_engine.backend() as b:
            return [i.call_id for i in await b.invocations(200) if i.function == "hello"]

    async def go():
        app = make_app(views_engine, save_dir=tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await focus_row(app, pilot, "placements", "hello")
            await pilot.press("enter")
            view = await opened(app, pilot, DetailScreen)
            await until(pilot, lambda: view.fetches >= 1, what="the fresh describe")
            text = shown(view)
            assert text.startswith("Name:         hello\nKind:         Function\n")
            newest = (await calls_of_hello())[0]
            assert "Recent calls (newest first):" in text and newest in text
            await pilot.press("y")
            data = yaml.safe_load(shown(view))
            assert data["name"] == "hello" and data["handler"] and "replicas" in data
            await pilot.press("j")
            assert json.loads(shown(view)) == data
            await pilot.press("c")
            assert app.clipboard == shown(view)  # what Textual sent to the terminal (OSC 52)
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert view.saved.parent == tmp_path and json.loads(view.saved.read_text()) == data
            await pilot.press("d")
            assert shown(view).startswith("Name:")
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.screen_stack[0], what="back to the panes")
            await pilot.press("y")  # y on the main screen: straight to the YAML
            view = await opened(app, pilot, DetailScreen)
            assert view.mode == "yaml" and "name: hello" in shown(view)

    run(go())


@pytest.mark.parametrize(
    "part,key,kind", [("nodes", "node-2", "Node"), ("queues", "input_queue", "Queue"), ("qos", "hello", "Function")]
)
def test_enter_on_a_row_of_each_table(views_engine, part, key, kind):
    async def go():
        app = make_app(views_engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await focus_row(app, pilot, part, key)
            await pilot.press("enter")
            view = await opened(app, pilot, DetailScreen)
            await until(pilot, lambda: view.fetches >= 1, what="the fresh describe")
            assert "Kind:" in shown(view) and view.desc.kind == kind and view.desc.name == key
            assert json.loads(document_text(view.desc, "json"))["name"] == key

    run(go())


def test_enter_on_an_event_and_on_a_fusion_group(views_engine):
    async def setup(fuse: bool):
        async with views_engine.backend() as b:
            if fuse:
                await b.fuse(["fusion-front", "fusion-back"], name="tui-views-pair")
                await b.invoke("fusion-front", {"x": 1})
            else:
                await b.unfuse("tui-views-pair")

    async def go():
        app = make_app(views_engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await refreshed(app, pilot)
            events = app.panes["events"].table
            events.focus()
            await until(pilot, lambda: events.row_count > 0, what="an event")
            await pilot.press("enter")
            view = await opened(app, pilot, DetailScreen)
            assert view.desc.kind == "Event" and "kind:" in shown(view)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.screen_stack[0], what="back")
            tree = app.panes["fusion_groups"].group_tree
            tree.focus()
            await until(pilot, lambda: tree.root.children, what="the fusion group")
            tree.move_cursor(tree.root.children[0])
            await pilot.press("enter")
            view = await opened(app, pilot, DetailScreen)
            await until(pilot, lambda: view.fetches >= 1, what="the fresh describe")
            assert view.desc.kind == "FusionGroup" and "Members:" in shown(view)
            assert "fusion-front" in shown(view) and "fusion-back" in shown(view)

    run(setup(True))
    try:
        run(go())
    finally:
        run(setup(False))


# ---- l: the log view -----------------------------------------------------------------------
def test_the_log_view_follows_filters_wraps_and_picks_an_instance(views_engine):
    async def more(text):
        async with views_engine.backend() as b:
            await b.invoke("tui-printer", text)

    async def go():
        app = make_app(views_engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await focus_row(app, pilot, "placements", "tui-printer")
            await pilot.press("l")
            view = await opened(app, pilot, LogScreen)
            await until(pilot, lambda: view.received >= 6, what="the log's tail")
            assert "said call 2" in view.shown() and "to stderr call 1" in view.shown()
            await more("while watching")
            await until(pilot, lambda: "said while watching" in view.shown(), what="a new line")
            log = view.query_one("#log", RichLog)
            assert any("said while watching" in line.text for line in log.lines)
            await pilot.press("slash")
            await pilot.press(*"stderr", "enter")
            assert view.filter_text == "stderr" and all("stderr" in x for x in view.shown())
            await pilot.press("t")
            assert view.timestamps and view.shown()[0][:4].isdigit() and "Z " in view.shown()[0]
            await pilot.press("w")
            assert view.wrap and log.wrap
            await pilot.press("f")  # paused: a new line waits
            assert not view.follow
            await pilot.press("i")  # one instance of the function
            assert view.instance == view.instances[0]
            assert all(ln.instance == view.instance for ln in view.lines if view._shows(ln))
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.screen_stack[0], what="back")

    run(go())


def test_logs_are_greyed_where_the_backend_has_none():
    from .test_tui_snapshots import FixedBackend, make, settle

    async def go():
        app = make(backend=FixedBackend)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.check_action("logs", ()) is None  # greyed: no Capability.LOGS
            await pilot.press("l")
            await pilot.pause()
            assert app.screen is app.screen_stack[0]

    run(go())


# ---- b: bench -------------------------------------------------------------------------------
def test_b_benches_the_function_and_shows_its_histogram(views_engine):
    async def count():
        async with views_engine.backend() as b:
            return (await b.describe("echo")).invocations

    async def go():
        before = await count()
        app = make_app(views_engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await focus_row(app, pilot, "placements", "echo")
            await pilot.press("b")
            dialog = await opened(app, pilot, BenchDialog)
            await until(pilot, lambda: dialog.outcome is not None, timeout=60, what="the bench")
            rep = dialog.outcome.result.report()
            assert rep["calls"] == 100 and rep["errors"] == 0
            text = dialog.result_text(160)
            assert "latency ms" in text and " ms  █" in text
            assert "faastui bench echo --requests 100 -c 4" in str(dialog.query_one("#cmdline").render())
        return before

    before = run(go())
    assert run(count()) - before == 100


# ---- sorting --------------------------------------------------------------------------------
def test_sorting_by_key_and_by_header_click(views_engine):
    async def go():
        app = make_app(views_engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            nodes = app.panes["nodes"].table
            nodes.focus()
            await pilot.press("N")
            assert nodes.ordered_keys() == ["node-1", "node-2", "node-3"]
            assert nodes.columns[next(k for k in nodes.columns if k.value == "name")].label.plain == "NODE↑"
            await pilot.press("N")
            assert nodes.ordered_keys() == ["node-3", "node-2", "node-1"]
            assert "NODE↓" in [c.label.plain for c in nodes.columns.values()]
            grid = app.panes["placements"].table
            grid.focus()
            await pilot.click("#placements-table", offset=(2, 0))  # the FUNCTION header
            await pilot.pause()
            names = grid.ordered_keys()
            assert names == sorted(names) and grid.sort_column == "function"
            await pilot.press("W")  # containers on all nodes, most first
            await pilot.pause()
            snap = app.snapshot
            totals = {
                f.name: sum(p.count for p in snap.placements if p.function == f.name and p.state != "cold")
                for f in snap.functions
            }
            got = [totals[k] for k in grid.ordered_keys()]
            assert got == sorted(got, reverse=True)
            assert any(c.label.plain == "FUNCTION Σ↓" for c in grid.columns.values())
            await refreshed(app, pilot)  # the next tick keeps the order
            got = [totals.get(k, 0) for k in grid.ordered_keys()]
            assert grid.sort_column == "total"

    run(go())


# ---- :ctx alone, --view, the k9s key map, user themes -------------------------------------
def test_ctx_alone_opens_a_picker_that_switches(views_engine):
    cfg = config.load_config()
    cfg.contexts.append(config.Context(name="picked", backend="local", url=views_engine.url))
    config.save_config(cfg)

    async def go():
        app = make_app(views_engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await pilot.press("colon", *"ctx", "enter")
            picker = await opened(app, pilot, ContextPicker)
            names = [c[0] for c in picker.contexts]
            assert names[:1] == ["local"] and "picked" in names
            await pilot.press("down")
            await pilot.press("enter")
            await until(pilot, lambda: app.context_name == "picked", what="the switch")
            await until(pilot, lambda: app.snapshot is not None, what="a snapshot from it")

    run(go())


def test_view_opens_on_a_pane(views_engine):
    async def go():
        app = make_app(views_engine, view="qos")
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await until(pilot, lambda: app.screen.maximized is app.panes["qos"], what="QoS alone")

    run(go())


def test_the_k9s_keymap(views_engine):
    keys = load_keymap("k9s")
    assert keys["describe"].startswith("d") and keys["remove"] == "ctrl+d"

    async def go():
        app = make_app(views_engine, keys=keys)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await focus_row(app, pilot, "placements", "hello")
            await pilot.press("d")
            view = await opened(app, pilot, DetailScreen)
            assert view.desc.name == "hello"
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.screen_stack[0], what="back")
            await pilot.press("ctrl+d")
            await opened(app, pilot, ConfirmRemove)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.screen_stack[0], what="back")
            await pilot.press("t")
            await opened(app, pilot, DispatchDialog)

    run(go())


def test_settings_come_from_the_config(tmp_path):
    from backends.errors import InvalidRequest
    from faastui.tui.options import from_config

    path = config.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("keymap: k9s\nreadonly: true\nrefresh_s: 2.5\ndefault_view: nodes\nkeys: {bench: B}\n")
    cfg = config.load_config()
    opts = from_config(cfg, "local")
    assert opts.readonly and opts.poll_interval == 2.5 and opts.view == "nodes"
    assert opts.keys["remove"] == "ctrl+d" and opts.keys["bench"] == "B"  # keys: over the map
    assert from_config(cfg, "local", interval=5, view="qos").view == "qos"
    assert "keymap" in config.load_config().to_dict()
    for text, needle in (
        ("refresh_s: 0.1\n", "at least 0.25"),
        ("readonly: maybe\n", "true or false"),
        ("keymap: 3\n", "a name"),
    ):
        path.write_text(text)
        with pytest.raises(InvalidRequest, match=needle):
            config.load_config()
    path.write_text("keymap: vim\n")
    with pytest.raises(InvalidRequest, match="unknown keymap 'vim'"):
        from_config(config.load_config(), "local")
    path.write_text("default_view: sideways\n")
    with pytest.raises(InvalidRequest, match="unknown view 'sideways'"):
        from_config(config.load_config(), "local")


def test_a_user_theme_is_offered_and_a_broken_one_named(views_engine):
    from faastui import locations

    folder = locations.user_themes_dir()
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text('name = "mine"\nprimary = "#ff00ff"\ndark = true\n')
    (folder / "broken.toml").write_text("name = [unclosed\n")

    async def go():
        app = make_app(views_engine, theme="mine")
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            assert app.theme == "mine" and app.themes.broken and "broken.toml" in app.themes.broken[0]

    run(go())


# ---- the newcomer issue: the dialog default, WARM = CONT with a fusion group ---------------
def test_dialogs_start_on_a_function_that_answers(views_engine):
    async def go():
        app = make_app(views_engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            app.panes["nodes"].table.focus()  # the cursor on no function
            await pilot.pause()
            for key in ("i", "I"):
                await pilot.press(key)
                dialog = await opened(app, pilot, InvokeDialog)
                fn = dialog.query_one("#function", Select).value
                labels = next(f.labels for f in app.snapshot.functions if f.name == fn)
                assert fn != "collector" and labels.get("faastui.io/long-running") != "true"
                await pilot.press("escape")
                await until(pilot, lambda: app.screen is app.screen_stack[0], what="closed")

    run(go())


def test_warm_agrees_with_containers_with_a_fusion_group_present(views_engine):
    async def setup(fuse: bool):
        async with views_engine.backend() as b:
            if fuse:
                await b.fuse(["fusion-front", "fusion-back"], name="tui-warm-pair")
                for _ in range(2):
                    await b.invoke("fusion-front", {"x": 1})
            else:
                await b.unfuse("tui-warm-pair")

    async def go():
        app = make_app(views_engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await refreshed(app, pilot)
            snap = app.snapshot
            assert any(g.name == "tui-warm-pair" for g in snap.fusion_groups)
            nodes = app.panes["nodes"].table
            for n in snap.nodes:
                cont = nodes.get_cell(n.name, "containers")
                warm = nodes.get_cell(n.name, "warm")
                assert cont.split("/")[0] == warm, (n.name, cont, warm)

    run(setup(True))
    try:
        run(go())
    finally:
        run(setup(False))


def test_warm_counts_stay_right_through_incremental_ticks():
    """The pane's diffed path (same placement objects but a few) against a count from
    scratch, tick after tick, with a fused pair on a node."""
    import dataclasses
    import random

    from .test_tui_snapshots import FixedBackend, make, settle

    rng = random.Random(3)
    functions = [Function("a", fusion_group="g"), Function("b", fusion_group="g"), Function("c"), Function("d")]
    nodes = [Node("n1", containers=0), Node("n2", containers=0)]
    placements = [Placement(f, n, s, 1) for f in "abcd" for n in ("n1", "n2") for s in ("warm", "prewarm")]

    def truth(ps):
        out = {"n1": 0, "n2": 0}
        for n in out:
            out[n] += sum(p.count for p in ps if p.node == n and p.function in "cd")
            out[n] += sum(
                max(p.count for p in ps if p.node == n and p.state == s and p.function in "ab")
                for s in ("warm", "prewarm")
            )
        return out

    async def go():
        app = make(backend=FixedBackend)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            pane = app.panes["nodes"]
            current = list(placements)
            for _ in range(40):
                i = rng.randrange(len(current))
                current = list(current)
                current[i] = dataclasses.replace(current[i], count=rng.randint(0, 3))
                pane.apply(Snapshot(nodes, functions, current))
                assert {k: pane.warm.get(k, 0) for k in ("n1", "n2")} == truth(current)

    run(go())


def test_a_theme_switch_is_not_remembered_when_the_dashboard_says_so(views_engine):
    async def go():
        app = make_app(views_engine, remember_theme=False)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            await pilot.press("colon", *"theme light", "enter")
            await until(pilot, lambda: app.theme == "faastui-light", what="the switch")
            await pilot.pause()

    run(go())
    assert config.load_config().theme is None and not config.config_path().exists()


def test_the_demo_keeps_its_theme_out_of_the_users_config(monkeypatch, tmp_path):
    """`faastui demo` opens the dashboard with remember_theme=False (checked on the call
    the demo makes; the dashboard's side of it is the test above)."""
    import faastui.demo as demo
    import faastui.tui.app as tui_app

    seen = {}

    def fake_run(**kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(tui_app, "run", fake_run)
    assert demo.main(state_dir=tmp_path / "demo", ui=True) == 0
    assert seen["remember_theme"] is False


# ---- :ns: namespaces, and the Nodes pane's widths -----------------------------------------
def test_ns_switches_namespaces_and_ns_alone_opens_a_picker(tmp_path):
    """On an OpenFaaS context whose gateway (a FAKE, tests/fakes/openfaas_ns_gateway.py: OpenFaaS
    cannot run here) has two namespaces."""
    from faastui.tui.contexts import namespace_backends
    from faastui.tui.dialogs import NamespacePicker

    from .conftest import cli
    from .fakes.openfaas_ns_gateway import DEFAULT_NS, fake_gateway

    def names(app) -> set[str]:
        return {f.name for f in app.snapshot.functions}

    with fake_gateway(namespaces=("dev",)) as gw:
        gw.add("hello")
        gw.add("only-dev", "dev")
        cli(
            "context",
            "add",
            "of",
            "--backend",
            "openfaas",
            "--url",
            gw.url,
            "--password-stdin",
            "--use",
            input=gw.password + "\n",
        )
        ctx = config.resolve_context("of")

        async def go():
            app = Dashboard(
                ctx.build_backend,
                interval=30.0,
                remember_theme=False,
                context_name="of",
                make_namespace_backend=namespace_backends(ctx),
            )
            async with app.run_test(size=SIZE) as pilot:
                await started(app, pilot)
                assert names(app) == {"hello"} and app.namespace is None
                await pilot.press("colon", *"ns dev", "enter")
                await until(
                    pilot,
                    lambda: app.snapshot is not None and "only-dev" in names(app),
                    what="the dev namespace's functions",
                )
                assert app.namespace == "dev" and "-n dev" in app.sub_title
                await pilot.press("colon", *"ns", "enter")
                picker = await opened(app, pilot, NamespacePicker)
                assert [c[0] for c in picker.contexts] == [DEFAULT_NS, "dev"]
                assert picker.query_one("OptionList").highlighted == 1  # where it is now
                await pilot.press("up", "enter")
                await until(
                    pilot,
                    lambda: app.namespace == DEFAULT_NS and app.snapshot is not None and names(app) == {"hello"},
                    what="back in the default namespace",
                )
                await pilot.press("colon", *"ns", "escape")  # the picker, then escape: unchanged
                await pilot.pause()
                assert app.namespace == DEFAULT_NS

        run(go())


def test_ns_on_a_backend_without_namespaces_is_a_notice(views_engine):
    async def go():
        app = make_app(views_engine)
        async with app.run_test(size=SIZE) as pilot:
            await started(app, pilot)
            backend = app.backend
            for command in ("ns dev", "ns"):
                await pilot.press("colon", *command, "enter")
                await pilot.pause()
                assert app.namespace is None and app.backend is backend
                assert not isinstance(app.screen, ContextPicker)
            said = [n.message for n in app._notifications]
            assert said.count("the local backend has no namespaces") == 2

    run(go())


def test_the_nodes_pane_sizes_cont_and_warm_from_the_data():
    from .test_tui_snapshots import FixedBackend, make, settle

    class Crowded(FixedBackend):
        async def snapshot(self):
            snap = await super().snapshot()
            big = Node("big", "10.0.0.9", True, 64, 262144, 1, 1000, {}, 110, 11)
            return Snapshot(
                [big, *snap.nodes],
                snap.functions,
                snap.placements + [Placement("hello", "big", "warm", 1234)],
                snap.queues,
                snap.qos,
                snap.fusion_groups,
                taken_at=snap.taken_at,
            )

    async def go():
        app = make(backend=Crowded)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.panes["nodes"].table
            cont, warm = table.columns["containers"], table.columns["warm"]
            assert cont.width >= len("11/110") + 1 and warm.width >= len("1234") + 1
            row = table.get_row("big")
            assert str(row[4]) == "11/110" and str(row[5]) == "1234"

    run(go())
