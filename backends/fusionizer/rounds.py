"""The fusion optimizer through a backend: fetch the inputs, plan, apply; once or in rounds.

``optimize`` plans once on the cumulative call graph; ``optimize_every`` repeats
every N seconds on the calls since the last round (``window``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import time
from collections.abc import Iterable
from typing import Any

from ..base import Capability
from ..errors import BackendError, InvalidRequest, Unsupported
from ..model import FusionGroup
from .planner import Edge, Plan, Step, plan

__all__ = ["optimize", "apply_plan", "window", "optimize_every"]


# ---- through a backend --------------------------------------------------------------------
async def apply_plan(backend, p: Plan) -> Plan:
    """Run ``p``'s steps on ``backend``: every unfuse, then every fuse.

    Returns: ``p`` with ``applied=True`` and ``done`` = the steps run.
    Raises: the first step's ``BackendError``, its message saying which steps had
    already been done (the rest were not tried).
    """
    order = [s for s in p.steps if s.action == "unfuse"] + [s for s in p.steps if s.action == "fuse"]
    done: list[Step] = []
    for step in order:
        try:
            if step.action == "unfuse":
                await backend.unfuse(step.group)
            else:
                await backend.fuse(step.functions, step.group)
        except BackendError as exc:
            so_far = "; ".join(map(str, done)) or "nothing"
            exc.message = f"{step} failed: {exc.message} (done before it: {so_far})"
            raise
        done.append(step)
    return dataclasses.replace(p, applied=True, done=done)


async def _observe(backend, thresholds: dict[str, Any]):
    """One look at ``backend``: (edges, functions, current groups, thresholds with the
    ``max_memory_mb`` default filled in)."""
    backend.require(Capability.FUSE, "fuse functions")
    edges = await backend.call_graph()
    functions = await backend.functions()
    current = await backend.fusion_groups()
    thresholds = dict(thresholds)
    if "max_memory_mb" not in thresholds:
        sizes = [n.memory_mb for n in await backend.nodes() if n.memory_mb]
        thresholds["max_memory_mb"] = max(sizes) if sizes else None
    return edges, functions, current, thresholds


async def _plan_and_apply(backend, edges, functions, current, apply: bool, thresholds: dict[str, Any]) -> Plan:
    try:
        p = plan(edges, functions, current, **thresholds)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    if apply and p.steps:
        return await apply_plan(backend, p)
    return dataclasses.replace(p, applied=apply)


async def optimize(backend, apply: bool = False, **thresholds: Any) -> Plan:
    """Plan fusion groups from ``backend``'s call graph; with ``apply``, carry it out.

    Args:
        backend: any ``Backend`` with the FUSE capability and ``call_graph()``.
        apply: run the steps (unfuse first, then fuse) instead of only planning.
        thresholds: ``Thresholds`` fields. ``max_memory_mb`` defaults to the
            memory of the largest node (a group runs as one worker on one node).
    Returns: the Plan (``applied``/``done`` filled when applied).
    Raises: Unsupported without fusion or a call graph; the backend's errors.
    """
    edges, functions, current, thresholds = await _observe(backend, thresholds)
    return await _plan_and_apply(backend, edges, functions, current, apply, thresholds)


# ---- continuously -------------------------------------------------------------------------
def _increase(before: int | None, now: int) -> int:
    """What a cumulative counter gained; one that went down was restarted (an engine
    restart, a group fused anew), so all of ``now`` is new."""
    return now if before is None or now < before else now - before


def window(previous: Iterable[Any], current: Iterable[Any]) -> list[Edge]:
    """The calls of the last window, from two cumulative call graphs.

    Args:
        previous: the graph at the start of the window; current: the graph now.
            Either as ``plan`` takes edges (duplicates are summed).
    Returns: per edge of ``current``, the calls made since ``previous``, heaviest
        first; edges with no new calls (and edges gone from ``current``) are left
        out. Never negative: a count that went down was restarted, so its
        window is the current count.
    """

    def totals(edges: Iterable[Any]) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for e in map(Edge.of, edges):
            out[(e.caller, e.callee)] = out.get((e.caller, e.callee), 0) + e.calls
        return out

    before = totals(previous)
    gained = {k: _increase(before.get(k), n) for k, n in totals(current).items()}
    return [Edge(a, b, n) for (a, b), n in sorted(gained.items(), key=lambda kv: (-kv[1], kv[0])) if n > 0]


def _window_groups(previous: Iterable[FusionGroup], current: Iterable[FusionGroup]):
    """``current`` with ``calls_local``/``calls_remote`` counted since ``previous``
    (a group is the same group only with the same name and members)."""
    before = {(g.name, frozenset(g.functions)): g for g in previous}
    out = []
    for g in current:
        was = before.get((g.name, frozenset(g.functions)))
        out.append(
            g
            if was is None
            else dataclasses.replace(
                g,
                calls_local=_increase(was.calls_local, g.calls_local),
                calls_remote=_increase(was.calls_remote, g.calls_remote),
            )
        )
    return out


async def _call(callback, *args: Any) -> None:
    if callback is not None:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result


async def optimize_every(
    backend,
    every: float,
    rounds: int | None = None,
    apply: bool = False,
    on_round=None,
    on_error=None,
    max_failures: int = 3,
    **thresholds: Any,
) -> int:
    """Optimize in rounds, ``every`` seconds apart, each judged on the last window.

    Round 1 plans on the cumulative call graph, like ``optimize``; each later
    round on the calls since the last round that succeeded (``window``; the
    groups' local calls likewise). Rounds start ``every`` seconds apart (at once
    when a round took longer); the wait is ``asyncio.sleep``, so cancelling the
    task stops the loop.

    Args:
        backend, apply, thresholds: as ``optimize``.
        every: seconds between the starts of two rounds (> 0).
        rounds: stop after this many rounds (a failed round counts); None: until
            cancelled.
        on_round: ``on_round(round_no, plan)`` after each good round, sync or async.
        on_error: ``on_error(round_no, error)`` for a round that raised a
            ``BackendError`` (sync or async). With it, the loop goes on and the next
            window also covers the failed round's calls; without it, the error is
            raised at once.
        max_failures: raise after this many failed rounds in a row.
    Returns: the number of rounds run.
    Raises: InvalidRequest for bad arguments; Unsupported without fusion (both at
        once, never retried); the last BackendError after ``max_failures``.
    """
    if not every > 0 or (rounds is not None and rounds < 1) or max_failures < 1:
        raise InvalidRequest("need every > 0, rounds >= 1 (or None) and max_failures >= 1")
    try:
        plan([], [], **thresholds)  # bad thresholds fail now, not in round 1
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    backend.require(Capability.FUSE, "fuse functions")
    seen: tuple[list, list] | None = None  # (edges, groups) at the last good round
    failures = round_no = 0
    started = time.monotonic()
    while rounds is None or round_no < rounds:
        if round_no:
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))
        started = time.monotonic()
        round_no += 1
        try:
            edges, functions, current, knobs = await _observe(backend, thresholds)
            judged_edges, judged_groups = (
                (edges, current) if seen is None else (window(seen[0], edges), _window_groups(seen[1], current))
            )
            p = await _plan_and_apply(backend, judged_edges, functions, judged_groups, apply, knobs)
        except (InvalidRequest, Unsupported):
            raise  # will not fix itself
        except BackendError as exc:
            failures += 1
            if on_error is None or failures >= max_failures:
                raise
            await _call(on_error, round_no, exc)
            continue
        failures = 0
        seen = (edges, current)
        await _call(on_round, round_no, p)
    return round_no
