"""What a function folder (or a zip of one) holds for the Nuclio adapter: its handler.py,
function.yaml and requirements.txt, and the Nuclio spec fields function.yaml sets (memory,
cpus, timeout, env). Pure, no I/O beyond reading the package."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from .errors import InvalidRequest
from .quantities import limits

__all__ = ["_package_files", "_spec_from_yaml"]


def _package_files(package: str | Path | bytes) -> tuple[dict[str, str], str]:
    """handler.py, function.yaml and requirements.txt of a folder or a zip; and its name."""
    wanted = ("handler.py", "function.yaml", "requirements.txt")
    if isinstance(package, bytes):
        try:
            archive = zipfile.ZipFile(io.BytesIO(package))
        except zipfile.BadZipFile:
            raise InvalidRequest("the package is not a zip archive") from None
        files = {}
        for member in archive.namelist():
            parts = member.strip("/").split("/")
            if parts[-1] in wanted and len(parts) <= 2 and parts[-1] not in files:
                files[parts[-1]] = archive.read(member).decode("utf-8", "replace")
        return files, ""
    folder = Path(package)
    if not folder.is_dir():
        raise InvalidRequest(f"{folder} is not a folder")
    files = {n: (folder / n).read_text() for n in wanted if (folder / n).is_file()}
    return files, folder.resolve().name


def _spec_from_yaml(meta: dict) -> dict:
    """Nuclio spec fields from a function.yaml: memory (MB), cpus, timeout (s), env."""
    spec: dict[str, Any] = {}
    try:
        wanted = limits(meta.get("memory"), meta.get("cpus"))
        if wanted:
            spec["resources"] = {"limits": wanted}
        if meta.get("timeout"):
            spec["eventTimeout"] = f"{float(meta['timeout']):g}s"
    except (TypeError, ValueError):
        raise InvalidRequest("function.yaml: memory, cpus and timeout must be numbers") from None
    if isinstance(meta.get("env"), dict):
        spec["env"] = [{"name": str(k), "value": str(v)} for k, v in meta["env"].items()]
    return spec
