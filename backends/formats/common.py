"""Helpers the format readers share: YAML with line numbers, typed fields, durations.

Every error is an ``InvalidRequest`` whose message names the file and, for YAML, the
line, so the CLI can print it as one line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import InvalidRequest

__all__ = ["load_yaml", "parse_yaml", "mapping", "str_map", "number", "integer", "duration_s", "YAML_NAMES"]

#: the spellings of a YAML file that formats look for (``function.yaml`` or ``function.yml``)
YAML_NAMES = (".yaml", ".yml")


def parse_yaml(text: str, label: str) -> Any:
    """Parse YAML text; an error says where (``label: not valid YAML at line N: ...``)."""
    import yaml  # deferred: only deploys read YAML

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidRequest(f"{label} is not valid YAML{where}: {problem}") from None


def load_yaml(path: Path, label: str | None = None) -> Any:
    label = label or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(f"{label} is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidRequest(f"cannot read {label}: {exc.strerror}") from None
    return parse_yaml(text, label)


def mapping(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"{what} must be a mapping, got {type(value).__name__}")
    return value


def str_map(value: Any, what: str) -> dict[str, str]:
    """A mapping of names to text (YAML numbers and booleans written as text)."""
    out = {}
    for k, v in mapping(value, what).items():
        if isinstance(v, (dict, list)):
            raise InvalidRequest(f"{what}: {k} must be a single value, got a {type(v).__name__}")
        out[str(k)] = "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
    return out


def number(value: Any, what: str, low: float | None = None) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"{what} must be a number, got {value!r}") from None
    if low is not None and out < low:
        raise InvalidRequest(f"{what} must be >= {low:g}, got {value!r}")
    return out


def integer(value: Any, what: str, low: int = 0) -> int:
    if isinstance(value, bool):
        raise InvalidRequest(f"{what} must be a whole number, got {value!r}")
    try:
        out = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidRequest(f"{what} must be a whole number, got {value!r}") from None
    if out < low:
        raise InvalidRequest(f"{what} must be >= {low}, got {value!r}")
    return out


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_s(value: Any, what: str) -> float:
    """A Go duration (``30s``, ``1m30s``, ``500ms``) or a plain number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InvalidRequest(f"{what} must be a duration like 30s or 1m30s, got {value!r}")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)
