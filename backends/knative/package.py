"""A function package read for Knative: a folder or zip becomes the one handler module, its
requirements and the function.yaml settings that ``KnativeBackend.deploy`` sends as source
(no image build, so a package of several modules is refused with the reason)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from ..agent import HandlerSource, prepare
from ..errors import InvalidRequest

__all__ = ["read_package", "package_files"]


def read_package(package: str | Path | bytes, name: str | None = None) -> tuple[HandlerSource, dict]:
    """A function folder or zip: its handler module, requirements.txt and function.yaml
    (name, handler ``module:func``, memory, cpus, timeout, env); the handler and the
    function.yaml mapping."""
    files = package_files(package)
    import yaml  # deferred: only a deploy from a package pays for it

    try:
        meta = yaml.safe_load(files.get("function.yaml", "")) or {}
    except yaml.YAMLError:
        raise InvalidRequest("function.yaml is not valid YAML") from None
    if not isinstance(meta, dict):
        raise InvalidRequest("function.yaml must be a mapping")
    module, _, func = str(meta.get("handler") or "handler:").partition(":")
    if f"{module}.py" not in files:
        raise InvalidRequest(f"the package has no {module}.py")
    others = sorted(f for f in files if f.endswith(".py") and f != f"{module}.py")
    if others:
        raise InvalidRequest(
            f"Knative runs a single handler module without an image build; the package also has {', '.join(others)}",
            hint="merge them into one file, or build an image",
        )
    reqs = [r.split("#")[0].strip() for r in files.get("requirements.txt", "").splitlines()]
    default = "" if isinstance(package, bytes) else Path(package).stem
    h = prepare(files[f"{module}.py"], name or meta.get("name") or default, reqs)
    if func and func != h.entry:
        if f"def {func}(" not in h.source:
            raise InvalidRequest(f"{module}.py defines no {func}()")
        h = HandlerSource(h.name, h.source, func, h.requirements)
    return h, meta


def package_files(package: str | Path | bytes) -> dict[str, str]:
    """The .py, function.yaml and requirements.txt at the top of a function folder or zip
    (a zip's single top folder is looked into)."""

    def wanted(name: str) -> bool:
        return name.endswith(".py") or name in ("function.yaml", "requirements.txt")

    if not isinstance(package, bytes):
        path = Path(package)
        if path.is_dir():
            return {p.name: p.read_text(errors="replace") for p in path.iterdir() if p.is_file() and wanted(p.name)}
        if not zipfile.is_zipfile(path):
            raise InvalidRequest(f"{path} is neither a function folder nor a zip")
        package = path.read_bytes()
    try:
        archive = zipfile.ZipFile(io.BytesIO(package))
    except zipfile.BadZipFile:
        raise InvalidRequest("the package is not a zip archive") from None
    names = [n for n in archive.namelist() if not n.endswith("/")]
    tops = {n.split("/")[0] for n in names}
    prefix = f"{tops.pop()}/" if len(tops) == 1 and all("/" in n for n in names) else ""
    return {
        n[len(prefix) :]: archive.read(n).decode("utf-8", "replace")
        for n in names
        if n.startswith(prefix) and "/" not in n[len(prefix) :] and wanted(n[len(prefix) :])
    }
