"""The embedded engine's secrets: one file per secret in ``<state>/secrets/``.

The folder is mode 0700 and each file 0600 (only the user the engine runs as reads them);
a value is written to a temp file beside its final name, fsynced and renamed, so a crash
leaves the old value or the new one, never a half-written secret. The file's name is the
secret's (``backends.secrets.check_name``: no ``/``, no leading ``.``, so temp files never
collide with a secret). Functions read their own secrets through ``secretmount.py``; the
values never pass through the engine's log, its events or its state file.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import Conflict, InvalidRequest, NotFound
from ..secrets import check_name
from .durable import write_atomic

__all__ = ["SecretStore", "FOLDER"]

FOLDER = "secrets"


class SecretStore:
    """The secrets of one engine (its namespace has them all)."""

    def __init__(self, state_dir: Path):
        self.root = Path(state_dir) / FOLDER

    def ensure(self) -> None:
        """Create the folder (0700), and take away what others could read of an old one."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def names(self) -> list[str]:
        try:
            return sorted(p.name for p in self.root.iterdir() if not p.name.startswith(".") and p.is_file())
        except FileNotFoundError:
            return []

    def exists(self, name: str) -> bool:
        return (self.root / check_name(name)).is_file()

    def missing(self, names) -> list[str]:
        """Those of ``names`` that are not stored."""
        return [n for n in names if not (self.root / n).is_file()]

    def put(self, name: str, value: bytes, *, update: bool = False) -> None:
        """Store ``value``. Raises: InvalidRequest (bad name, empty value), Conflict (exists,
        not ``update``), NotFound (``update`` of one that does not exist)."""
        check_name(name)
        if not value:
            raise InvalidRequest(
                "a secret needs a value (it is empty)", hint="give --from-literal, --from-file or stdin"
            )
        self.ensure()
        path = self.root / name
        if update and not path.is_file():
            raise NotFound(f"unable to find secret: {name}", hint="create it first: `faastui secret create NAME`")
        if not update and path.is_file():
            raise Conflict(
                f"secret with the name {name!r} already exists",
                hint=f"`faastui secret update {name}` replaces its value",
            )
        write_atomic(path, value, 0o600, nofollow=True)

    def remove(self, name: str) -> None:
        """Raises: NotFound."""
        try:
            (self.root / check_name(name)).unlink()
        except FileNotFoundError:
            raise NotFound(f"unable to find secret: {name}", hint="list them with `faastui secret list`") from None
