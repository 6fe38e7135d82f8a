"""A bare folder: ``handler.py`` (or ``main.py``) and nothing that describes it.

The function is named after the folder (lower case, ``_`` to ``-``), its entry is the
first of handle, main, handler, its calling convention comes from the entry's
parameters, and its requirements from ``requirements.txt`` or ``reqs.txt``. A
``main.py`` whose entry is ``main(args)`` is Ilúvatar's contract (``iluvatar.py``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidRequest
from . import requirements, source
from .package import Package, check_name, name_from_folder

__all__ = ["read", "module_of"]


def module_of(root: Path) -> str | None:
    for module in ("handler", "main"):
        if (root / f"{module}.py").is_file():
            return module
    return None


def read_requirements(root: Path) -> list[str]:
    reqs: list[str] = []
    for fname in ("requirements.txt", "reqs.txt"):
        if (root / fname).is_file():
            reqs += [r for r in requirements.read_file(root / fname, fname) if r not in reqs]
    return reqs


def read(root: Path, name: str | None = None, source_name: str | None = None) -> Package:
    module = module_of(root)
    if module is None:
        raise InvalidRequest(f"{source_name or root.name} has no handler.py or main.py")
    func = source.first_entry(root, module)
    if func is None:
        raise InvalidRequest(
            f"{module}.py defines none of handle(), main(), handler()", hint="define e.g. `def handle(req): return req`"
        )
    fname = check_name(name) if name else name_from_folder(root.name if source_name is None else source_name)
    return Package(
        name=fname,
        format="folder",
        root=root,
        handler=f"{module}:{func}",
        source=f"{module}.py",
        image=f"faastui/{fname}:latest",
        requirements=read_requirements(root),
    )
