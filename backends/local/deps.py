"""Requirements of deployed functions: pip-installed per function, never into faastui's own
environment, with one pip cache shared by all of them.

Each function's requirements go to ``<state>/deps/<function>/<key>``, where ``key`` is a
hash of the requirement list and the Python version: redeploying with the same list
reuses the folder (no pip run), a new list gets a new folder. pip installs into a
temporary folder that is renamed into place only when pip succeeded, so a failed install
leaves nothing behind and the running version keeps its own folder. pip reads its usual
configuration (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ``pip.conf``) from the engine's
environment; the cache is ``<state>/pip-cache``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from ..errors import InvalidRequest

__all__ = ["DepsStore", "Installed"]

_DONE = ".complete"


class Installed:
    """The outcome of ``DepsStore.ensure``: where, and whether pip ran this time."""

    __slots__ = ("path", "installed", "seconds")

    def __init__(self, path: Path | None, installed: bool, seconds: float = 0.0):
        self.path = path
        self.installed = installed
        self.seconds = seconds

    @property
    def outcome(self) -> str:
        if self.path is None:
            return "none"
        return "installed" if self.installed else "kept"


class DepsStore:
    def __init__(self, root: Path, cache: Path, timeout_s: float = 900.0):
        self.root = Path(root)
        self.cache = Path(cache)
        self.timeout_s = timeout_s

    @staticmethod
    def key(requirements: list[str]) -> str:
        text = "\n".join([f"python {sys.version_info[0]}.{sys.version_info[1]}"] + sorted(set(requirements)))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def path(self, fn: str, requirements: list[str]) -> Path:
        return self.root / fn / self.key(requirements)

    def ensure(self, fn: str, requirements: list[str]) -> Installed:
        """The folder holding ``requirements`` for ``fn``, installing them if needed.
        Blocking (runs pip): call it from a thread. Raises InvalidRequest when pip fails."""
        if not requirements:
            return Installed(None, False)
        final = self.path(fn, requirements)
        if (final / _DONE).is_file():
            return Installed(final, False)
        final.parent.mkdir(parents=True, exist_ok=True)
        self.cache.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{uuid.uuid4().hex[:8]}"
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-warn-script-location",
            "--target",
            str(tmp),
            "--cache-dir",
            str(self.cache),
            *requirements,
        ]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=self.timeout_s, env=env, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InvalidRequest(
                f"installing the requirements of {fn} took more than {self.timeout_s:g}s; nothing was changed"
            ) from None
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InvalidRequest(
                f"installing the requirements of {fn} failed: {_reason(proc)}",
                hint="the running version, if any, keeps serving",
            )
        (tmp / _DONE).write_text(" ".join(requirements) + "\n")
        try:
            os.rename(tmp, final)
        except OSError:  # a concurrent deploy of the same list got there first: use its folder
            shutil.rmtree(tmp, ignore_errors=True)
        return Installed(final, True, time.perf_counter() - t0)

    def prune(self, fn: str, keep: set[Path]) -> None:
        """Remove ``fn``'s folders that no version in ``keep`` uses (and stale temporaries)."""
        folder = self.root / fn
        if not folder.is_dir():
            return
        keep = {Path(k).resolve() for k in keep if k}
        for entry in folder.iterdir():
            if entry.resolve() in keep:
                continue
            if entry.name.startswith(".tmp-") and time.time() - entry.stat().st_mtime < 3600:
                continue  # maybe a deploy in progress
            shutil.rmtree(entry, ignore_errors=True)

    def remove(self, fn: str) -> None:
        shutil.rmtree(self.root / fn, ignore_errors=True)


def _reason(proc: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    return (errors or lines or [f"pip exited with code {proc.returncode}"])[-1]
