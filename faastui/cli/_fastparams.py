"""Coerce plain CLI values without pydantic (a start-up fix, not a feature).

typer >= 0.2x converts every parameter value through a pydantic TypeAdapter:
~0.1 s of import plus adapter building on every run, a third of the 0.3 s a
one-shot ``faastui invoke`` may take. The annotations this CLI uses are
plain (str, int, float, bool, pathlib.Path, str Enums, lists of those), so
``install()`` gives typer's parameters a stdlib coercion for exactly those,
with typer's own messages for bad values and min/max; any other annotation,
or a typer without these internals, keeps typer's own path unchanged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin

__all__ = ["install"]

_SIMPLE = (str, int, float, bool, Path)


def _leaf(annotation: Any) -> Any | None:
    """The plain type behind ``annotation`` (Optional unwrapped), or None."""
    if get_origin(annotation) is Union:
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    if annotation in _SIMPLE or (isinstance(annotation, type) and issubclass(annotation, enum.Enum)):
        return annotation
    return None


def _plain(annotation: Any) -> tuple[Any, bool] | None:
    """(leaf type, is_list) when this module can coerce ``annotation``."""
    if get_origin(annotation) is list:
        args = get_args(annotation)
        leaf = _leaf(args[0]) if len(args) == 1 else None
        return (leaf, True) if leaf is not None else None
    leaf = _leaf(annotation)
    return (leaf, False) if leaf is not None else None


def install() -> bool:
    """Patch typer's parameter coercion; returns False (and does nothing) if unsure."""
    try:
        from typer import core
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam, build_runtime_param
    except ImportError:
        return False
    param_cls = getattr(core, "_TyperParameter", None)
    if param_cls is None or not hasattr(param_cls, "get_runtime_param") or getattr(
            param_cls, "_faastui_fast", False):
        return False

    classes: list = []

    def fast_class():  # built on first use: `--help` coerces nothing and skips it
        if not classes:
            classes.append(_make_class(RuntimeParam, BadParameter))
        return classes[0]

    def get_runtime_param(self):
        if self._runtime_param is None:
            desc = self.type_descriptor
            plain = None
            if desc.file_annotation is None and getattr(desc.parameter_info, "parser", None) is None:
                plain = _plain(desc.annotation)
            if plain is None:
                self._runtime_param = build_runtime_param(desc)
            else:
                self._runtime_param = fast_class()(
                    parameter_info=desc.parameter_info, annotation=desc.annotation,
                    leaf=plain[0], is_list=plain[1])
        return self._runtime_param

    param_cls.get_runtime_param = get_runtime_param
    param_cls._faastui_fast = True
    return True


def _make_class(RuntimeParam, BadParameter):
    @dataclass(frozen=True)
    class FastRuntimeParam(RuntimeParam):
        leaf: Any = None
        is_list: bool = False

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.is_list:
                return [self._one(v, param, ctx) for v in value]
            return self._one(value, param, ctx)

        def _one(self, value: Any, param: Any, ctx: Any) -> Any:
            leaf, info = self.leaf, self.parameter_info
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            if leaf is str:
                return str(value)
            if leaf is Path:
                return value if isinstance(value, Path) else Path(value)
            if leaf is bool:
                if isinstance(value, bool):
                    return value
                text = str(value).strip().lower()
                if text in ("1", "true", "t", "yes", "y", "on"):
                    return True
                if text in ("0", "false", "f", "no", "n", "off"):
                    return False
                raise BadParameter(f"{value!r} is not a valid boolean.", ctx=ctx, param=param)
            if isinstance(leaf, type) and issubclass(leaf, enum.Enum):
                if isinstance(value, leaf):
                    return value
                for member in leaf:
                    if str(member.value) == str(value) or (
                            not info.case_sensitive and str(member.value).lower() == str(value).lower()):
                        return member
                choices = ", ".join(repr(str(m.value)) for m in leaf)
                raise BadParameter(f"{value!r} is not one of {choices}.", ctx=ctx, param=param)
            try:
                number = leaf(value) if not isinstance(value, leaf) else value
            except (TypeError, ValueError):
                kind = "integer" if leaf is int else "float"
                raise BadParameter(f"{value!r} is not a valid {kind}.", ctx=ctx, param=param) from None
            lo, hi = info.min, info.max
            if info.clamp:
                number = max(lo, number) if lo is not None else number
                number = min(hi, number) if hi is not None else number
            elif (lo is not None and number < lo) or (hi is not None and number > hi):
                if lo is not None and hi is not None:
                    rng = f"{lo}<=x<={hi}"
                elif lo is not None:
                    rng = f"x>={lo}"
                else:
                    rng = f"x<={hi}"
                raise BadParameter(f"{number} is not in the range {rng}.", ctx=ctx, param=param)
            return number

    return FastRuntimeParam
