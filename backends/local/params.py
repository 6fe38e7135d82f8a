"""Query parameters and JSON body fields of the engine's API, checked: a value of the wrong
type is an ``InvalidRequest`` (400) whose message names the parameter or field, the type it
must be and what it was (``query parameter 'tail' must be an integer, got 'abc'``,
``'handler' must be a string, got an integer: 123``), never Python's own text.
"""

from __future__ import annotations

import json

from ..errors import InvalidRequest
from .httpserver import Request

__all__ = ["query_number", "field"]


def query_number(
    req: Request, name: str, default, kind: type = int, low: float | None = None, high: float | None = None
):
    """Query parameter ``name`` as ``kind`` (int or float), ``default`` when absent.
    Raises: InvalidRequest naming the parameter for text that is not such a number, or one
    outside ``low``..``high``."""
    raw = req.query.get(name) if req.query_string else None
    return number_param(name, raw, default, kind, low, high)


def number_param(
    name: str, raw: str | None, default, kind: type = int, low: float | None = None, high: float | None = None
):
    """``raw`` (a query parameter's text, or None) as ``kind``; as ``query_number``."""
    if raw is None or raw == "":
        return default
    what = "an integer" if kind is int else "a number"
    try:
        value = kind(raw)
    except ValueError:
        raise InvalidRequest(f"query parameter '{name}' must be {what}, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):  # nan, inf
        raise InvalidRequest(f"query parameter '{name}' must be {what}, got {raw!r}")
    if low is not None and value < low:
        raise InvalidRequest(f"query parameter '{name}' must be at least {low:g}, got {raw!r}")
    if high is not None and value > high:
        raise InvalidRequest(f"query parameter '{name}' must be at most {high:g}, got {raw!r}")
    return value


_JSON_TYPES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def field(data: dict, name: str, kind: type | tuple[type, ...], default=None, required: bool = False):
    """``data[name]`` when it is of JSON type ``kind`` (``str``, ``int``, ``list``, ...; a
    bool is not an int here), ``default`` when absent or null. Raises: InvalidRequest naming
    the field, the type it must be and the type it was."""
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"'{name}' is required")
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        named = [k for k in kinds if not (k is int and float in kinds)]  # "a number" covers both
        want = " or ".join(_JSON_TYPES.get(k, k.__name__) for k in named)
        got = _JSON_TYPES.get(type(value), type(value).__name__)
        raise InvalidRequest(f"'{name}' must be {want}, got {got}: {json.dumps(value)[:80]}")
    return value
