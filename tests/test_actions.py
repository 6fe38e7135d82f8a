"""The action specs (faastui/actions.py) against the real CLI and the real engine.

Every ``to_argv()`` is parsed by the real typer app (``typer.main.get_command``, then the
command's own ``make_context``: typer's parsing and coercion, without running the
command) and must come back, through ``from_cli``, as the same spec. The dialogs show
``to_argv()`` as their command line, so this is what keeps the two faces in step.
"""

from __future__ import annotations

import shlex

import pytest

from backends.errors import InvalidRequest
from backends.model import DispatchStep
from faastui import actions
from faastui.actions import (
    Bench,
    Deploy,
    Dispatch,
    Fuse,
    Invoke,
    InvokeAsync,
    Optimize,
    Prewarm,
    Remove,
    Scale,
    Unfuse,
    command_line,
    from_cli,
)

from .conftest import FUNCTIONS, run

SAMPLES = [
    Invoke("hello"),
    Invoke("hello", {"name": "Ada"}, node="node-2"),
    Invoke("echo", "plain text"),
    Invoke("echo", "-starts-with-a-dash"),
    Invoke("echo", "@not-a-file"),  # as JSON text: the CLI reads -d @X as a file
    Invoke("echo", "-"),  # as JSON text: -d - is stdin
    Invoke("echo", [1, 2.5, None, True, "ü"]),
    Invoke("echo", 42),
    Invoke(
        "http-echo",
        None,
        method="GET",
        path="/items/7",
        query=(("k", "v"), ("k", "w w")),
        headers=(("X-Client", "me"), ("Content-Type", "text/plain")),
    ),
    InvokeAsync("echo", {"k": "v w"}),
    InvokeAsync("sleep"),
    InvokeAsync("http-echo", "x", method="PUT", headers=(("X-A", "b: c"),)),
    Prewarm("hello"),
    Prewarm("hello", node="node-1", count=3),
    Prewarm("data-processor", count=2, all_nodes=True),
    Dispatch("in put", (DispatchStep("node-1", "hello"), DispatchStep("node-2", "echo"))),
    Dispatch("", (DispatchStep("n", "f"),), mode="fanout"),
    Fuse(("a", "b")),
    Fuse(("a", "b", "c"), name="trio"),
    Unfuse("fusion-pair"),
    Optimize(),
    Optimize(apply=True, min_calls=3, min_share=0.125, max_size=2, max_memory_mb=512.5, unfuse_idle=True),
    Optimize(min_share=1.0),
    Scale("hello", "5"),
    Scale("hello", "+2"),
    Scale("hello", "-1"),
    Deploy(str(FUNCTIONS / "hello")),
    Deploy("functions/echo", name="echo 2"),
    Remove(("hello",)),
    Remove(("a", "b")),
    Bench("hello"),
    Bench("echo", calls=20, concurrency=2, payload={"k": "v"}, node="node-1"),
    Bench("echo", calls=5, concurrency=1, payload="plain text"),
]


def parse(argv: list[str]) -> tuple[str, dict]:
    """``argv`` through the real CLI's parser: (command name, the command's parameters)."""
    import typer.main

    from faastui.cli import app

    assert argv[0] == "faastui"
    root = typer.main.get_command(app)
    with root.make_context("faastui", []) as ctx:
        cmd = root.get_command(ctx, argv[1])
        assert cmd is not None, f"the CLI has no command {argv[1]!r}"
        sub = cmd.make_context(argv[1], list(argv[2:]), parent=ctx)
        return cmd.name, dict(sub.params)


def test_every_action_has_samples():
    assert {type(s).verb for s in SAMPLES} == set(actions.SPECS)


@pytest.mark.parametrize("spec", SAMPLES, ids=lambda s: command_line(s)[8:])
def test_to_argv_parses_back_to_the_same_spec(spec):
    argv = spec.to_argv()
    assert shlex.split(command_line(spec)) == argv  # the shown line is the argv
    name, params = parse(argv)
    assert name == spec.command
    assert from_cli(name, params) == spec


def test_a_half_filled_spec_shows_the_cli_placeholders():
    assert command_line(Invoke("")) == "faastui invoke FN"
    assert command_line(Unfuse("")) == "faastui unfuse GROUP"
    assert command_line(Scale("", "+1")) == "faastui scale FN +1"
    assert command_line(Remove(())) == "faastui rm FN"


def test_the_cli_aliases_and_forms_parse_to_the_same_specs():
    assert from_cli(*parse(["faastui", "delete", "a", "b"])) == Remove(("a", "b"))
    assert from_cli(*parse(["faastui", "remove", "a"])) == Remove(("a",))
    assert from_cli(*parse(["faastui", "scale", "hello", "--replicas", "3"])) == Scale("hello", "3")
    assert from_cli(*parse(["faastui", "scale", "hello", "-1"])) == Scale("hello", "-1")
    assert from_cli(*parse(["faastui", "invoke", "e", "-H", "A=b", "--content-type", "text/x"])) == Invoke(
        "e", headers=(("A", "b"), ("Content-Type", "text/x"))
    )
    with pytest.raises(InvalidRequest, match="count once"):
        from_cli(*parse(["faastui", "scale", "hello", "2", "--replicas", "3"]))
    with pytest.raises(InvalidRequest, match="bad header"):
        from_cli(*parse(["faastui", "invoke", "e", "-H", "nothing"]))


def test_an_invoke_spec_with_request_parts_needs_the_capability():
    class Plain:
        name = "plain"

        def require(self, capability, action):
            from backends.errors import Unsupported

            raise Unsupported(f"the plain backend cannot {action}")

    with pytest.raises(Exception, match="cannot pass a method"):
        run(Invoke("echo", method="GET").run(Plain()))


def test_what_has_no_spec_says_so():
    with pytest.raises(ValueError, match="loop"):
        from_cli(*parse(["faastui", "optimize-fusion", "--every", "5"]))
    with pytest.raises(ValueError, match="not an action"):
        from_cli("functions", {})
    with pytest.raises(ValueError, match="bytes"):
        Invoke("echo", b"\x00").to_argv()


@pytest.mark.parametrize(
    "spec, message",
    [
        (Invoke(""), "pick a function"),
        (Prewarm("hello", node="n", all_nodes=True), "either --node or --all-nodes"),
        (Prewarm("hello", count=0), "at least 1"),
        (Dispatch("x", ()), "at least one step"),
        (Dispatch("x", (DispatchStep("n", "f"),), mode="star"), "chain or fanout"),
        (Fuse(("only",)), "at least two"),
        (Unfuse(""), "no fusion group"),
        (Remove(()), "pick a function"),
        (Deploy("/nonexistent/fn"), "does not exist"),
    ],
)
def test_validate_refuses_before_any_backend_call(spec, message):
    class NoBackend:  # any attribute use is a failure: validation comes first
        def __getattr__(self, name):
            raise AssertionError(f"the backend was called ({name}) for an invalid spec")

    with pytest.raises(InvalidRequest, match=message):
        run(spec.run(NoBackend()))


def test_prewarm_on_all_nodes_starts_one_batch_per_engine_node(engine):
    async def go():
        async with engine.backend() as b:
            nodes = sorted(n.name for n in await b.nodes())
            started = await Prewarm("echo", count=1, all_nodes=True).run(b)
        return nodes, started

    nodes, started = run(go())
    assert len(nodes) >= 2
    assert sorted(i.node for i in started) == nodes
    assert {i.function for i in started} == {"echo"}


def test_scale_and_invoke_specs_run_on_the_engine(engine):
    async def go():
        async with engine.backend() as b:
            before = (await b.describe("sleep")).replicas
            try:
                up = await Scale("sleep", "+1").run(b)
                inv = await Invoke("echo", {"spec": 1}, node="node-2").run(b)
            finally:
                await b.scale("sleep", before)
        return before, up, inv

    before, up, inv = run(go())
    assert up.replicas == before + 1
    assert inv.status == "ok" and inv.node == "node-2" and inv.result == {"spec": 1}


def test_every_dialog_shows_a_line_the_cli_parses_as_its_spec():
    """Each action dialog of the dashboard (fixed data, as in the snapshot tests), filled as
    the snapshots fill it: the line it shows is what the CLI parses into the dialog's spec."""
    import asyncio

    from faastui.tui.dialogs import ActionDialog

    from .test_tui_snapshots import DIALOGS, SIZE, _dialog, make

    seen = set()

    async def go(name, keys, fill):
        app = make()
        async with app.run_test(size=SIZE) as pilot:
            await _dialog(keys, fill)(pilot)
            dialog = app.screen
            assert isinstance(dialog, ActionDialog), name
            line = str(dialog.query_one("#cmdline").render())
            assert line.startswith("$ faastui ")
            spec = dialog.spec()
            assert from_cli(*parse(shlex.split(line[2:]))) == spec, line
            seen.add(spec.verb)

    for name, (keys, fill) in DIALOGS.items():
        if name != "help":
            asyncio.run(go(name, keys, fill))
    assert seen == set(actions.SPECS)
