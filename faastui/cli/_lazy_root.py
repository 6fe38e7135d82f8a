"""The root that `faastui --help`, bare `faastui` and a mistyped command run on: every
command and group of the whole app (``app.py``) listed as typer lists it, none of them built.

Building a command means reading its function's parameters and making a click option of
each: for the forty-odd commands that is most of what `faastui --help` spent past
importing typer, only to print one line per command. ``new_lazy_app()`` is ``new_app()``
(the global options and ``ui``, built for real) plus one ``Unbuilt`` stand-in per command
and group, carrying the name, help and flags typer would have given it
(``_typer_compat.listed``) and no parameters. So the help, the "No such command ... Did you
mean" error and bare `faastui` read the same as through the whole app. Should argv still
reach a stand-in (`faastui -- version`, which entry.py does not read as a command), it
builds the whole app and hands over to the real command.

tests/test_cli_entry.py compares this root's help with the whole app's, byte for byte.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand

from ._typer_compat import listed
from .root import new_app

__all__ = ["new_lazy_app", "unbuilt_copy", "Unbuilt"]


class Unbuilt(TyperCommand):
    """A command of the whole app (``whole``, set on a subclass per lazy root) as its parent
    lists it; made a context (run), it builds the whole app and gives the real command's
    context instead."""

    whole: typer.Typer

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any):
        real = typer.main.get_command(self.whole).commands[self.name]  # the rare path: past `--`
        return real.make_context(info_name, args, parent=parent, **extra)


def _unbuilt() -> None:  # no docstring: typer reads the callback's when help is None
    raise AssertionError("an unbuilt command ran")  # never: make_context hands over


def _below(groups: list) -> Any:
    """What typer lists in the parent of ``groups`` (``add_typer`` infos), in its order: a
    named group as itself, an unnamed one's commands and groups in its place."""
    for group in groups:
        if isinstance(group.name, str):
            yield group
        else:
            yield from group.typer_instance.registered_commands
            yield from _below(group.typer_instance.registered_groups)


def unbuilt_copy(whole: typer.Typer, root: typer.Typer) -> typer.Typer:
    """``root`` (a Typer with ``whole``'s settings, callback and own commands) given every
    command and group of ``whole``'s groups, unbuilt. Returns: ``root``."""
    stand_in = type("Unbuilt", (Unbuilt,), {"whole": whole})
    for info in _below(whole.registered_groups):
        root.command(cls=stand_in, **listed(info))(_unbuilt)
    return root


def new_lazy_app() -> typer.Typer:
    """The root Typer with every command and group of the whole app, unbuilt; the root's
    own commands (``ui``) come from ``new_app()``, as in the whole app."""
    from .app import app as whole  # imports every command module (their names and help)

    return unbuilt_copy(whole, new_app())
