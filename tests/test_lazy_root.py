"""The root that lists commands without building them (faastui/cli/_lazy_root.py) lists
them as typer would, for every way a command or group gets its name, help and flags, not
only the ways today's commands use (tests/test_cli_entry.py compares the real root)."""

from __future__ import annotations

import typer
import typer.main

from faastui.cli._lazy_root import unbuilt_copy


def _root_callback(ctx: typer.Context, verbose: bool = typer.Option(False, "--verbose")):
    """A root for inspection only."""


def _apps() -> tuple[typer.Typer, typer.Typer]:
    """(a whole app using every listing feature, a root with only its callback)."""

    def new() -> typer.Typer:
        app = typer.Typer(rich_markup_mode=None)
        app.callback(invoke_without_command=True)(_root_callback)
        return app

    flat = typer.Typer(rich_markup_mode=None)

    @flat.command()
    def plain(name: str = typer.Argument("x")):
        """One line from the docstring.

        More text that the listing never shows."""

    @flat.command("given-help", help="   Help given to command(), indented\n    over two lines.")
    def given(count: int = typer.Option(1)):
        """A docstring the given help overrides."""

    @flat.command(short_help="The short help wins.")
    def with_short():
        """A docstring long enough that the listing would have had to cut it somewhere past here."""

    @flat.command(deprecated=True)
    def old_one():
        """Do not use."""

    @flat.command(hidden=True)
    def secret_alias():
        """Never listed."""

    @flat.command()
    def undocumented():
        pass

    nested = typer.Typer()

    @nested.command()
    def deep():
        """From a group inside a group without a name."""

    flat.add_typer(nested)

    by_typer = typer.Typer(help="Help given to Typer().", rich_markup_mode=None)
    by_typer.command()(plain)
    by_typer.command("other")(given)
    by_callback = typer.Typer(rich_markup_mode=None)

    @by_callback.callback()
    def docs():
        """Help from the group's callback."""

    by_callback.command()(plain)
    by_callback.command("other")(given)
    by_add = typer.Typer(help="Overridden by add_typer.", rich_markup_mode=None)
    by_add.command()(plain)
    by_add.command("other")(given)

    whole = new()
    whole.add_typer(flat)
    whole.add_typer(by_typer, name="typed")
    whole.add_typer(by_callback, name="called")
    whole.add_typer(by_add, name="added", help="Given to add_typer.", short_help="Short, from add_typer.")
    whole.add_typer(by_typer, name="hidden-group", hidden=True)
    return whole, new()


def _help(typer_app: typer.Typer) -> str:
    group = typer.main.get_command(typer_app)
    return group.get_help(group.make_context("prog", [], resilient_parsing=True))


def test_the_unbuilt_root_lists_as_typer_does():
    whole, root = _apps()
    want = _help(whole)
    assert "given-help" in want and "(DEPRECATED)" in want and "deep" in want and "Short, from" in want
    assert "secret-alias" not in want and "hidden-group" not in want
    assert _help(unbuilt_copy(whole, root)) == want


def test_an_unbuilt_command_hands_over_to_the_real_one(capsys):
    whole, root = _apps()
    group = typer.main.get_command(unbuilt_copy(whole, root))
    assert all(not c.params for c in group.commands.values())  # nothing was built
    try:
        group.main(["given-help", "--help"], prog_name="prog")
    except SystemExit as stop:
        assert stop.code == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: prog given-help [OPTIONS]") and "--count" in out
