"""Zip archives of function packages: made from a folder, unpacked safely.

Unpacking refuses entries that escape the target folder, links, more than
``MAX_FILES`` entries and more than ``MAX_UNZIPPED_BYTES`` (a zip bomb); the archive
itself is bounded by ``MAX_ZIP_BYTES``. ``zip_folder`` keeps the folder's own name as
the archive's one top-level directory, so a function named after its folder keeps
that name across the upload.
"""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

from ..errors import InvalidRequest

__all__ = [
    "zip_folder",
    "zip_files",
    "folder_entries",
    "unpack",
    "MAX_ZIP_BYTES",
    "MAX_UNZIPPED_BYTES",
    "MAX_FILES",
    "SKIPPED",
]

MAX_ZIP_BYTES = 50 * 1024 * 1024  # compressed
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_FILES = 2000
SKIPPED = ("__pycache__", ".git")


def _files(src: Path):
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part in SKIPPED for part in rel.parts) or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            raise InvalidRequest(f"{src.name}/{rel} is a link; packages may not contain links")
        if path.is_file():
            yield path, rel


def zip_files(entries: list[tuple[Path | bytes, str]]) -> bytes:
    """A zip of ``(file or its bytes, name in the archive)`` pairs."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for content, arcname in entries:
            if isinstance(content, bytes):
                zf.writestr(arcname, content)
            else:
                zf.write(content, arcname)
    return buf.getvalue()


def folder_entries(src: Path, prefix: str) -> list[tuple[Path, str]]:
    """The files of a folder as ``zip_files`` entries under ``prefix/``."""
    return [(p, f"{prefix}/{rel.as_posix()}" if prefix else rel.as_posix()) for p, rel in _files(Path(src))]


def zip_folder(src: Path, top: str | None = None) -> bytes:
    """A folder as zip bytes, under one top-level directory (``top``, default its name)."""
    src = Path(src)
    return zip_files(folder_entries(src, top if top is not None else src.resolve().name))


def unpack(data: bytes, target: Path) -> Path:
    """Unpack ``data`` into ``target`` (which must exist); returns the package folder:
    the one top-level directory when the archive has only that, else ``target``."""
    if len(data) > MAX_ZIP_BYTES:
        raise InvalidRequest(
            f"archive is {len(data) // 1024 // 1024} MB; the limit is {MAX_ZIP_BYTES // 1024 // 1024} MB"
        )
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
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InvalidRequest(f"archive entry {member!r} is a link; links are not allowed")
        total += info.file_size
        if total > MAX_UNZIPPED_BYTES:
            raise InvalidRequest(f"archive unpacks to more than {MAX_UNZIPPED_BYTES // 1024 // 1024} MB")
    try:
        zf.extractall(target)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InvalidRequest(f"the archive is damaged: {exc}") from None
    entries = [p for p in target.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target
