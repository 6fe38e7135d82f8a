"""The dashboard's footer keeps its keys while nothing changes and follows real changes.

A small Textual app (no backend needed) whose one binding flips between enabled and
greyed: a ``refresh_bindings()`` that changes nothing must leave the same key widgets on
screen, and one that greys the action must show it greyed.
"""

from __future__ import annotations

import asyncio

from textual.app import App
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey

from faastui.tui.footer import QuietFooter


class Flip(App):
    BINDINGS = [("x", "go", "Go"), ("y", "stay", "Stay")]

    def __init__(self):
        super().__init__()
        self.allowed = True

    def compose(self):
        yield Static("body")
        yield QuietFooter()

    def check_action(self, action, parameters):
        if action == "go":
            return True if self.allowed else None
        return True

    def action_go(self):
        pass

    def action_stay(self):
        pass


def keys(app) -> dict[str, FooterKey]:
    return {k.key: k for k in app.query(FooterKey)}


def test_footer_keeps_its_keys_until_the_bindings_change():
    asyncio.run(_footer())


async def _footer():
    app = Flip()
    async with app.run_test() as pilot:
        await pilot.pause()
        first = keys(app)
        assert {"x", "y"} <= set(first) and not first["x"].has_class("-disabled")
        assert isinstance(app.query_one(Footer), QuietFooter)  # the Footer CSS applies to it

        for _ in range(3):  # nothing changed: no rebuild, the same widgets stay
            app.refresh_bindings()
            await pilot.pause()
        assert keys(app) == first

        app.allowed = False  # the action becomes unavailable: the footer shows it greyed
        app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        now = keys(app)
        assert now["x"] is not first["x"] and now["x"].has_class("-disabled")
        assert not now["y"].has_class("-disabled")
