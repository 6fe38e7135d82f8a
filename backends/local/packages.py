"""Function packages: a folder with ``handler.py`` and ``function.yaml``.

This module reads and validates packages and installs them into the engine's
state dir, from a folder, from a zip archive (no path escaping the folder, no
links, bounded size) or from handler source text (the agent style).
Installs are atomic: a package is unpacked beside its final place and renamed.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..agent import entry_name
from ..errors import InvalidRequest

__all__ = ["FunctionSpec", "read_spec", "validate_name", "install_dir", "install_zip",
           "install_source", "zip_folder", "MAX_ZIP_BYTES"]

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MAX_ZIP_BYTES = 50 * 1024 * 1024  # compressed
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_FILES = 2000


def validate_name(name: str, what: str = "function") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidRequest(
            f"invalid {what} name {name!r}",
            hint="use lower-case letters, digits and '-', 1-63 characters, starting and ending alphanumeric")
    return name


@dataclass
class FunctionSpec:
    name: str
    directory: str
    handler: str = "handler:handle"
    image: str = ""
    runtime: str = "python"
    signature: str = ""
    memory_mb: float = 128.0
    cpus: float = 0.5
    timeout_s: float = 30.0
    deadline_ms: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    min_replicas: int = 0
    max_replicas: int = 0  # 0: bounded by node capacity only
    created_at: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _num(data: dict, key: str, default, cast=float, low=None):
    value = data.get(key, default)
    if value is None:
        return None
    try:
        value = cast(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"function.yaml: {key} must be a number, got {value!r}") from None
    if low is not None and value < low:
        raise InvalidRequest(f"function.yaml: {key} must be >= {low}, got {value!r}")
    return value


def read_spec(directory: Path, name: str | None = None) -> FunctionSpec:
    """Read ``function.yaml`` (optional) and check the handler module exists."""
    directory = Path(directory)
    data: dict = {}
    meta = directory / "function.yaml"
    if meta.is_file():
        try:
            data = yaml.safe_load(meta.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InvalidRequest(f"function.yaml is not valid YAML: {exc}".splitlines()[0]) from None
        if not isinstance(data, dict):
            raise InvalidRequest("function.yaml must be a mapping")
    fname = validate_name(name or data.get("name") or directory.name.lower().replace("_", "-"))
    handler = str(data.get("handler") or "handler:handle")
    if ":" not in handler:
        handler = f"{handler}:handle" if not handler.endswith(".py") else handler[:-3] + ":handle"
    module = handler.split(":", 1)[0]
    if not (directory / (module.replace(".", "/") + ".py")).is_file():
        raise InvalidRequest(f"package {directory.name!r} has no {module}.py")
    env = data.get("env") or {}
    labels = data.get("labels") or {}
    if not isinstance(env, dict) or not isinstance(labels, dict):
        raise InvalidRequest("function.yaml: env and labels must be mappings")
    return FunctionSpec(
        name=fname,
        directory=str(directory),
        handler=handler,
        image=str(data.get("image") or f"faastui/{fname}:latest"),
        signature=str(data.get("signature") or ""),
        memory_mb=_num(data, "memory", data.get("memory_mb", 128), low=8),
        cpus=_num(data, "cpus", 0.5, low=0),
        timeout_s=_num(data, "timeout", data.get("timeout_s", 30), low=0.001),
        deadline_ms=_num(data, "deadline_ms", None, low=0),
        env={str(k): str(v) for k, v in env.items()},
        labels={str(k): str(v) for k, v in labels.items()},
        min_replicas=int(_num(data, "min_replicas", 0, int, 0)),
        max_replicas=int(_num(data, "max_replicas", 0, int, 0)),
    )


def _swap_in(tmp: Path, final: Path) -> None:
    """Put ``tmp`` at ``final`` atomically (the old one removed after)."""
    old = None
    if final.exists():
        old = final.with_name(final.name + f".old-{os.getpid()}")
        os.rename(final, old)
    os.rename(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def install_dir(src: Path, root: Path, name: str | None = None) -> FunctionSpec:
    """Copy a package folder into ``root/<name>``."""
    src = Path(src)
    if not src.is_dir():
        raise InvalidRequest(f"{src} is not a folder")
    spec = read_spec(src, name)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=root))
    shutil.rmtree(tmp)
    shutil.copytree(src, tmp, symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".git"))
    final = root / spec.name
    _swap_in(tmp, final)
    return read_spec(final, spec.name)


def zip_folder(src: Path) -> bytes:
    """A folder as zip bytes (what the CLI uploads)."""
    buf = io.BytesIO()
    src = Path(src)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src)
            if any(part in ("__pycache__", ".git") for part in rel.parts) or path.suffix == ".pyc":
                continue
            if path.is_symlink():
                raise InvalidRequest(f"{rel} is a link; packages may not contain links")
            if path.is_file():
                zf.write(path, rel.as_posix())
    return buf.getvalue()


def install_zip(data: bytes, root: Path, name: str | None = None) -> FunctionSpec:
    """Unpack a zip package safely into ``root/<name>``."""
    if len(data) > MAX_ZIP_BYTES:
        raise InvalidRequest(f"archive is {len(data) // 1024 // 1024} MB; the limit is "
                             f"{MAX_ZIP_BYTES // 1024 // 1024} MB")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidRequest("the upload is not a zip archive") from None
    infos = zf.infolist()
    if len(infos) > MAX_FILES:
        raise InvalidRequest(f"archive has {len(infos)} entries; the limit is {MAX_FILES}")
    total = 0
    for info in infos:
        member = info.filename
        parts = Path(member.replace("\\", "/")).parts
        if member.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise InvalidRequest(f"archive entry {member!r} escapes the package folder")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise InvalidRequest(f"archive entry {member!r} is a link; links are not allowed")
        total += info.file_size
        if total > MAX_UNZIPPED_BYTES:
            raise InvalidRequest("archive unpacks to more than "
                                 f"{MAX_UNZIPPED_BYTES // 1024 // 1024} MB")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".upload-", dir=root))
    try:
        zf.extractall(tmp)
        # a zip of a folder (one top-level directory) is accepted too
        entries = [p for p in tmp.iterdir()]
        base = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        spec = read_spec(base, name)
        final = root / spec.name
        if base is not tmp:
            inner = tmp.with_name(tmp.name + "-pkg")
            os.rename(base, inner)
            shutil.rmtree(tmp)
            tmp = inner
        _swap_in(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return read_spec(final, spec.name)


def install_source(source: str, root: Path, name: str, requirements: list[str] | None = None,
                   extra: dict | None = None) -> FunctionSpec:
    """Write handler source (and pip-install requirements into ``.deps``)."""
    validate_name(name)
    if not isinstance(source, str) or not source.strip():
        raise InvalidRequest("handler source is empty")
    try:
        compile(source, "handler.py", "exec")
    except SyntaxError as exc:
        raise InvalidRequest(f"handler source does not compile: line {exc.lineno}: {exc.msg}") from None
    reqs = [str(r).strip() for r in (requirements or []) if str(r).strip()]
    for req in reqs:
        if req.startswith("-") or any(c in req for c in "\n\r;|&`$"):
            raise InvalidRequest(f"bad requirement {req!r}")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        (tmp / "handler.py").write_text(source)
        meta = {"name": name, "handler": "handler:" + entry_name(source)}
        meta.update(extra or {})
        (tmp / "function.yaml").write_text(yaml.safe_dump(meta))
        if reqs:
            (tmp / "requirements.txt").write_text("\n".join(reqs) + "\n")
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--target", str(tmp / ".deps"), *reqs],
                capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["pip failed"]
                raise InvalidRequest(f"installing requirements failed: {tail[0]}")
        read_spec(tmp, name)  # validates before it becomes the package
        final = root / name
        _swap_in(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return read_spec(final, name)
