"""The cell renderers (faastui/tui/cells.py): a bar built from its spans in one go is the
Text that appending its pieces one by one builds, for every share, palette and label."""

from __future__ import annotations

from rich.text import Text

from faastui.tui.cells import Palette, bar, metric_cell


def appended_bar(used, total, width, palette, label=""):
    """The bar as Text.append builds it (the reference: what cells.bar did before)."""
    share = max(0.0, min(1.0, (used / total) if total else 0.0))
    filled = round(share * width)
    style = palette.ok if share < 0.7 else palette.warn if share < 0.9 else palette.bad
    text = Text()
    text.append("█" * filled, style=style)
    text.append("░" * (width - filled), style=palette.dim)
    text.append(label)
    return text


def test_a_bar_is_the_text_its_pieces_append_to():
    palettes = [
        Palette(),
        Palette.from_variables({}, no_color=True),
        Palette.from_variables({"success": "#00ff00", "text-muted": "#777777"}),
    ]
    checked = 0
    for palette in palettes:
        for total in (0, 1, 8, 16384):
            for step in range(0, 23):
                used = total * step / 20  # 0 .. past full (clamped)
                for width in (1, 6, 10):
                    for label in ("", " 1.5/8"):
                        want = appended_bar(used, total, width, palette, label)
                        got = bar(used, total, width, palette, label)
                        assert got == want and got.spans == want.spans, (used, total, width)
                        assert got.end == want.end and got.style == want.style
                        checked += 1
    assert checked == 3 * 4 * 23 * 3 * 2
    # metric_cell is the bar with its label, and the same object for the same value
    cell = metric_cell(3.0, 8, " 3.0/8", Palette())
    assert cell == appended_bar(3.0, 8, 6, Palette(), " 3.0/8")
    assert metric_cell(3.0, 8, " 3.0/8", Palette()) is cell
