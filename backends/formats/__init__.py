"""Provides the function package formats faastui reads, each detected from what is in it.

=============  =====================================================================
format         recognised by
=============  =====================================================================
faastui        ``function.yaml`` without Nuclio's ``apiVersion``/``kind``
nuclio         ``function.yaml`` with ``apiVersion: nuclio.io/v1`` / ``kind: NuclioFunction``
fusionizer     the same, when the handler takes ``(context, event, requests_session)``
openfaas       ``stack.yml`` (a folder holding one, or the file itself)
iluvatar       ``main.py`` defining ``main(args)`` (requirements in ``reqs.txt``)
folder         ``handler.py`` or ``main.py`` and nothing else that describes it
=============  =====================================================================

``read(folder)`` gives the one ``Package`` in a folder (what the engine does with an
upload), ``describe(path)`` what a path on disk holds (a folder, a zip, a stack file:
what the CLI checks and reports before it uploads), ``upload(path)`` the bytes to send.
One module per format; they share ``common``, ``source`` and ``requirements``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import InvalidRequest
from . import faastui, folder, iluvatar, nuclio, openfaas
from .archive import unpack, zip_folder
from .common import load_yaml
from .openfaas import read_stack
from .package import SIGNATURES, Package, check_name, name_from_folder

__all__ = [
    "Package",
    "SIGNATURES",
    "FORMATS",
    "detect",
    "read",
    "describe",
    "upload",
    "is_stack_file",
    "read_stack",
    "check_name",
    "name_from_folder",
]

FORMATS = ("faastui", "folder", "openfaas", "nuclio", "fusionizer", "iluvatar")


def _meta(root: Path) -> Path | None:
    return next((root / n for n in ("function.yaml", "function.yml") if (root / n).is_file()), None)


def detect(root: Path, label: str | None = None) -> str:
    """The format of the package in folder ``root`` (fusionizer reads as nuclio here)."""
    root = Path(root)
    meta = _meta(root)
    if meta is not None:
        return "nuclio" if nuclio.is_nuclio(load_yaml(meta)) else "faastui"
    if openfaas.find_stack(root) is not None:
        return "openfaas"
    if iluvatar.matches(root):
        return "iluvatar"
    if folder.module_of(root) is not None:
        return "folder"
    raise InvalidRequest(
        f"{label or root.name} holds no function: expected function.yaml, stack.yml, handler.py or main.py"
    )


_READERS = {
    "faastui": faastui.read,
    "nuclio": nuclio.read,
    "openfaas": openfaas.read,
    "iluvatar": iluvatar.read,
    "folder": folder.read,
}


def read(root: Path, name: str | None = None, source_name: str | None = None) -> Package:
    """The function in folder ``root``. ``name`` overrides the package's own name (in a
    stack file it picks the function); ``source_name`` names an unnamed package after the
    folder (or zip) it came from when that is not ``root`` ("" : it came without one)."""
    root = Path(root)
    label = source_name or ("the upload" if source_name == "" else None)
    return _READERS[detect(root, label)](root, name, source_name)


def is_stack_file(path: Path) -> bool:
    """A YAML file that is not a function.yaml: read as an OpenFaaS stack file (so a broken
    one is reported with its line, not taken for something else)."""
    path = Path(path)
    return path.is_file() and path.suffix in (".yml", ".yaml") and path.stem != "function"


def describe(path: Path, name: str | None = None) -> list[Package]:
    """What ``path`` (a folder, a zip, a stack file) deploys, every part checked."""
    path = Path(path)
    if path.is_dir():
        stack = openfaas.find_stack(path) if _meta(path) is None else None
        if stack is not None:
            return openfaas.read_stack(stack, [name] if name else None)
        return [read(path, name, path.resolve().name)]
    if is_stack_file(path):
        return openfaas.read_stack(path, [name] if name else None)
    if path.is_file():
        with tempfile.TemporaryDirectory(prefix="faastui-describe-") as tmp:
            root = unpack(path.read_bytes(), Path(tmp))
            source = root.name if root != Path(tmp) else path.stem
            return [read(root, name, source)]
    raise InvalidRequest(f"{path} does not exist")


def upload(path: Path, name: str | None = None) -> tuple[bytes, dict[str, str]]:
    """(zip bytes, deploy parameters) for one function at ``path``."""
    path = Path(path)
    if path.is_dir():
        stack = openfaas.find_stack(path) if _meta(path) is None else None
        if stack is not None:
            path = stack
        else:
            return zip_folder(path), ({"name": name} if name else {})
    if is_stack_file(path):
        names = [p.name for p in openfaas.read_stack(path, [name] if name else None)]
        if len(names) > 1:
            raise InvalidRequest(
                f"{path.name} lists {len(names)} functions; deploy one at a time",
                hint="`faastui deploy -f stack.yml` deploys them all",
            )
        return openfaas.pack(path, names[0]), {"name": names[0]}
    if path.is_file():
        params = {"source": path.stem}
        if name:
            params["name"] = name
        return path.read_bytes(), params
    raise InvalidRequest(f"{path} does not exist")
