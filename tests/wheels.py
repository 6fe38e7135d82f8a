"""Wheels built by the tests themselves, so requirements install with no network.

A wheel is a zip with the package and a ``.dist-info`` (METADATA, WHEEL, RECORD); pip
installs it from a ``--find-links`` folder with ``--no-index`` (the engine's pip reads
``PIP_NO_INDEX``/``PIP_FIND_LINKS`` from its environment).
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

__all__ = ["build_wheel", "pip_env"]


def build_wheel(out: Path, name: str, version: str, source: str | None = None) -> Path:
    """``<out>/<name>-<version>-py3-none-any.whl`` holding module ``name`` (``source``,
    default ``VALUE = "<version>"``)."""
    out.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": source if source is not None else f"VALUE = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: faastui-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    wheel = out / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def pip_env(wheels: Path) -> dict[str, str]:
    """The environment that makes pip install from ``wheels`` only."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
