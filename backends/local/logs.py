"""Function logs: what a function's workers print, capped and rotated, and read back.

A worker's stdout and stderr are one pipe whose other end the engine reads
(``LogPipe``, set up by ``nodes.Container.start``); all a unit's workers print
goes through one ``FunctionLog`` into ``logs/<unit>.log``. Before that file
would pass ``max_bytes`` it is rotated to ``<unit>.log.1`` (``.1`` to ``.2``, and
so on up to ``backups``; the oldest is dropped), so a function's logs never take
more than ``(backups + 1) * max_bytes`` on disk however much it prints. One
process writes each file, so rotating never races a writer.

``tail(path, n)`` reads the last ``n`` lines across the current and rotated
files, from their ends (never a whole file into memory).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, fields
from pathlib import Path

__all__ = ["LogLimits", "FunctionLog", "LogPipe", "tail"]


@dataclass(frozen=True)
class LogLimits:
    """How big one function's log file may grow, and how many rotated files are kept."""

    max_bytes: int = 10 * 1024 * 1024
    backups: int = 3

    @classmethod
    def from_settings(cls, settings: dict | None) -> LogLimits:
        """From the cluster file's ``logs:`` mapping. Raises ValueError on a bad entry."""
        known = [f.name for f in fields(cls)]
        values = {}
        for key, value in (settings or {}).items():
            if key not in known:
                raise ValueError(f"unknown logs setting {key!r}; known: {', '.join(known)}")
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise ValueError(f"logs setting {key} must be a whole number, not {value!r}") from None
            if number < (1 if key == "max_bytes" else 0):
                raise ValueError(f"logs setting {key} is too small: {number}")
            values[key] = number
        return cls(**values)


class FunctionLog:
    """One unit's log file, appended to, rotated before it passes ``limits.max_bytes``."""

    def __init__(self, path: Path, limits: LogLimits | None = None):
        self.path = Path(path)
        self.limits = limits or LogLimits()
        self.rotations = 0
        self._fd: int | None = None
        self._size = 0

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size

    def write(self, data: bytes) -> None:
        if self._fd is None:
            self._open()
        cap = self.limits.max_bytes
        while data:
            room = cap - self._size
            if room <= 0 or (len(data) > room and self._size > 0):
                self._rotate()
                continue
            part, data = data[:room], data[room:]
            os.write(self._fd, part)
            self._size += len(part)

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = None
        backups = self.limits.backups
        if backups == 0:
            os.unlink(self.path)
        else:
            for k in range(backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{k}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{k + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self.rotations += 1
        self._open()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class LogPipe(asyncio.Protocol):
    """The engine's end of one worker's stdout/stderr pipe."""

    def __init__(self, log: FunctionLog):
        self.log = log

    def data_received(self, data: bytes) -> None:
        try:
            self.log.write(data)
        except OSError:  # a full disk: drop the output, never the worker
            pass


def tail(path: Path, n: int, chunk: int = 64 * 1024) -> list[str]:
    """The last ``n`` lines of ``path`` and, if it has fewer, of its rotated files."""
    path = Path(path)
    files = [path] + [path.with_name(f"{path.name}.{k}") for k in range(1, 100)]
    lines: list[bytes] = []
    for f in files:
        if len(lines) >= n:
            break
        if not f.exists():
            if f is path:
                continue
            break
        lines = _last_lines(f, n - len(lines), chunk) + lines
    return [line.decode("utf-8", "replace") for line in lines[-n:]]


def _last_lines(path: Path, n: int, chunk: int) -> list[bytes]:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= n:
            start = max(0, end - chunk)
            f.seek(start)
            data = f.read(end - start) + data
            end = start
    lines = data.splitlines()
    if end > 0:  # the first line read may be a part of a longer one
        lines = lines[1:]
    return lines[-n:]
