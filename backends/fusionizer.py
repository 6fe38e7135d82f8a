"""The fusion optimizer: regroup functions into fusion groups from the observed call graph.

Fusionize-style: functions that call each other synchronously are hosted in one
deployment (a fusion group), so those calls become in-process calls. This module
reads the call graph a backend recorded and plans which groups should exist; it
is pure and backend-independent (``plan``), plus one async entry point
(``optimize``) that fetches the inputs through any ``Backend`` and, when asked,
applies the plan with ``Backend.unfuse``/``Backend.fuse``.

Algorithm (``plan``):

1. An edge ``a -> b`` *qualifies* when ``calls >= min_calls`` and its share of
   all recorded calls into ``b`` is ``>= min_share`` (``b`` is called mostly by
   ``a``; a callee shared 50/50 by two callers stays apart). Self-calls and edges
   to functions that are not deployed are ignored; a function labelled
   ``faastui.io/no-fuse`` or ``faastui.io/long-running`` is never fused.
2. Existing groups are seeded first, as already-merged components (the engine
   stops recording calls inside a group, so the graph alone cannot prove them
   again). A group is dissolved when a member may no longer be fused, when it is
   over ``max_size``/``max_memory_mb``, or, with ``unfuse_idle``, when it is
   *idle*: no qualifying edges join its members and fewer than ``min_calls``
   local calls were counted since it was fused (the count is cumulative).
3. Qualifying edges are taken heaviest first (ties by name, so plans are stable)
   and join their two components with union-find, unless the joined group would
   exceed ``max_size`` members or ``max_memory_mb`` (sum of members' memory, the
   size of the one worker that hosts a group); such edges are noted as skipped.
4. Components of two or more functions are the target groups. A target keeps the
   name of the (largest) existing group it contains, else it is named
   ``fg-<first member alphabetically>``.
5. Steps go from current to target: unfuse every current group that is not a
   target unchanged, then fuse every target that does not exist yet. A plan that
   changes nothing has no steps.

Continuously (``optimize_every``), as Fusionize's optimizer does: observe, regroup,
repeat every N seconds. The first round plans on the cumulative graph (the calls
so far are the only evidence there is, and it makes one round the same as
``optimize``); every later round plans on the *window* since the last good
round: per edge, the calls now minus the calls then (``window``), and likewise
each group's ``calls_local``, so ``unfuse_idle`` means "idle during the last
window". A heavy edge that has gone quiet no longer fuses; new traffic does.

The inputs are only model objects (``Function``, ``FusionGroup``) and
``(caller, callee, calls)`` edges, so the planner runs the same over any backend
that offers ``call_graph()`` and fusion.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .base import Capability
from .errors import BackendError, InvalidRequest, Unsupported
from .model import Function, FusionGroup

__all__ = [
    "NO_FUSE_LABELS",
    "Edge",
    "Facts",
    "Thresholds",
    "PlannedGroup",
    "Step",
    "Plan",
    "plan",
    "optimize",
    "apply_plan",
    "window",
    "optimize_every",
]

#: labels that keep a function out of every fusion group (value "true", "1" or "yes")
NO_FUSE_LABELS = ("faastui.io/no-fuse", "faastui.io/long-running")

_TRUE = {"true", "1", "yes", "on"}
_NAME_OK = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class Edge:
    """``calls`` synchronous calls from ``caller`` to ``callee``."""

    caller: str
    callee: str
    calls: int

    @classmethod
    def of(cls, item: Any) -> "Edge":
        """An Edge from an Edge, a ``(caller, callee, calls)`` tuple or the API's dict."""
        if isinstance(item, Edge):
            return item
        if isinstance(item, dict):
            return cls(str(item["caller"]), str(item["callee"]), int(item["calls"]))
        caller, callee, calls = item
        return cls(str(caller), str(callee), int(calls))


@dataclass(frozen=True)
class Facts:
    """What the planner needs to know of one function."""

    name: str
    memory_mb: float = 0.0
    cpus: float = 0.0
    no_fuse: str = ""  # why it may never be fused ("" = it may)

    @classmethod
    def of(cls, fn: "Function | Facts") -> "Facts":
        if isinstance(fn, Facts):
            return fn
        labels = fn.labels or {}
        why = next((f"label {k}={labels[k]}" for k in NO_FUSE_LABELS
                    if str(labels.get(k, "")).strip().lower() in _TRUE), "")
        return cls(fn.name, float(fn.memory_mb or 0.0), float(fn.cpus or 0.0), why)


@dataclass(frozen=True)
class Thresholds:
    min_calls: int = 10
    min_share: float = 0.6
    max_size: int = 4
    max_memory_mb: float | None = None  # None: no limit
    unfuse_idle: bool = False


@dataclass(frozen=True)
class PlannedGroup:
    """One target group. ``status``: keep (exists as is), new, or changed (it
    grows from or merges existing groups; ``replaces`` names them)."""

    name: str
    functions: list[str]
    memory_mb: float
    status: str
    reason: str
    replaces: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """``unfuse`` group ``group``, or ``fuse`` ``functions`` as ``group``."""

    action: str
    group: str
    functions: list[str]
    reason: str

    def __str__(self) -> str:
        if self.action == "unfuse":
            return f"unfuse {self.group} ({', '.join(self.functions)})"
        return f"fuse {' '.join(self.functions)} as {self.group}"


@dataclass(frozen=True)
class Plan:
    """Target groups, the steps to reach them, and the edges left out and why.

    ``applied`` is True once ``optimize(apply=True)`` ran every step; ``done``
    lists the steps that were executed.
    """

    groups: list[PlannedGroup] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    thresholds: Thresholds = field(default_factory=Thresholds)
    applied: bool = False
    done: list[Step] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.steps

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---- the planner --------------------------------------------------------------------------
class _Components:
    """Union-find over function names, tracking members and the edges that joined them."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}
        self.reasons: dict[str, list[str]] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        self.members.setdefault(x, {x})
        self.reasons.setdefault(x, [])
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> str:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if ra > rb:  # deterministic root
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra] |= self.members.pop(rb)
        self.reasons[ra] += self.reasons.pop(rb)
        return ra


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _group_name(members: list[str]) -> str:
    base = _NAME_OK.sub("-", ("fg-" + members[0]).lower()).strip("-")
    return base[:63].rstrip("-")


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    for i in range(2, 1000):
        cand = f"{name[:59].rstrip('-')}-{i}"
        if cand not in taken:
            return cand
    raise AssertionError("no free group name")  # pragma: no cover


def plan(edges: Iterable[Any], functions: Iterable[Function | Facts],
         current: Iterable[FusionGroup] = (), thresholds: Thresholds | None = None,
         **overrides: Any) -> Plan:
    """Plan the fusion groups the call graph asks for (see the module docstring).

    Args:
        edges: ``Edge``s, ``(caller, callee, calls)`` tuples or ``{"caller", "callee",
            "calls"}`` dicts; duplicates are summed.
        functions: the deployed functions (``Function`` or ``Facts``).
        current: the fusion groups that exist now.
        thresholds: the knobs; keyword ``overrides`` replace single fields.
    Returns: a ``Plan``; ``plan.empty`` when the current groups already fit.
    Raises: ValueError for a nonsensical threshold.
    """
    th = dataclasses.replace(thresholds or Thresholds(), **overrides)
    if th.min_calls < 1 or not 0.0 < th.min_share <= 1.0 or th.max_size < 2:
        raise ValueError("need min_calls >= 1, 0 < min_share <= 1 and max_size >= 2")
    facts = {f.name: f for f in map(Facts.of, functions)}
    current = sorted(current, key=lambda g: g.name)
    for g in current:  # a member the listing missed: assume it may stay (memory unknown)
        for f in g.functions:
            facts.setdefault(f, Facts(f))

    counts: dict[tuple[str, str], int] = {}
    for e in map(Edge.of, edges):
        if e.caller != e.callee and e.calls > 0:
            counts[(e.caller, e.callee)] = counts.get((e.caller, e.callee), 0) + e.calls
    incoming: dict[str, int] = {}
    for (_, b), n in counts.items():
        incoming[b] = incoming.get(b, 0) + n

    skipped: list[str] = []
    qualifying: list[tuple[str, str, int, str]] = []  # caller, callee, calls, reason
    for (a, b), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        share = n / incoming[b]
        text = f"{a}→{b} {n} sync calls, {_pct(share)} of {b}'s calls"
        if n < th.min_calls or share < th.min_share:
            continue  # below the thresholds: not worth a note
        missing = [f for f in (a, b) if f not in facts]
        if missing:
            skipped.append(f"{text}: {', '.join(missing)} not deployed")
            continue
        barred = [f for f in (a, b) if facts[f].no_fuse]
        if barred:
            skipped.append(f"{text}: {barred[0]} is never fused ({facts[barred[0]].no_fuse})")
            continue
        qualifying.append((a, b, n, text))

    comps = _Components()
    dissolve: dict[str, str] = {}  # current group -> why it is split
    for g in current:
        barred = [f for f in g.functions if facts[f].no_fuse]
        if barred:
            dissolve[g.name] = f"{barred[0]} is never fused ({facts[barred[0]].no_fuse})"
            continue
        if len(g.functions) > th.max_size:
            dissolve[g.name] = f"{len(g.functions)} functions, over the max of {th.max_size}"
            continue
        need = sum(facts[f].memory_mb for f in g.functions)
        if th.max_memory_mb is not None and need > th.max_memory_mb:
            dissolve[g.name] = f"needs {need:g} MB, over the max of {th.max_memory_mb:g} MB"
            continue
        inner = _Components()
        for a, b, _, _ in qualifying:
            if a in g.functions and b in g.functions:
                inner.union(a, b)
        joined = len({inner.find(f) for f in g.functions}) == 1
        if th.unfuse_idle and not joined and g.calls_local < th.min_calls:
            dissolve[g.name] = (f"idle: {g.calls_local} local calls since fused and no call "
                                f"between members reaches the thresholds")
            continue
        why = (f"{g.calls_local} local calls since fused" if g.calls_local
               else "existing group")
        for f in g.functions:
            comps.union(g.functions[0], f)
        comps.reasons[comps.find(g.functions[0])].append(f"{g.name}: {why}")

    def memory(members: Iterable[str]) -> float:
        return sum(facts[f].memory_mb for f in members)

    for a, b, _, text in qualifying:
        ra, rb = comps.find(a), comps.find(b)
        if ra == rb:
            comps.reasons[ra].append(text)
            continue
        joined = comps.members[ra] | comps.members[rb]
        if len(joined) > th.max_size:
            skipped.append(f"{text}: the group would have {len(joined)} functions "
                           f"(max {th.max_size})")
            continue
        if th.max_memory_mb is not None and memory(joined) > th.max_memory_mb:
            skipped.append(f"{text}: the group would need {memory(joined):g} MB "
                           f"(max {th.max_memory_mb:g} MB)")
            continue
        comps.reasons[comps.union(a, b)].append(text)

    # ---- name the targets, then diff against the current groups -----------------------
    by_members = {frozenset(g.functions): g for g in current if g.name not in dissolve}
    roots = sorted({comps.find(f) for f in list(comps.parent)}, key=lambda r: min(comps.members[r]))
    targets = [sorted(comps.members[r]) for r in roots if len(comps.members[r]) >= 2]
    kept_names = {g.name for g in current
                  if g.name not in dissolve and frozenset(g.functions) in
                  {frozenset(t) for t in targets}}
    # every surviving group lies inside a target and may keep its name there
    taken = set(facts) | {g.name for g in current if g.name not in dissolve}
    groups: list[PlannedGroup] = []
    for members in targets:
        root = comps.find(members[0])
        reason = "; ".join(comps.reasons[root])
        same = by_members.get(frozenset(members))
        if same is not None:
            groups.append(PlannedGroup(same.name, members, memory(members), "keep", reason))
            continue
        inside = sorted((g for g in current if g.name not in dissolve
                         and set(g.functions) <= set(members)),
                        key=lambda g: (-len(g.functions), g.name))
        name = inside[0].name if inside else _unique(_group_name(members), taken)
        taken.add(name)
        groups.append(PlannedGroup(name, members, memory(members),
                                   "changed" if inside else "new", reason,
                                   replaces=[g.name for g in inside]))

    steps: list[Step] = []
    for g in current:
        if g.name in kept_names:
            continue
        why = dissolve.get(g.name)
        if why is None:
            into = next(t.name for t in groups if g.name in t.replaces)
            why = f"grows into {into}" if into == g.name else f"merged into {into}"
        steps.append(Step("unfuse", g.name, sorted(g.functions), why))
    for t in groups:
        if t.status != "keep":
            steps.append(Step("fuse", t.name, t.functions, t.reason))
    return Plan(groups=groups, steps=steps, skipped=skipped, thresholds=th)


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


async def _plan_and_apply(backend, edges, functions, current, apply: bool,
                          thresholds: dict[str, Any]) -> Plan:
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
    return [Edge(a, b, n) for (a, b), n in sorted(gained.items(), key=lambda kv: (-kv[1], kv[0]))
            if n > 0]


def _window_groups(previous: Iterable[FusionGroup], current: Iterable[FusionGroup]):
    """``current`` with ``calls_local``/``calls_remote`` counted since ``previous``
    (a group is the same group only with the same name and members)."""
    before = {(g.name, frozenset(g.functions)): g for g in previous}
    out = []
    for g in current:
        was = before.get((g.name, frozenset(g.functions)))
        out.append(g if was is None else dataclasses.replace(
            g, calls_local=_increase(was.calls_local, g.calls_local),
            calls_remote=_increase(was.calls_remote, g.calls_remote)))
    return out


async def _call(callback, *args: Any) -> None:
    if callback is not None:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result


async def optimize_every(backend, every: float, rounds: int | None = None, apply: bool = False,
                         on_round=None, on_error=None, max_failures: int = 3,
                         **thresholds: Any) -> int:
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
            judged_edges, judged_groups = (edges, current) if seen is None else (
                window(seen[0], edges), _window_groups(seen[1], current))
            p = await _plan_and_apply(backend, judged_edges, functions, judged_groups, apply,
                                      knobs)
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
