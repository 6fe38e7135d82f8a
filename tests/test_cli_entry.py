"""The console script builds only the command argv names (faastui/cli/entry.py): its table
agrees with the whole app, argv is read past the global options, and a command run that
way answers exactly as through the whole app, without importing the other groups."""

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


def _run(program: str, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "100", "FAASTUI_CONTEXT": f"nowhere-{os.getpid()}"}
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
