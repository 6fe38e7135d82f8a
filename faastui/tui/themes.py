"""Themes: ``themes/*.toml`` (shipped) and ``$XDG_CONFIG_HOME/faastui/themes/*.toml`` (the
user's own, which win over a shipped theme of the same name) become Textual themes; the
dashboard picks, switches and remembers one.

TOML, read with the stdlib's ``tomllib`` (a few ms), not YAML: importing yaml
alone cost ~45 ms of the time to first frame.

A theme file holds the fields of ``textual.theme.Theme`` (name, dark, primary,
..., variables). Names are resolved leniently: ``dark`` finds
``faastui-dark``. Panes take their cell colours from the theme's variables
(a ``cells.Palette``, rebuilt when the theme changes); ``NO_COLOR`` gives them none.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual.theme import Theme

from backends.errors import BackendError

from .. import locations
from ._textual_compat import start_theme
from .cells import Palette

__all__ = ["load_themes", "resolve_theme", "DEFAULT_THEME", "ThemeKeeper"]

DEFAULT_THEME = "faastui-dark"
_FIELDS = (
    "name",
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "dark",
    "luminosity_spread",
    "text_alpha",
    "variables",
)


def load_themes(folder: Path | None = None, errors: list[str] | None = None) -> list[Theme]:
    """Every valid theme file in ``folder`` (default: the shipped themes/), sorted by name;
    a file that is not one is left out and named in ``errors``."""
    import tomllib  # deferred: only the dashboard reads themes

    folder = folder or locations.themes_dir()
    themes = []
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text())
            kwargs = {k: data[k] for k in _FIELDS if k in data}
            kwargs.setdefault("name", path.stem)
            kwargs["variables"] = {str(k): str(v) for k, v in (kwargs.get("variables") or {}).items()}
            themes.append(Theme(**kwargs))
        except Exception as exc:  # a broken user theme must not stop the dashboard  # noqa: BLE001
            if errors is not None:
                errors.append(f"{path.name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            continue
    return themes


def resolve_theme(name: str, available) -> str | None:
    """``name`` as registered, or ``faastui-<name>``, or None."""
    names = set(available)
    for candidate in (name, f"faastui-{name}", f"textual-{name}"):
        if candidate in names:
            return candidate
    return None


class ThemeKeeper:
    """The theme of one dashboard (``app.themes``): chosen before the first CSS pass,
    switched by ``:theme``/the palette, written back to the config when ``remember``."""

    def __init__(self, app, requested: str | None, remember: bool):
        self.app = app
        self.requested = requested
        self.remember = remember
        self.ready = False  # a theme change before mount is the start-up choice, not a switch
        self.unknown: tuple[str, str] | None = None  # (asked, used instead)
        self.broken: list[str] = []  # user theme files that are not themes

    def select(self) -> None:
        """Register the theme files and pick the theme, before the first CSS pass.

        Called from the app's ``__init__``: setting ``theme`` in ``on_mount`` instead restyles
        every widget a second time right after the first pass (a theme change re-applies the
        whole stylesheet), which was a visible share of the time to first frame. Even in
        ``__init__`` the theme's watcher would queue a CSS refresh that parses every
        stylesheet again: ``start_theme`` sets it without one.
        """
        app = self.app
        for theme in load_themes():
            app.register_theme(theme)
        # the user's own themes ($XDG_CONFIG_HOME/faastui/themes), a name of theirs over ours
        for theme in load_themes(locations.user_themes_dir(), self.broken):
            app.register_theme(theme)
        name = resolve_theme(self.requested or DEFAULT_THEME, app.available_themes) or DEFAULT_THEME
        if self.requested and resolve_theme(self.requested, app.available_themes) is None:
            self.unknown = (self.requested, name)
        if name in app.available_themes:
            start_theme(app, name)

    def mounted(self) -> None:
        """Say if the asked theme was unknown, follow theme changes, colour the panes."""
        if self.unknown:
            asked, name = self.unknown
            self.app.notify(f"unknown theme {asked!r}; using {name}", severity="warning")
        if self.broken:
            self.app.notify(
                f"themes left out of {locations.user_themes_dir()}: " + "; ".join(self.broken), severity="warning"
            )
        self.app.theme_changed_signal.subscribe(self.app, self._changed)
        self.set_palette()
        self.ready = True

    def set_palette(self) -> None:
        app = self.app
        # the variables of the current theme, as its last CSS refresh (or start_theme)
        # computed them: computing them again costs a few ms of the first frame
        variables = app.theme_variables or app.get_css_variables()
        palette = Palette.from_variables(variables, no_color=bool(os.environ.get("NO_COLOR")))
        for pane in app.panes.values():
            pane.palette = palette

    def _changed(self, theme) -> None:
        app = self.app
        self.set_palette()
        for pane in app.panes.values():
            pane.repaint()
        if app.snapshot is not None:
            app.apply_snapshot(app.snapshot)
        if self.remember and self.ready:
            self._remember(theme.name)

    def _remember(self, name: str) -> None:
        from ..config import load_config, save_config  # deferred: the config pulls in PyYAML

        try:
            cfg = load_config()
            if cfg.theme != name:
                cfg.theme = name
                save_config(cfg)
        except (BackendError, OSError) as exc:
            self.app.notify(f"could not remember the theme: {exc}", severity="warning")

    def switch(self, name: str) -> bool:
        """Switch to theme ``name`` (leniently resolved); False (and a notice) if unknown."""
        app = self.app
        resolved = resolve_theme(name, app.available_themes)
        if resolved is None:
            faastui = sorted(t for t in app.available_themes if t.startswith("faastui-"))
            app.notify(f"unknown theme {name!r}; try {', '.join(faastui)}", severity="error")
            return False
        app.theme = resolved
        return True
