"""`scale FN N|+K|-K`, shared by the CLI and the dashboard so both faces scale alike.

``N`` is an absolute count; ``+K``/``-K`` are relative to the replicas the function has
now (read through ``Backend.describe``). A relative count that would go below zero is
refused, never clamped (``scale hello -50`` on 3 replicas is an error, not 0); ``0`` is
how to scale to zero. ``ScaleChange.summary()`` says which of the two it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backends.errors import InvalidRequest

__all__ = ["parse_replicas", "scale_to", "change", "ScaleChange"]


def parse_replicas(text: str) -> tuple[str, int]:
    """``"5"`` -> ("=", 5); ``"+2"`` -> ("+", 2); ``"-1"`` -> ("-", 1). Raises ValueError."""
    text = text.strip()
    sign = text[:1] if text[:1] in "+-" else "="
    digits = text[1:] if sign != "=" else text
    if not digits.isdigit():
        raise ValueError(
            f"bad replica count {text!r}: use N, +K or -K (N is absolute, +K/-K "
            "relative to the current count), e.g. 3, +2, -1"
        )
    return sign, int(digits)


@dataclass(frozen=True)
class ScaleChange:
    """What a scale did: the function as the backend reports it afterwards, and for a
    relative count the replicas it was counted from."""

    function: Any  # backends.model.Function
    sign: str  # "=" (absolute), "+" or "-"
    amount: int
    before: int | None = None

    def summary(self) -> str:
        fn = self.function
        if self.sign == "=":
            return f"{fn.name}: replicas set to {self.amount} (an absolute count)"
        after = self.before + (self.amount if self.sign == "+" else -self.amount)
        return f"{fn.name}: replicas {self.before} -> {after} ({self.sign}{self.amount}, relative to the current count)"


async def change(backend, fn: str, text: str) -> ScaleChange:
    """Scale ``fn`` to ``text`` (N, +K or -K). Raises: ValueError for a malformed count;
    InvalidRequest for a relative one that would leave fewer than 0 replicas."""
    sign, n = parse_replicas(text)
    if sign == "=":
        return ScaleChange(await backend.scale(fn, n), sign, n)
    current = (await backend.describe(fn)).replicas
    target = current + n if sign == "+" else current - n
    if target < 0:
        raise InvalidRequest(
            f"{fn} has {current} replica(s): {text} would leave {target}", hint=f"the fewest is 0: faastui scale {fn} 0"
        )
    return ScaleChange(await backend.scale(fn, target), sign, n, current)


async def scale_to(backend, fn: str, text: str):
    """Scale ``fn`` to ``text`` (N, +K or -K); returns the Function the backend reports."""
    return (await change(backend, fn, text)).function
