"""A footer that recomposes only when what it shows has changed.

Textual's ``Footer`` rebuilds all of its keys (a widget and a CSS pass each) on every
``bindings_updated`` signal, which fires on each focus change and each
``refresh_bindings()``. At start-up that was five rebuilds of identical keys in a row,
about a fifth of the time to first frame. This one compares the keys it would show
(key, label, enabled, tooltip, in order) with the ones on screen and skips the rebuild
when nothing differs.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

from ._textual_compat import bindings_ready, set_bindings_ready

__all__ = ["QuietFooter"]


class QuietFooter(Footer):
    _shown: tuple | None = None

    def _signature(self) -> tuple:
        keys = tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )
        return keys, self.compact, self.show_command_palette, self.app.ENABLE_COMMAND_PALETTE

    def compose(self):
        if bindings_ready(self):
            self._shown = self._signature()
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        set_bindings_ready(self)
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached:
            return
        if self._shown is None or self._signature() != self._shown:
            await self.recompose()
