"""Cell renderers shared by the panes: bars, sparklines, ages, placement cells.

Pure functions from numbers and model objects to short strings or rich
``Text``; colours come from a ``Palette`` built from the current theme's
variables, so the panes never hard-code a colour.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from rich.text import Span, Text

__all__ = [
    "Palette",
    "bar",
    "metric_cell",
    "spark_cell",
    "styled",
    "sparkline",
    "age_text",
    "ms",
    "pct",
    "placement_cell",
    "PLACEMENT_WIDTH",
]

_BLOCKS = "▁▂▃▄▅▆▇█"
PLACEMENT_WIDTH = 11


@dataclass(frozen=True)
class Palette:
    """Styles for cells, taken from theme variables (``$success`` ...)."""

    cold: str = "dim"
    prewarm: str = "yellow"
    warm: str = "green"
    busy: str = "bold red"
    ok: str = "green"
    warn: str = "yellow"
    bad: str = "red"
    dim: str = "dim"
    bar: str = "cyan"

    @classmethod
    def from_variables(cls, v: dict[str, str], no_color: bool = False) -> Palette:
        if no_color:
            return cls(
                cold="dim",
                prewarm="",
                warm="bold",
                busy="bold reverse",
                ok="",
                warn="bold",
                bad="bold reverse",
                dim="dim",
                bar="",
            )
        get = v.get
        return cls(
            cold=f"{get('text-muted', 'dim')}" if get("text-muted", "").startswith("#") else "dim",
            prewarm=get("warning", "yellow"),
            warm=get("success", "green"),
            busy=f"bold {get('error', 'red')}",
            ok=get("success", "green"),
            warn=get("warning", "yellow"),
            bad=get("error", "red"),
            dim="dim",
            bar=get("accent", get("primary", "cyan")),
        )


def _clean(style: str) -> str:
    return style


def bar(used: float, total: float, width: int, palette: Palette, label: str = "") -> Text:
    """``███░░ 1.5/4`` style bar (``label`` after it): the filled share coloured ok/warn/bad
    by load.

    Built from its spans in one go, as ``Text.append`` would build it piece by piece (a
    test compares the two): the Nodes pane makes two of these per node, 2,000 on the
    bench's first snapshot, and piece by piece they took about a fifth longer.
    """
    share = (used / total) if total else 0.0
    share = max(0.0, min(1.0, share))
    filled = round(share * width)
    style = palette.ok if share < 0.7 else palette.warn if share < 0.9 else palette.bad
    spans = []
    if filled and style:
        spans.append(Span(0, filled, style))
    if width > filled and palette.dim:
        spans.append(Span(filled, width, palette.dim))
    return Text("█" * filled + "░" * (width - filled) + label, spans=spans)


def sparkline(values, width: int = 12, lo: float | None = None, hi: float | None = None) -> str:
    """The last ``width`` values as block characters (empty history: blanks).

    Cached by the window's values: a history that did not move (or moved back to a
    window seen before) costs a tuple and a lookup, not a re-scale of every point.
    """
    return _sparkline(tuple(values)[-width:], width, lo, hi)


@lru_cache(maxsize=8192)
def _sparkline(window: tuple, width: int, lo: float | None, hi: float | None) -> str:
    vals = [v for v in window if v is not None]
    if not vals:
        return " " * width
    low = min(vals) if lo is None else lo
    high = max(vals) if hi is None else hi
    span = high - low
    top = len(_BLOCKS) - 1
    if span <= 0:
        out = "".join(" " if v is None else _BLOCKS[0] for v in window)
    else:
        blocks = _BLOCKS
        out = "".join(
            [
                " "
                if v is None
                else blocks[0 if (k := int((v - low) / span * top + 0.5)) < 0 else top if k > top else k]
                for v in window
            ]
        )
    return out.rjust(width)


def age_text(then: float | None, now: float | None = None) -> str:
    if then is None:
        return "never"
    age = max(0.0, (time.time() if now is None else now) - then)
    if age < 1:
        return "now"
    if age < 60:
        return f"{age:.0f}s ago"
    if age < 3600:
        return f"{age / 60:.0f}m ago"
    return f"{age / 3600:.1f}h ago"


def ms(v: float | None) -> str:
    return "-" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:.0f}")


def pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def placement_cell(counts: dict[str, int] | None, palette: Palette) -> Text:
    """A grid cell: ``b1 w2 p1`` (busy, warm, prewarm counts) or a dim ``cold``/``·``.

    Cells are cached by value (a shared Text is never mutated after it is built).
    """
    if not counts:
        # most cells of a large grid (97% of the bench's first window): the last palette's
        # blank, without hashing the palette for the cache each time
        if _blank[0] is not palette:
            _blank[:] = [palette, _placement_cell(0, 0, 0, palette, False)]
        return _blank[1]
    return _placement_cell(
        counts.get("busy", 0), counts.get("warm", 0), counts.get("prewarm", 0), palette, True, counts.get("starting", 0)
    )


_blank: list = [None, None]  # (palette, its blank placement cell: the cached one)


@lru_cache(maxsize=4096)
def spark_cell(spark: str, style: str) -> Text:
    """A sparkline string as a styled cell (cached by value)."""
    return Text(spark, style=style)


@lru_cache(maxsize=4096)
def styled(text: str, style: str) -> Text:
    """A one-style cell (``yes``/``NO``, counts), cached by value: an unchanged cell is the
    same object as last tick, so the table's row comparison stops at identity."""
    return Text(text, style=style)


def metric_cell(used: float, total: float, label: str, palette: Palette, width: int = 6) -> Text:
    """A bar followed by ``used/total`` (cached by value)."""
    return _metric_cell(used, total, label, palette, width)


@lru_cache(maxsize=8192)
def _metric_cell(used: float, total: float, label: str, palette: Palette, width: int) -> Text:
    return bar(used, total, width, palette, label)


@lru_cache(maxsize=1024)
def _placement_cell(busy: int, warm: int, prewarm: int, palette: Palette, any_: bool, starting: int = 0) -> Text:
    if not any_:
        return Text("·", style=palette.dim)
    text = Text()
    shown = [(s, n) for s, n in (("busy", busy), ("warm", warm), ("prewarm", prewarm), ("starting", starting)) if n]
    if not shown:
        return Text("cold", style=palette.cold)
    for i, (state, n) in enumerate(shown):
        if i:
            text.append(" ")
        text.append(f"{state[0]}{n}", style=getattr(palette, state, palette.warn))
    return text
