"""``faastui``'s entry point: the command argv names is built alone.

typer builds the whole command tree on every run, and importing every command module
costs as much again: ~25 ms of a one-shot `faastui invoke`. ``main()`` reads argv past
the global options to the command's name; when ``COMMAND_MODULES`` knows it, only that
command joins the root (``root.new_app()``), and of ``GROUPS`` only that group. Help, no
command, ``ui`` or an unknown command get the root that lists every command without
building one (``_lazy_root.new_lazy_app()``), so every listing and every "No such command"
is the same as through the whole app (``app.py``), which only shell completion builds.
tests/test_cli_entry.py checks the table against the whole app and runs commands both ways.
"""

from __future__ import annotations

import importlib
import os
import sys

__all__ = ["COMMAND_MODULES", "GROUPS", "main", "command_in"]

#: command -> the module (under faastui.cli) whose ``app`` holds it, joined at the root
COMMAND_MODULES = {
    **dict.fromkeys(
        ("nodes", "functions", "ls", "list", "placement", "describe", "queues", "qos", "fusion", "namespaces", "logs"),
        "reads",
    ),
    **dict.fromkeys(
        ("invoke", "result", "prewarm", "dispatch", "fuse", "unfuse", "scale", "deploy", "rm", "delete", "remove"),
        "actions",
    ),
    **dict.fromkeys(("up", "down", "status", "demo"), "engine"),
    "watch": "watching",
    "bench": "load",
    "optimize-fusion": "fusion",
    "serve": "serve",
    **dict.fromkeys(("version", "info", "completion"), "meta"),
}
#: command groups with a name of their own -> their module
GROUPS = {"context": "context", "workflow": "workflow", "secret": "secrets"}


def command_in(argv: list[str]) -> str | None:
    """The command ``argv`` (without the program) names, past the global options; None
    for help, a version flag or no command."""
    from .root import ROOT_VALUE_OPTIONS

    args = iter(argv)
    for arg in args:
        if arg in ("-h", "--help", "--version") or arg == "--":
            return None
        if arg in ROOT_VALUE_OPTIONS:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def main() -> None:
    argv = sys.argv[1:]
    name = command_in(argv)
    completing = any(key.endswith("_COMPLETE") and key.startswith("_FAASTUI") for key in os.environ)
    module = COMMAND_MODULES.get(name) or GROUPS.get(name)
    if completing:  # completing a word may need any command's parameters
        from .app import app
    elif module is None:  # help, no command, `ui` or one that does not exist
        from ._lazy_root import new_lazy_app

        app = new_lazy_app()
    else:
        from .root import new_app

        app = new_app(with_ui=False)  # `ui` is out of reach past another command's name
        group = importlib.import_module(f"faastui.cli.{module}").app
        if name in GROUPS:
            app.add_typer(group, name=name)
        else:  # the one command, as add_typer(group) would join it (its group has no callback)
            app.registered_commands += _commands_named(name, group)
    app(prog_name="faastui")


def _commands_named(name: str, group) -> list:
    """The commands of the typer ``group`` that typer names ``name``."""
    from ._typer_compat import listed

    return [info for info in group.registered_commands if listed(info)["name"] == name]
