"""Key maps: a named set of keys for the dashboard's bindings (``keymap: k9s`` in the config).

A key map is a TOML file in ``keymaps/`` (shipped, beside ``themes/``) or in the user's
``$XDG_CONFIG_HOME/faastui/keymaps/``: ``[keys]`` maps a binding id (what ``?`` lists
in parentheses) to a key, or several separated by commas. ``default`` is no file: the
keys the bindings declare. The config's ``keys:`` go on top of the chosen map.
"""

from __future__ import annotations

from pathlib import Path

from backends.errors import InvalidRequest

from .. import locations

__all__ = ["load_keymap", "available", "DEFAULT"]

DEFAULT = "default"


def _folders() -> list[Path]:
    return [locations.keymaps_dir(), locations.config_dir() / "keymaps"]


def available() -> list[str]:
    names = {DEFAULT}
    for folder in _folders():
        names |= {p.stem for p in Path(folder).glob("*.toml")}
    return sorted(names)


def load_keymap(name: str | None) -> dict[str, str]:
    """Binding id -> key(s) of key map ``name`` (None or ``default``: none changed).
    Raises: InvalidRequest naming the known maps, or the bad entry of the file."""
    import tomllib  # deferred: only a key map's start-up reads it

    if not name or name == DEFAULT:
        return {}
    path = None
    for folder in reversed(_folders()):  # the user's map wins over a shipped one of that name
        candidate = Path(folder) / f"{name}.toml"
        if candidate.is_file():
            path = candidate
            break
    if path is None:
        raise InvalidRequest(f"unknown keymap {name!r}", hint=f"known: {', '.join(available())}")
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidRequest(f"keymap {path} cannot be read: {exc}") from None
    keys = data.get("keys")
    if not isinstance(keys, dict) or not all(isinstance(v, str) and v for v in keys.values()):
        raise InvalidRequest(f"keymap {path}: [keys] must map binding ids to keys (text)")
    return {str(k): v for k, v in keys.items()}
