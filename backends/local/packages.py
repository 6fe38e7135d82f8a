"""Function packages on the engine's side: staged from an upload, kept as a version folder.

A package comes as a folder, a zip archive (no path escaping the folder, no links,
bounded size: ``formats.archive``) or handler source text (the agent style), in any of
the formats ``backends.formats`` reads. Staging puts the function's code in a folder of
its own and writes what the format said about it (``FunctionSpec``) beside the code as
``.faastui-spec.json``, so a restart restores exactly what was deployed without reading
the platform's files again. Staging never touches the running version: ``deploy.py``
moves a staged package into place only once it loaded everywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

from .. import formats
from ..agent import entry_name
from ..errors import InvalidRequest
from ..formats import archive
from ..formats import requirements as requirement_lists
from ..formats.package import NAME_HINT, NAME_RE, FunctionFields

__all__ = [
    "FunctionSpec",
    "SPEC_FILE",
    "validate_name",
    "read_spec",
    "install_dir",
    "install_zip",
    "install_source",
    "write_spec",
]

SPEC_FILE = ".faastui-spec.json"


def validate_name(name: str, what: str = "function") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidRequest(f"invalid {what} name {name!r}", hint=NAME_HINT)
    return name


@dataclass
class FunctionSpec(FunctionFields):
    """A deployed function: what its format said, where its version folder is, and when."""

    directory: str = ""
    created_at: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_package(cls, pkg: formats.Package, directory: Path) -> FunctionSpec:
        return cls(directory=str(directory), **pkg.function_fields())

    @classmethod
    def from_dict(cls, data: dict) -> FunctionSpec:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def write_spec(spec: FunctionSpec) -> None:
    """``.faastui-spec.json`` in the spec's folder, written atomically."""
    path = Path(spec.directory) / SPEC_FILE
    data = spec.to_dict()
    data.pop("directory", None)
    tmp = path.with_name(f".{SPEC_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def read_spec(directory: Path, name: str | None = None) -> FunctionSpec:
    """The spec of an installed version folder (its ``.faastui-spec.json``; a folder
    deployed before that file existed is read as a package again)."""
    directory = Path(directory)
    try:
        data = json.loads((directory / SPEC_FILE).read_text())
    except FileNotFoundError:
        return FunctionSpec.from_package(formats.read(directory, name), directory)
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"{directory.name}: unreadable {SPEC_FILE}: {exc}") from None
    if name:
        data["name"] = name
    return FunctionSpec.from_dict({**data, "directory": str(directory)})


def _stage(pkg: formats.Package, root: Path, move: bool) -> FunctionSpec:
    """Put ``pkg``'s code in a fresh folder under ``root`` and write its spec there."""
    target = Path(tempfile.mkdtemp(prefix=f".{pkg.name}-", dir=root))
    if move:
        os.rmdir(target)
        os.rename(pkg.root, target)
    else:
        shutil.rmtree(target)
        shutil.copytree(pkg.root, target, symlinks=False, ignore=shutil.ignore_patterns(*archive.SKIPPED, "*.pyc"))
    stale = target / SPEC_FILE
    if stale.exists():  # a package never brings its own engine record
        stale.unlink()
    spec = FunctionSpec.from_package(pkg, target)
    write_spec(spec)
    return spec


def install_dir(src: Path, root: Path, name: str | None = None) -> FunctionSpec:
    """Stage a package folder (copied) under ``root``."""
    src = Path(src)
    if not src.is_dir():
        raise InvalidRequest(f"{src} is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    return _stage(formats.read(src, name, src.resolve().name), root, move=False)


def install_zip(data: bytes, root: Path, name: str | None = None, source: str | None = None) -> FunctionSpec:
    """Unpack a zip package safely and stage it under ``root``. ``source`` names a package
    that does not name itself (the zip's file name, or the folder it was made from)."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".upload-", dir=root))
    try:
        base = archive.unpack(data, tmp)
        hint = base.name if base != tmp else (source or "")
        pkg = formats.read(base, name, hint)
        return _stage(pkg, root, move=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def install_source(
    source: str, root: Path, name: str, requirements: list[str] | None = None, extra: dict | None = None
) -> FunctionSpec:
    """Stage handler source text as a faastui package (requirements installed by deploy)."""
    import yaml  # deferred: only a source deploy writes YAML

    validate_name(name)
    if not isinstance(source, str) or not source.strip():
        raise InvalidRequest("handler source is empty")
    try:
        compile(source, "handler.py", "exec")
    except SyntaxError as exc:
        raise InvalidRequest(f"handler source does not compile: line {exc.lineno}: {exc.msg}") from None
    reqs = [requirement_lists.check(r, "requirements") for r in (requirements or []) if str(r).strip()]
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".src-{name}-", dir=root))
    try:
        (tmp / "handler.py").write_text(source)
        meta = {"name": name, "handler": "handler:" + entry_name(source)}
        meta.update(extra or {})
        (tmp / "function.yaml").write_text(yaml.safe_dump(meta))
        if reqs:
            (tmp / "requirements.txt").write_text("\n".join(reqs) + "\n")
        return _stage(formats.read(tmp, name), root, move=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
