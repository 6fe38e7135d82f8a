"""The line format of function logs: each line a worker prints is stamped with when, by
which container, in which function's call.

A stamped line is ``<time> <instance> <function> <text>``: the time in RFC 3339 (UTC,
microseconds, e.g. ``2025-01-31T12:00:00.123456Z``), the container id (``node-1-3``)
and the function whose call printed it (``-`` outside a call, e.g. at import). A worker
replaces its ``sys.stdout`` and ``sys.stderr`` with a ``StampedStream`` (``install``), so
``print`` and ``logging`` are stamped, a line at a time, in one write each (a line is
in the log when it is printed, not when a buffer fills). What reaches the file
descriptors some other way (a C library, a subprocess) comes unstamped; readers
(``logread.py``) give such a line the stamp of the line before it.

``parse`` reads a line back; both directions live here so the format is in one place.
The worker side is kept small: the zygote imports this module once for every worker.
"""

from __future__ import annotations

import calendar
import io
import os
import sys
import time

__all__ = ["stamp", "parse", "StampedStream", "install", "calling"]


def stamp(t: float, instance: str, function: str) -> str:
    """The prefix of a line printed at ``t`` by ``instance`` in ``function``'s call."""
    whole = int(t)
    micro = int((t - whole) * 1_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(whole))}.{micro:06d}Z {instance or '-'} {function or '-'} "


def _is_stamped(line: str) -> bool:
    return (
        len(line) > 28
        and line[4] == "-"
        and line[7] == "-"
        and line[10] == "T"
        and line[13] == ":"
        and line[16] == ":"
        and line[19] == "."
        and line[26] == "Z"
        and line[27] == " "
        and line[:4].isdigit()
        and line[20:26].isdigit()
    )


def parse(line: str) -> tuple[float, str, str, str] | None:
    """``(time, instance, function, text)`` of a stamped line, or None for an unstamped one."""
    if not _is_stamped(line):
        return None
    parts = line[28:].split(" ", 2)
    if len(parts) < 2:
        return None
    try:
        t = (
            calendar.timegm(
                (
                    int(line[0:4]),
                    int(line[5:7]),
                    int(line[8:10]),
                    int(line[11:13]),
                    int(line[14:16]),
                    int(line[17:19]),
                    0,
                    0,
                    0,
                )
            )
            + int(line[20:26]) / 1e6
        )
    except ValueError:
        return None
    return t, parts[0], parts[1], parts[2] if len(parts) > 2 else ""


class _Calling:
    """The function whose call this worker is in (a fused group hosts several)."""

    function = "-"


calling = _Calling()


class _Bytes:
    """``sys.stdout.buffer`` of a stamped stream: bytes written are decoded and stamped."""

    def __init__(self, text: StampedStream):
        self._text = text

    def write(self, data: bytes) -> int:
        self._text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        self._text.flush()


class StampedStream(io.TextIOBase):
    """A text stream over file descriptor ``fd`` that stamps every line (see the module).

    A line is written when its newline is; ``flush()`` writes a pending part line as a
    line of its own (the end of each call flushes, so nothing waits for the next call).
    """

    def __init__(self, fd: int, instance: str, name: str = "<stdout>"):
        super().__init__()
        self._fd = fd
        self._instance = instance or "-"
        self._partial = ""
        self._name = name
        self.buffer = _Bytes(self)

    # what code that inspects sys.stdout looks for
    encoding = "utf-8"
    errors = "replace"
    line_buffering = True

    @property
    def name(self) -> str:
        return self._name

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if "\n" not in s:
            self._partial += s
            return len(s)
        lines = (self._partial + s).split("\n")
        self._partial = lines.pop()
        self._emit(lines)
        return len(s)

    def flush(self) -> None:
        if self._partial:
            lines, self._partial = [self._partial], ""
            self._emit(lines)

    def _emit(self, lines: list[str]) -> None:
        prefix = stamp(time.time(), self._instance, calling.function)
        data = "".join(f"{prefix}{line}\n" for line in lines).encode("utf-8", "replace")
        while data:
            try:
                n = os.write(self._fd, data)
            except InterruptedError:
                continue
            except OSError:  # a full disk or a closed pipe: drop the output, keep the worker
                return
            data = data[n:]


def install(instance: str) -> None:
    """Stamp what this process prints from now on (``sys.stdout`` and ``sys.stderr``)."""
    for fd, attr in ((1, "stdout"), (2, "stderr")):
        old = getattr(sys, attr)
        try:
            if old is not None:
                old.flush()
        except (OSError, ValueError):
            pass
        setattr(sys, attr, StampedStream(fd, instance, f"<{attr}>"))
