"""Where things are: data folders shipped with faastui and the XDG dirs.

The one module that knows paths. Data folders (themes/, functions/, demo/)
are found beside the source tree in a checkout, or under the installed
package's ``_data`` folder in a wheel.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "data_dir",
    "themes_dir",
    "keymaps_dir",
    "functions_dir",
    "demo_dir",
    "config_dir",
    "state_dir",
    "data_home",
    "screenshots_dir",
    "user_themes_dir",
]

_HERE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    for candidate in (_HERE.parent / name, _HERE / "_data" / name):
        if candidate.is_dir():
            return candidate
    return _HERE.parent / name


def themes_dir() -> Path:
    return data_dir("themes")


def keymaps_dir() -> Path:
    """The dashboard's shipped key maps (``keymaps/<name>.toml``, e.g. ``k9s``)."""
    return data_dir("keymaps")


def functions_dir() -> Path:
    return data_dir("functions")


def demo_dir() -> Path:
    return data_dir("demo")


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    base = Path(value) if value else Path.home() / default
    return base / "faastui"


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config")


def state_dir() -> Path:
    """The embedded engine's default state dir ($XDG_STATE_HOME/faastui)."""
    return _xdg("XDG_STATE_HOME", ".local/state")


def data_home() -> Path:
    """Files faastui makes for the user ($XDG_DATA_HOME/faastui)."""
    return _xdg("XDG_DATA_HOME", ".local/share")


def screenshots_dir() -> Path:
    """Where the dashboard's ctrl+s saves, unless ``--save-dir`` or $FAASTUI_SAVE_DIR say
    otherwise ($XDG_DATA_HOME/faastui/screenshots)."""
    return data_home() / "screenshots"


def user_themes_dir() -> Path:
    """The user's own themes, beside the shipped ones ($XDG_CONFIG_HOME/faastui/themes)."""
    return config_dir() / "themes"
