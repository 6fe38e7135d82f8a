"""Reading a function's log back: the last lines, since a time, of one container, or what
came after a cursor (to follow it), across the rotated files.

A unit's log is ``logs/<unit>.log``; once it is rotated its older parts are
``<unit>.log.1`` (the newest of them), ``.2`` and so on (the engine's writer keeps a
few). Readers here never load a whole file: ``tail`` reads blocks from the end
backwards, through the rotated files, until it has its lines (or has passed ``since``);
``after`` reads forward from a cursor, ``"<inode>:<offset>"`` of a file, which survives
a rotation (a renamed file keeps its inode) so a follower misses nothing and sees
nothing twice.

Lines are in ``logstamp``'s format; an unstamped line takes the stamp of the stamped
line before it (a C library's output between two prints). A fused unit's log holds all
its members' lines: ``function`` keeps a member's own lines and those printed outside
any call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .logstamp import parse

__all__ = ["Entry", "tail", "after", "end_cursor", "files", "MAX_READ"]

BLOCK = 64 * 1024
#: bytes one ``after`` reads at most; the cursor it returns continues from there
MAX_READ = 4 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    time: float | None
    instance: str
    function: str
    text: str


def files(path: Path) -> list[Path]:
    """The log and its rotated parts that exist, newest first."""
    path = Path(path)
    out = [path] if path.exists() else []
    k = 1
    while True:
        older = path.with_name(f"{path.name}.{k}")
        if not older.exists():
            return out
        out.append(older)
        k += 1


def _keep(e: Entry, instance: str | None, function: str | None) -> bool:
    return (instance is None or e.instance == instance) and (function is None or e.function in (function, "-"))


def _complete_end(f, end: int) -> int:
    """The offset after the last newline at or before ``end`` (a part line is left out)."""
    pos = end
    while pos > 0:
        start = max(0, pos - BLOCK)
        f.seek(start)
        i = f.read(pos - start).rfind(b"\n")
        if i >= 0:
            return start + i + 1
        pos = start
    return 0


def _lines_backward(paths: list[Path], cursor: list):
    """Every line of ``paths`` (newest file first), newest line first, as text. The current
    file's part line (no newline yet) is left out; ``cursor`` gets the position after the
    last line read from it."""
    for i, path in enumerate(paths):
        try:
            f = open(path, "rb")
        except FileNotFoundError:  # rotated away meanwhile
            continue
        with f:
            end = f.seek(0, os.SEEK_END)
            if i == 0:
                end = _complete_end(f, end)
                cursor.append(f"{os.fstat(f.fileno()).st_ino}:{end}")
            rest = b""
            while end > 0:
                start = max(0, end - BLOCK)
                f.seek(start)
                chunk = f.read(end - start) + rest
                end = start
                lines = chunk.split(b"\n")
                rest = lines.pop(0) if end > 0 else b""  # maybe the tail of a longer line
                for raw in reversed(lines):
                    if raw:
                        yield raw.decode("utf-8", "replace")
            if rest:
                yield rest.decode("utf-8", "replace")


def tail(
    path: Path, n: int | None, *, since: float | None = None, instance: str | None = None, function: str | None = None
) -> tuple[list[Entry], str]:
    """The last ``n`` (None: all) lines that pass the filters, oldest first, and the cursor
    after them (for ``after``)."""
    paths = files(path)
    if n is not None and n <= 0:
        return [], end_cursor(path)
    out: list[Entry] = []  # newest first
    pending: list[str] = []  # unstamped lines waiting for the stamped line before them
    cursor: list[str] = []
    for line in _lines_backward(paths, cursor):
        got = parse(line)
        if got is None:
            pending.append(line)
            continue
        t, inst, fn, text = got
        if since is not None and t < since:
            pending = []
            break
        for e in [Entry(t, inst, fn, p) for p in pending] + [Entry(t, inst, fn, text)]:
            if _keep(e, instance, function):
                out.append(e)
        pending = []
        if n is not None and len(out) >= n:
            break
    if pending and since is None and instance is None:
        out += [Entry(None, "", "-", p) for p in pending]  # before the first stamp: unknown
    out = out[:n] if n is not None else out
    out.reverse()
    return out, (cursor[0] if cursor else end_cursor(path))


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def end_cursor(path: Path) -> str:
    """A cursor after the last whole line of the log (what ``after`` continues from)."""
    try:
        with open(path, "rb") as f:
            return f"{os.fstat(f.fileno()).st_ino}:{_complete_end(f, f.seek(0, os.SEEK_END))}"
    except FileNotFoundError:
        return "0:0"


def after(
    path: Path, cursor: str, *, instance: str | None = None, function: str | None = None, limit: int = MAX_READ
) -> tuple[list[Entry], str, bool]:
    """The lines written after ``cursor``, oldest first, the cursor after them, and whether
    lines may have been lost (the cursor's file was rotated out of reach). A part line
    at the end of the current file is left for the next call. Raises: ValueError for a
    malformed cursor."""
    ino_text, _, off_text = cursor.partition(":")
    ino, offset = int(ino_text), int(off_text)
    if offset < 0:
        raise ValueError("negative offset")
    paths = files(path)
    inodes = [_inode(p) for p in paths]
    lost = False
    if ino in inodes:
        start = inodes.index(ino)
    elif ino == 0 or not paths:  # the log did not exist yet: all of it is new
        start, offset = len(paths) - 1, 0
    else:  # rotated past the oldest part kept: read what there is
        start, offset, lost = len(paths) - 1, 0, True
    entries: list[Entry] = []
    budget = limit
    new_cursor = cursor if paths else "0:0"
    carry: tuple[float | None, str, str] = (None, "", "-")
    for i in range(start, -1, -1):
        p, current = paths[i], i == 0
        try:
            with open(p, "rb") as f:
                f.seek(offset)
                data = f.read(budget)
        except FileNotFoundError:
            continue
        if current and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1  # leave a part line for next time
            data = data[:cut]
        budget -= len(data)
        end = offset + len(data)
        for raw in data.split(b"\n")[:-1] if data else []:
            line = raw.decode("utf-8", "replace")
            got = parse(line)
            if got is None:
                e = Entry(*carry, line)
            else:
                t, inst, fn, text = got
                carry = (t, inst, fn)
                e = Entry(t, inst, fn, text)
            if _keep(e, instance, function):
                entries.append(e)
        new_cursor = f"{inodes[i]}:{end}"
        offset = 0
        if budget <= 0:
            break
    return entries, new_cursor, lost


@dataclass(frozen=True)
class Query:
    """What ``GET /faastui/v1/logs/{name}`` asks for, checked."""

    tail: int | None = 100
    since: float | None = None
    instance: str | None = None
    after: str | None = None

    @classmethod
    def of(cls, params) -> Query:
        """From the query parameters. Raises: InvalidRequest naming the bad parameter."""
        from ..errors import InvalidRequest
        from .params import number_param

        def number(name: str, kind, minimum):
            return number_param(name, params.get(name), None, kind, low=minimum)

        tail = number("tail", int, 0)
        after = params.get("after") or None
        if after is not None:
            ino, sep, off = after.partition(":")
            if not (sep and ino.isdigit() and off.isdigit()):
                raise InvalidRequest(f"query parameter 'after' must be a cursor INODE:OFFSET, got {after!r}")
        return cls(
            tail=100 if tail is None else tail,
            since=number("since", float, 0),
            instance=params.get("instance") or None,
            after=after,
        )


def answer(path: Path, q: Query, name: str, member: bool = False) -> dict:
    """The route's answer for function ``name`` (``member``: of a fused unit, whose log holds
    the other members' lines too): ``lines`` (text), ``entries`` (``LogLine`` fields),
    ``cursor``, and ``lost`` when following skipped lines that were rotated away."""
    lost = False
    function = name if member else None
    if q.after is not None:
        entries, cursor, lost = after(path, q.after, instance=q.instance, function=function)
        if q.since is not None:
            entries = [e for e in entries if e.time is not None and e.time >= q.since]
    else:
        entries, cursor = tail(path, q.tail, since=q.since, instance=q.instance, function=function)
    out = {
        "lines": [e.text for e in entries],
        "entries": [{"function": name, "text": e.text, "time": e.time, "instance": e.instance} for e in entries],
        "cursor": cursor,
    }
    if lost:
        out["lost"] = True
    return out
