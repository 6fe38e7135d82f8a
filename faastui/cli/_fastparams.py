"""Coerce plain CLI values without pydantic (a start-up fix, not a feature).

typer >= 0.2x converts every parameter value through a pydantic TypeAdapter:
~0.1 s of import plus adapter building on every run, a third of the 0.3 s a
one-shot ``faastui invoke`` may take. The annotations this CLI uses are
plain (str, int, float, bool, pathlib.Path, str Enums, lists of those), so
``install()`` gives typer's parameters a stdlib coercion for exactly those,
with typer's own messages for bad values and min/max; any other annotation,
or a typer without these internals, keeps typer's own path unchanged. The
plumbing into typer is ``_typer_compat.install_coercion``; this module is only
the coercion, and imports nothing of typer's.
"""

from __future__ import annotations

import enum
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from ._typer_compat import install_coercion, install_param_cache

__all__ = ["install", "coerce"]

_SIMPLE = (str, int, float, bool, Path)


def _leaf(annotation: Any) -> Any | None:
    """The plain type behind ``annotation`` (Optional unwrapped), or None."""
    if get_origin(annotation) in (Union, types.UnionType):  # Optional[X] or X | None
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
    """Patch typer's parameter coercion, and make it read each command's parameters once;
    returns False (and does nothing) if unsure."""
    cached = install_param_cache()
    return install_coercion(_plain, coerce) and cached


def coerce(leaf: Any, info: Any, value: Any) -> Any:
    """``value`` as ``leaf`` (str, int, float, bool, Path or a str Enum), checked against
    the option's min/max/clamp and case_sensitive (``info``, a typer ParameterInfo).
    Raises: ValueError with typer's message for a bad value."""
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
        raise ValueError(f"{value!r} is not a valid boolean.")
    if isinstance(leaf, type) and issubclass(leaf, enum.Enum):
        if isinstance(value, leaf):
            return value
        for member in leaf:
            if str(member.value) == str(value) or (
                not info.case_sensitive and str(member.value).lower() == str(value).lower()
            ):
                return member
        choices = ", ".join(repr(str(m.value)) for m in leaf)
        raise ValueError(f"{value!r} is not one of {choices}.")
    try:
        number = leaf(value) if not isinstance(value, leaf) else value
    except (TypeError, ValueError):
        kind = "integer" if leaf is int else "float"
        raise ValueError(f"{value!r} is not a valid {kind}.") from None
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
        raise ValueError(f"{number} is not in the range {rng}.")
    return number
