"""The typer internals the CLI patches (faastui/cli/_typer_compat.py) are there in the
installed typer, the patch is in force, and values coerce as typer would have them.

When this fails after a typer upgrade, the message lists what moved: update
``_typer_compat`` (and its ``TOUCHES``) before moving the pin in pyproject.toml.
"""

from __future__ import annotations

import enum
import importlib.metadata
from pathlib import Path

import pytest
import typer
import typer.main

from faastui.cli import _typer_compat as compat
from faastui.cli._fastparams import coerce

from .conftest import cli


def test_every_typer_internal_we_touch_is_there():
    missing = compat.missing()
    version = importlib.metadata.version("typer")
    assert not missing, (
        f"typer {version} lacks what faastui/cli/_typer_compat.py relies on "
        f"(written for {compat.TESTED}.x): " + "; ".join(missing)
    )


def test_the_installed_typer_is_the_pinned_minor_version():
    version = importlib.metadata.version("typer")
    assert version.startswith(compat.TESTED + "."), version
    pyproject = (Path(compat.__file__).parents[2] / "pyproject.toml").read_text()
    major, minor = compat.TESTED.split(".")
    assert f'"typer>={compat.TESTED},<{major}.{int(minor) + 1}"' in pyproject


class Colour(str, enum.Enum):
    red = "red"
    blue = "blue"


def _params():
    import faastui.cli.root  # noqa: F401 - the root of the CLI installs the coercion

    app = typer.Typer()

    @app.command()
    def sample(
        n: int = typer.Option(1, min=1),
        ratio: float | None = typer.Option(None),
        colour: Colour = typer.Option(Colour.red, case_sensitive=False),
        names: list[str] = typer.Option([]),
        path: Path = typer.Option(Path(".")),
        when: typer.FileText | None = typer.Option(None),
    ):
        """For inspection only."""

    return {p.name: p for p in typer.main.get_command(app).params}


def test_plain_parameters_get_the_fast_coercion_and_the_others_keep_typers():
    params = _params()
    for name in ("n", "ratio", "colour", "names", "path"):
        assert type(params[name].get_runtime_param()).__name__ == "FastRuntimeParam", name
    assert type(params["when"].get_runtime_param()).__name__ != "FastRuntimeParam"


def test_install_twice_changes_nothing():
    import faastui.cli.root  # noqa: F401

    assert compat.install_coercion(lambda a: None, coerce) is False


def test_typer_reads_each_function_once_and_gets_what_it_would_read():
    import typer.main
    import typer.utils

    import faastui.cli.root  # noqa: F401  (installs the cache)
    from faastui.cli._common import complete_context

    def command(name: str = typer.Argument("x"), count: int = typer.Option(1, autocompletion=complete_context)):
        """For inspection only."""

    cached = typer.main.get_params_from_function
    assert cached is not typer.utils.get_params_from_function and compat.install_param_cache() is False
    for func in (command, complete_context):
        own, first, again = typer.utils.get_params_from_function(func), cached(func), cached(func)
        shape = [(p.name, p.annotation, type(p.default)) for p in own.values()]
        assert [(p.name, p.annotation, type(p.default)) for p in first.values()] == shape
        assert first is not again and all(a is b for a, b in zip(first.values(), again.values()))  # read once


@pytest.mark.parametrize(
    "leaf, value, expected",
    [
        (int, "3", 3),
        (float, "0.5", 0.5),
        (bool, "yes", True),
        (bool, "off", False),
        (Path, "a/b", Path("a/b")),
        (Colour, "BLUE", Colour.blue),
        (str, b"bytes", "bytes"),
    ],
)
def test_values_coerce(leaf, value, expected):
    info = _params()["colour"].type_descriptor.parameter_info  # case_sensitive=False
    assert coerce(leaf, info, value) == expected


def test_bad_values_are_typers_usage_errors_with_its_messages():
    for args, needle in (
        (["prewarm", "x", "--count", "abc"], "'abc' is not a valid integer."),
        (["prewarm", "x", "--count", "0"], "0 is not in the range x>=1."),
        (["functions", "-o", "xml"], "'xml' is not one of"),
    ):
        result = cli(*args, code=2)
        assert needle in result.stderr, (args, result.stderr)


def test_the_check_catches_a_missing_name_and_a_changed_signature(monkeypatch):
    monkeypatch.setattr(
        compat,
        "TOUCHES",
        [
            ("typer.core._TyperParameter", "_no_such_attr", "instance: made up"),
            ("typer._coercion", "build_runtime_param(descriptor, extra)", "changed"),
            ("typer._coercion.TypeDescriptor", "no_such_field", "field"),
            ("typer._no_such_module", "Thing", "gone"),
        ],
    )
    out = compat.missing()
    assert len(out) == 4, out
    assert "_no_such_attr" in out[0] and "expected (descriptor, extra)" in out[1]
    assert "no_such_field" in out[2] and "_no_such_module" in out[3]
