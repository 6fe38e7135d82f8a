"""An Ilúvatar function folder: ``main.py`` with ``main(args)`` and ``reqs.txt``.

Called as Ilúvatar's Python agent calls it: ``main`` gets the JSON arguments decoded,
and the answer is ``json.dumps`` of what it returns. Requirements come from ``reqs.txt``
(and ``requirements.txt``, if there is one). Named after the folder.
"""

from __future__ import annotations

from pathlib import Path

from . import source
from .folder import read_requirements
from .package import Package, check_name, name_from_folder

__all__ = ["read", "matches"]


def matches(root: Path) -> bool:
    """A folder whose main.py defines ``main`` with one parameter (and no handler.py)."""
    if (root / "handler.py").is_file() or not (root / "main.py").is_file():
        return False
    if source.first_entry(root, "main", ("main",)) is None:
        return False
    params = source.entry_params(root, "main:main", "main.py")
    return params is not None and len(params) == 1


def read(root: Path, name: str | None = None, source_name: str | None = None) -> Package:
    fname = check_name(name) if name else name_from_folder(root.name if source_name is None else source_name)
    return Package(
        name=fname,
        format="iluvatar",
        root=root,
        handler="main:main",
        signature="iluvatar-main",
        source="main.py",
        lang="python3",
        image=f"faastui/{fname}:latest",
        requirements=read_requirements(root),
    )
