"""What the Backend contract's default log methods are made of: plain text lines as
``LogLine`` objects, and following a log by polling.

A backend that only implements ``Backend.logs(fn, tail) -> list[str]`` (the plain form,
each line possibly starting with ``[replica] ``, as the Knative and Nuclio adapters
write them) still gets ``log_lines`` (the lines as ``LogLine``, filtered by instance
here) and ``follow_logs`` (by polling). A backend whose lines carry times gets
``since`` and a follow that asks only for what is newer; one with a native stream
(OpenFaaS ``/system/logs?follow=true``, the Kubernetes API's ``follow=true``, Nuclio's
``follow=true``) overrides ``follow_logs`` itself.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from .model import LogLine

__all__ = ["from_text", "only_instance", "new_lines", "poll_follow", "FOLLOW_INTERVAL_S"]

#: seconds between two polls of a followed log
FOLLOW_INTERVAL_S = 1.0

_PREFIX = re.compile(r"^\[([^\]\s]+)\] (.*)$", re.DOTALL)


def from_text(fn: str, lines: list[str]) -> list[LogLine]:
    """Plain lines as LogLines; a ``[replica] `` prefix names the instance."""
    out = []
    for line in lines:
        m = _PREFIX.match(line)
        out.append(LogLine(fn, m.group(2), instance=m.group(1)) if m else LogLine(fn, line))
    return out


def only_instance(lines: list[LogLine], instance: str | None) -> list[LogLine]:
    return lines if not instance else [ln for ln in lines if ln.instance == instance]


def new_lines(before: list[LogLine], now: list[LogLine]) -> list[LogLine]:
    """The lines of window ``now`` that window ``before`` (both "the last N lines") did not
    have: what follows the longest end of ``before`` that ``now`` starts with. Without
    times this is a guess: a line repeated exactly across the two windows can hide a new
    copy of itself, and more than N new lines between two polls lose the oldest."""
    if not before:
        return now
    plain_before = [(ln.instance, ln.text) for ln in before]
    plain_now = [(ln.instance, ln.text) for ln in now]
    for k in range(min(len(plain_before), len(plain_now)), 0, -1):
        if plain_before[-k:] == plain_now[:k]:
            return now[k:]
    return now


async def poll_follow(
    fetch: Callable[..., Awaitable[list[LogLine]]], tail: int, since: float | None, interval: float
) -> AsyncIterator[LogLine]:
    """Follow a log by calling ``fetch(tail=, since=)`` (a backend's ``log_lines``) every
    ``interval`` seconds: first the last ``tail`` lines, then what is new. Once lines
    carry times, each poll asks for those since the newest time seen (the ones already
    seen at that very time are skipped); lines without times are told apart by
    ``new_lines``."""
    window = max(tail, 200)
    got = await fetch(tail=tail, since=since)
    for line in got:
        yield line
    newest: float | None = None
    at_newest: set[tuple[str, str]] = set()
    previous = got

    def note(lines: list[LogLine]) -> None:
        nonlocal newest, at_newest
        for ln in lines:
            if ln.time is None:
                continue
            if newest is None or ln.time > newest:
                newest, at_newest = ln.time, {(ln.instance, ln.text)}
            elif ln.time == newest:
                at_newest.add((ln.instance, ln.text))

    note(got)
    while True:
        await asyncio.sleep(interval)
        if newest is not None:
            got = await fetch(tail=window, since=newest)
            fresh = [
                ln
                for ln in got
                if ln.time is not None
                and (ln.time > newest or (ln.time == newest and (ln.instance, ln.text) not in at_newest))
            ]
        else:
            got = await fetch(tail=window, since=since)
            fresh = new_lines(previous, got)
            if got:
                previous = got
        note(fresh)
        for line in fresh:
            yield line
