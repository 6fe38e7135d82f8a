"""Every use of typer's internals by the CLI, behind one door: swapping its value coercion,
reading each function's parameters once (``install_param_cache``), how typer lists a
command or group at its parent (``listed``, for the root `faastui --help` builds without
building the commands: ``_lazy_root.py``), and the shell completion scripts
(``completion_script``, for `faastui completion SHELL`).

typer converts each parameter value through ``_TyperParameter.get_runtime_param()``, a
``typer._coercion.RuntimeParam`` built lazily from the parameter's ``type_descriptor``
(by default a pydantic TypeAdapter; see ``_fastparams.py`` for why we avoid it).
``install_coercion(choose, coerce)`` replaces that method: for a parameter where
``choose(annotation)`` gives ``(leaf type, is_list)``, values go through ``coerce(leaf,
parameter_info, value)`` instead (a ``ValueError`` becomes typer's ``BadParameter``, so
the usage error looks the same); any other parameter keeps typer's own coercion.

Every run builds the whole command tree, and typer reads a function's parameters
(``inspect.signature`` and ``get_type_hints``, evaluating each string annotation again)
three to four times per command and once per option for its completion function: 188
readings for 62 functions, ~20 ms of every `faastui` start. ``install_param_cache()``
makes typer read each function once; its callers only read the answer (checked against
typer 0.29's ``typer/main.py``), and each gets its own copy of the mapping.

``TOUCHES`` lists what this relies on; tests/test_typer_compat.py checks it against the
installed typer. pyproject.toml pins typer to the minor version this was written for
(``TESTED``). If typer lacks any of it, ``install_coercion`` does nothing and returns
False: the CLI is then a little slower to start, never wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TESTED", "TOUCHES", "install_coercion", "install_param_cache", "listed", "missing", "completion_script"]

#: the typer minor version this module is written for (pyproject.toml pins it)
TESTED = "0.29"

#: (owner, name, what we rely on); ``(...)`` lists the parameters we call or override with
TOUCHES: list[tuple[str, str, str]] = [
    ("typer.core", "_TyperParameter", "class: the base of typer's Option and Argument"),
    ("typer.core._TyperParameter", "get_runtime_param(self)", "replaced: picks the coercion"),
    ("typer.core._TyperParameter", "_runtime_param", "instance: the cached RuntimeParam (None first)"),
    ("typer.core._TyperParameter", "type_descriptor", "instance: a TypeDescriptor"),
    ("typer._coercion", "TypeDescriptor", "class: what typer knows of a parameter's type"),
    ("typer._coercion.TypeDescriptor", "annotation", "field"),
    ("typer._coercion.TypeDescriptor", "parameter_info", "field: a typer.models.ParameterInfo"),
    ("typer._coercion.TypeDescriptor", "file_annotation", "field: None unless a file type"),
    ("typer._coercion", "RuntimeParam", "class: a frozen dataclass, subclassed"),
    ("typer._coercion.RuntimeParam", "parameter_info", "field"),
    ("typer._coercion.RuntimeParam", "annotation", "field"),
    ("typer._coercion.RuntimeParam", "_coerce_value(self, value, param, ctx)", "override"),
    ("typer._coercion", "build_runtime_param(descriptor)", "call: typer's own coercion"),
    ("typer._click.exceptions", "BadParameter", "class: BadParameter(message, ctx=, param=)"),
    (
        "typer._completion_shared",
        "get_completion_script(prog_name, complete_var, shell)",
        "call: the script `faastui completion SHELL` prints",
    ),
    ("typer._completion_shared", "_completion_scripts", "the shells it has scripts for"),
    ("typer.main", "get_params_from_function(func)", "wrapped: read once per function"),
    ("typer.main", "get_command_name(name)", "call: a command's name from its function's"),
    ("typer.main", "solve_typer_info_defaults(typer_info)", "call: a group's name, help and flags"),
    ("typer.models", "CommandInfo", "class: a registered command"),
    ("typer.models", "TyperInfo", "class: a registered group"),
]

Choose = Callable[[Any], "tuple[Any, bool] | None"]
Coerce = Callable[[Any, Any, Any], Any]


def install_coercion(choose: Choose, coerce: Coerce) -> bool:
    """Route the parameters ``choose`` accepts through ``coerce``. Returns: whether it is
    installed (False, changing nothing, on a typer without these internals or when a
    coercion is installed already)."""
    try:
        from typer import core
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam, build_runtime_param
    except ImportError:
        return False
    param_cls = getattr(core, "_TyperParameter", None)
    if param_cls is None or not hasattr(param_cls, "get_runtime_param") or getattr(param_cls, "_faastui_fast", False):
        return False

    classes: list = []

    def fast_class():  # built on first use: `--help` coerces nothing and skips it
        if not classes:
            classes.append(_make_class(RuntimeParam, BadParameter, coerce))
        return classes[0]

    def get_runtime_param(self):
        if self._runtime_param is None:
            desc = self.type_descriptor
            plain = None
            if desc.file_annotation is None and getattr(desc.parameter_info, "parser", None) is None:
                plain = choose(desc.annotation)
            if plain is None:
                self._runtime_param = build_runtime_param(desc)
            else:
                self._runtime_param = fast_class()(
                    parameter_info=desc.parameter_info, annotation=desc.annotation, leaf=plain[0], is_list=plain[1]
                )
        return self._runtime_param

    param_cls.get_runtime_param = get_runtime_param
    param_cls._faastui_fast = True
    return True


def install_param_cache() -> bool:
    """Make typer read each command function's parameters once per process. Returns:
    whether it is installed (False, changing nothing, on a typer without the function or
    when installed already)."""
    try:
        from typer import main
    except ImportError:
        return False
    original = getattr(main, "get_params_from_function", None)
    if original is None or getattr(original, "_faastui_cached", False):
        return False
    seen: dict[Any, dict] = {}

    def get_params_from_function(func):
        try:
            params = seen[func]
        except KeyError:
            params = seen[func] = original(func)
        except TypeError:  # an unhashable callable: typer's own answer, every time
            return original(func)
        return dict(params)

    get_params_from_function._faastui_cached = True
    main.get_params_from_function = get_params_from_function
    return True


def listed(info: Any) -> dict[str, Any]:
    """The fields a parent's Commands listing reads of a registered command (a typer
    ``CommandInfo``) or group (a ``TyperInfo`` from ``add_typer``), solved as typer's
    ``get_command_from_info`` and ``get_group_from_info`` solve them, without building its
    parameters: ``name``, ``help``, ``short_help``, ``hidden``, ``deprecated`` and
    ``rich_help_panel``, ready for ``Typer.command(**fields)``."""
    import inspect

    from typer import main
    from typer.models import CommandInfo

    keys = ("short_help", "hidden", "deprecated", "rich_help_panel")
    if isinstance(info, CommandInfo):
        name = info.name or main.get_command_name(info.callback.__name__)
        text = inspect.getdoc(info.callback) if info.help is None else inspect.cleandoc(info.help)
        return {"name": name, "help": text, **{k: getattr(info, k) for k in keys}}
    solved = main.solve_typer_info_defaults(info)
    return {"name": solved.name, "help": solved.help, **{k: getattr(solved, k) for k in keys}}


def completion_script(shell: str, prog_name: str = "faastui") -> str:
    """The completion script for ``shell`` (bash, zsh, fish, powershell), the one typer's
    ``--show-completion`` prints. Raises: ValueError for a shell typer has no script for."""
    from typer import _completion_shared as shared

    if shell not in shared._completion_scripts:
        raise ValueError(f"no completion script for {shell!r}: {', '.join(sorted(shared._completion_scripts))}")
    complete_var = "_{}_COMPLETE".format(prog_name.replace("-", "_").upper())
    return shared.get_completion_script(prog_name=prog_name, complete_var=complete_var, shell=shell)


def _make_class(RuntimeParam, BadParameter, coerce: Coerce):
    @dataclass(frozen=True)
    class FastRuntimeParam(RuntimeParam):
        leaf: Any = None
        is_list: bool = False

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                if self.is_list:
                    return [coerce(self.leaf, self.parameter_info, v) for v in value]
                return coerce(self.leaf, self.parameter_info, value)
            except ValueError as exc:
                raise BadParameter(str(exc), ctx=ctx, param=param) from None

    return FastRuntimeParam


def missing() -> list[str]:
    """What of ``TOUCHES`` the installed typer lacks (or has with other parameters)."""
    import importlib
    import inspect

    def resolve(dotted: str) -> Any:
        try:
            return importlib.import_module(dotted)
        except ImportError:
            module_name, _, attr = dotted.rpartition(".")
            try:
                return getattr(importlib.import_module(module_name), attr, None)
            except ImportError:
                return None

    out = []
    for owner, name, why in TOUCHES:
        obj = resolve(owner)
        base, _, wanted = name.partition("(")
        if obj is None:
            out.append(f"{owner} (gone)")
        elif why.startswith("instance"):
            if not all(hasattr(p, base) for p in _sample_parameters()):
                out.append(f"{owner}.{base} (on an instance)")
        elif why.startswith("field"):
            if base not in getattr(obj, "__dataclass_fields__", {}):
                out.append(f"{owner}.{base} (a dataclass field)")
        elif not hasattr(obj, base):
            out.append(f"{owner}.{base}")
        elif wanted:
            want = [p.strip() for p in wanted.rstrip(")").split(",") if p.strip()]
            have = list(inspect.signature(getattr(obj, base)).parameters)
            if have != want:
                out.append(f"{owner}.{base}({', '.join(have)}) — expected ({', '.join(want)})")
    return out


@functools.cache
def _sample_parameters() -> tuple:
    """typer parameters of a throwaway command (instance attributes live only there)."""
    import typer
    import typer.main

    app = typer.Typer()

    @app.command()
    def sample(name: str = typer.Argument("x"), count: int = typer.Option(1)) -> None:
        """A command for inspection only."""

    return tuple(typer.main.get_command(app).params)
