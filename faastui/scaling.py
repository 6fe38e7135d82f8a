"""`scale FN N|+K|-K`, shared by the CLI and the dashboard so both faces scale alike.

A relative count reads the current replicas through ``Backend.describe`` and
never goes below zero.
"""

from __future__ import annotations

__all__ = ["parse_replicas", "scale_to"]


def parse_replicas(text: str) -> tuple[str, int]:
    """``"5"`` -> ("=", 5); ``"+2"`` -> ("+", 2); ``"-1"`` -> ("-", 1). Raises ValueError."""
    text = text.strip()
    sign = text[:1] if text[:1] in "+-" else "="
    digits = text[1:] if sign != "=" else text
    if not digits.isdigit():
        raise ValueError(f"bad replica count {text!r}: use N, +K or -K, e.g. 3, +2, -1")
    return sign, int(digits)


async def scale_to(backend, fn: str, text: str):
    """Scale ``fn`` to ``text`` (N, +K or -K); returns the Function the backend reports."""
    sign, n = parse_replicas(text)
    target = n
    if sign != "=":
        current = (await backend.describe(fn)).replicas
        target = max(0, current + n if sign == "+" else current - n)
    return await backend.scale(fn, target)
