"""Theme files: ``themes/*.toml`` become Textual themes, registered at start.

TOML, read with the stdlib's ``tomllib`` (a few ms), not YAML: importing yaml
alone cost ~45 ms of the time to first frame.

A theme file holds the fields of ``textual.theme.Theme`` (name, dark, primary,
..., variables). Names are resolved leniently: ``dark`` finds
``faastui-dark``. Panes take their cell colours from the theme's variables.
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

from .. import locations

__all__ = ["load_themes", "resolve_theme", "DEFAULT_THEME"]

DEFAULT_THEME = "faastui-dark"
_FIELDS = ("name", "primary", "secondary", "warning", "error", "success", "accent", "foreground",
           "background", "surface", "panel", "boost", "dark", "luminosity_spread", "text_alpha",
           "variables")


def load_themes(folder: Path | None = None) -> list[Theme]:
    """Every valid theme file in ``folder`` (default: the shipped themes/), sorted by name."""
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
        except Exception:  # a broken user theme must not stop the dashboard  # noqa: BLE001
            continue
    return themes


def resolve_theme(name: str, available) -> str | None:
    """``name`` as registered, or ``faastui-<name>``, or None."""
    names = set(available)
    for candidate in (name, f"faastui-{name}", f"textual-{name}"):
        if candidate in names:
            return candidate
    return None
