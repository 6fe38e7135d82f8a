"""The fusion planner: target groups and the steps to reach them, from a call graph.

Pure and backend-independent; the algorithm is described in the package docstring
(``backends/fusionizer/__init__.py``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..model import Function, FusionGroup

__all__ = ["NO_FUSE_LABELS", "Edge", "Facts", "Thresholds", "PlannedGroup", "Step", "Plan", "plan"]

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
    def of(cls, item: Any) -> Edge:
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
    def of(cls, fn: Function | Facts) -> Facts:
        if isinstance(fn, Facts):
            return fn
        labels = fn.labels or {}
        why = next(
            (f"label {k}={labels[k]}" for k in NO_FUSE_LABELS if str(labels.get(k, "")).strip().lower() in _TRUE), ""
        )
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


def plan(
    edges: Iterable[Any],
    functions: Iterable[Function | Facts],
    current: Iterable[FusionGroup] = (),
    thresholds: Thresholds | None = None,
    **overrides: Any,
) -> Plan:
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
            dissolve[g.name] = (
                f"idle: {g.calls_local} local calls since fused and no call between members reaches the thresholds"
            )
            continue
        why = f"{g.calls_local} local calls since fused" if g.calls_local else "existing group"
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
            skipped.append(f"{text}: the group would have {len(joined)} functions (max {th.max_size})")
            continue
        if th.max_memory_mb is not None and memory(joined) > th.max_memory_mb:
            skipped.append(f"{text}: the group would need {memory(joined):g} MB (max {th.max_memory_mb:g} MB)")
            continue
        comps.reasons[comps.union(a, b)].append(text)

    # ---- name the targets, then diff against the current groups -----------------------
    by_members = {frozenset(g.functions): g for g in current if g.name not in dissolve}
    roots = sorted({comps.find(f) for f in list(comps.parent)}, key=lambda r: min(comps.members[r]))
    targets = [sorted(comps.members[r]) for r in roots if len(comps.members[r]) >= 2]
    kept_names = {
        g.name for g in current if g.name not in dissolve and frozenset(g.functions) in {frozenset(t) for t in targets}
    }
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
        inside = sorted(
            (g for g in current if g.name not in dissolve and set(g.functions) <= set(members)),
            key=lambda g: (-len(g.functions), g.name),
        )
        name = inside[0].name if inside else _unique(_group_name(members), taken)
        taken.add(name)
        groups.append(
            PlannedGroup(
                name,
                members,
                memory(members),
                "changed" if inside else "new",
                reason,
                replaces=[g.name for g in inside],
            )
        )

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
