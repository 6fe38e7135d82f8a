"""What a function folder (or a zip of one) holds for the Nuclio adapter: its handler.py,
function.yaml and requirements.txt, and the Nuclio spec fields function.yaml sets (memory,
cpus, timeout, env); and a Nuclio function or Fusionizer task package as one packed inline
source. Pure, no I/O beyond reading the package."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from .errors import InvalidRequest
from .quantities import limits

__all__ = ["_package_files", "_spec_from_yaml", "read_task_package", "task_package"]


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


# ---- a Nuclio function or Fusionizer task package: a packed inline source ------------------
_SKIPPED = ("__pycache__", ".git", "__MACOSX")


def read_task_package(root: Path, name: str | None, source_name: str | None):
    """A Nuclio function or Fusionizer task package in folder ``root``, as one member of a
    packed source (``nuclio_packed.Member``), with what its format said (a
    ``formats.Package``). Raises InvalidRequest."""
    from . import formats  # deferred: only a package deploy reads formats
    from .nuclio_packed import Member

    pkg = formats.read(root, name, source_name)
    if pkg.signature not in ("fusionizer", "nuclio"):
        raise InvalidRequest(
            f"the nuclio backend deploys handler.py folders, Nuclio functions "
            f"and Fusionizer tasks; {pkg.name} is a {pkg.format} package "
            f"({pkg.signature or 'its own'} calling convention)",
            hint="deploy it to the embedded engine, which runs every format",
        )
    files: dict[str, bytes] = {}
    base = Path(pkg.root)
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if path.is_file() and not any(p in _SKIPPED for p in rel.parts) and path.suffix != ".pyc":
            files[rel.as_posix()] = path.read_bytes()
    return Member(pkg.name, files, pkg.handler, pkg.signature), pkg


def task_package(package: str | Path | bytes, name: str | None):
    """A Nuclio function or Fusionizer task (a folder, or a zip of one) as what the backend
    deploys: (its HandlerSource, its spec fields, its packed inline source, in which its local
    modules travel). Raises InvalidRequest."""
    import tempfile

    from .agent import HandlerSource
    from .formats.archive import unpack
    from .nuclio_packed import ENTRY, packed_source

    with tempfile.TemporaryDirectory(prefix="faastui-nuclio-") as tmp:
        if isinstance(package, bytes):
            root = unpack(package, Path(tmp))
            source_name = root.name if root != Path(tmp) else ""
        else:
            root, source_name = Path(package), Path(package).resolve().name
        member, pkg = read_task_package(root, name, source_name)
    spec: dict = {
        "description": pkg.description or "deployed by faastui",
        "eventTimeout": f"{pkg.timeout_s:g}s",
        "env": [{"name": k, "value": v} for k, v in pkg.env.items()],
    }
    wanted = limits(pkg.memory_mb, pkg.cpus)
    if wanted:
        spec["resources"] = {"limits": wanted}
    if pkg.max_replicas:
        spec.update(minReplicas=max(pkg.min_replicas, 1), maxReplicas=pkg.max_replicas)
    reqs = list(pkg.requirements)
    if member.signature == "fusionizer" and "requests" not in reqs:
        reqs.append("requests")  # the requests_session (the engine gives it; Nuclio builds it)
    return HandlerSource(pkg.name, "", ENTRY, tuple(reqs)), spec, packed_source(pkg.name, [member])
