"""The console script builds only the command argv names (faastui/cli/entry.py): its table
agrees with the whole app, argv is read past the global options, and a command run that
way answers exactly as through the whole app, without importing the other groups. The root
help lists every command without building one (faastui/cli/_lazy_root.py), and reads, at
any width, exactly as the whole app's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from faastui.cli import entry


def _whole():
    from faastui.cli import app

    return app


def _names(typer_app) -> set[str]:
    return {c.name or c.callback.__name__.replace("_", "-") for c in typer_app.registered_commands}


def test_the_table_names_every_command_of_the_whole_app_and_its_module():
    import importlib

    whole = _whole()
    found: dict[str, str] = {}
    for group in whole.registered_groups:
        typer_app = group.typer_instance
        module = next(
            m
            for m in set(entry.COMMAND_MODULES.values()) | set(entry.GROUPS.values())
            if importlib.import_module(f"faastui.cli.{m}").app is typer_app
        )
        if isinstance(group.name, str):  # a named group: `faastui NAME ...`
            found[group.name] = module
        else:
            found.update(dict.fromkeys(_names(typer_app), module))
    assert found == {**entry.COMMAND_MODULES, **entry.GROUPS}
    assert _names(whole) == {"ui"}  # the root's own command, in root.py


@pytest.mark.parametrize(
    "argv, name",
    [
        (["invoke", "hello"], "invoke"),
        (["--context", "prod", "-n", "dev", "functions", "-o", "json"], "functions"),
        (["-g", "http://x", "--readonly", "workflow", "status"], "workflow"),
        (["--theme", "light", "--view", "fn"], None),
        (["--help"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_the_command_is_read_past_the_global_options(argv, name):
    assert entry.command_in(argv) == name


def _run(program: str, args: list[str], columns: int = 100) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "FAASTUI_CONTEXT": f"nowhere-{os.getpid()}"}
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize(
    "args, code",
    [
        (["invoke", "--help"], 0),
        (["secret", "--help"], 0),
        (["workflow", "run", "--help"], 0),
        (["scale", "fn"], 2),  # a usage error names the command as the whole app does
        (["context", "show", "no-such-context"], 2),
        (["-n", "dev", "functions"], 2),  # the context named by $FAASTUI_CONTEXT is unknown
        (["--help"], 0),  # the root lists every command: the lazy root (_lazy_root.py)
        (["--context", "x", "-h"], 0),
        ([], 0),  # no terminal: the root's help
        (["ui", "--help"], 0),
        (["funtions"], 2),  # "No such command ... Did you mean 'functions'?"
        (["--bogus"], 2),
        (["--", "version", "--help"], 0),  # past `--`: an unbuilt command hands over
        (["--", "secret", "ls", "--help"], 0),
    ],
)
def test_a_command_answers_as_through_the_whole_app(args, code):
    got = _run("from faastui.__main__ import main; main()", args)  # the console script
    want = _run("from faastui.cli.app import app; app(prog_name='faastui')", args)
    assert (got.returncode, want.returncode) == (code, code), got.stderr
    assert got.stdout == want.stdout and got.stderr == want.stderr


def test_only_the_named_command_is_imported():
    code = (
        "import sys\n"
        "sys.argv = ['faastui', 'version', '--help']\n"
        "from faastui.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('faastui.cli.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "faastui.cli.meta" in out
    for other in ("faastui.cli.workflow", "faastui.cli.secrets", "faastui.cli.reads", "faastui.cli.app"):
        assert other not in out, out


@pytest.mark.parametrize("columns", [40, 80, 200])
def test_the_root_help_reads_as_the_whole_apps_at_any_width(columns):
    got = _run("from faastui.__main__ import main; main()", ["--help"], columns)
    want = _run("from faastui.cli.app import app; app(prog_name='faastui')", ["--help"], columns)
    assert got.returncode == want.returncode == 0, got.stderr
    assert got.stdout == want.stdout and got.stderr == want.stderr


def test_the_root_help_lists_every_command_and_group():
    import typer.main

    whole = typer.main.get_command(_whole())
    shown = {name for name, command in whole.commands.items() if not command.hidden}
    assert {"invoke", "functions", "deploy", "context", "workflow", "secret", "ui"} <= shown
    out = _run("from faastui.__main__ import main; main()", ["--help"], 80).stdout
    listing = out.split("\nCommands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listing if line.strip()] == [n for n in whole.commands if n in shown]
    width = whole.make_context("faastui", [], resilient_parsing=True).make_formatter().width
    for name in shown:  # each with its own one-line help, cut as click cuts it
        short = whole.commands[name].get_short_help_str(width - 6 - max(map(len, shown)))
        assert any(line.split(None, 1) == [name, short] for line in listing), (name, short)


def _built_by(argv: list[str]) -> list[tuple[str, int]]:
    """(name, parameter count) of each command typer builds for ``argv``."""
    code = (
        "import sys\n"
        f"sys.argv = ['faastui', *{argv!r}]\n"
        "import typer.main\n"
        "built = []\n"
        "real = typer.main.get_command_from_info\n"
        "def spy(command_info, **kw):\n"
        "    command = real(command_info, **kw)\n"
        "    built.append((command.name, len(command.params)))\n"
        "    return command\n"
        "typer.main.get_command_from_info = spy\n"
        "from faastui.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(built, file=sys.stderr)\n"
    )
    env = {**os.environ, "FAASTUI_CONTEXT": f"nowhere-{os.getpid()}"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    return eval(out.stderr.strip().splitlines()[-1])


def test_the_root_help_builds_no_command():
    built = _built_by(["--help"])
    assert ("invoke", 0) in built and ("secret", 0) in built  # listed, with no parameters
    assert [name for name, params in built if params] == ["ui"]  # only the root's own command is built


@pytest.mark.parametrize(
    "argv, names",
    [
        (["invoke", "--help"], ["invoke"]),
        (["-n", "dev", "ls", "--help"], ["ls"]),  # an alias is a command of its own
        (["version", "--help"], ["version"]),
        (["context", "--help"], ["list", "use", "add", "rm", "show"]),
    ],
)
def test_a_command_is_built_alone(argv, names):
    assert [name for name, _ in _built_by(argv)] == names
