"""Fusion groups: several functions hosted by one worker process.

A call from one member to another is an in-process call (counted as local);
calls to anything else go back through the gateway (counted as remote, and
recorded in the engine's call graph for regrouping).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import CapacityExceeded, Conflict, InvalidRequest, NotFound, did_you_mean
from ..model import FusionGroup
from . import packages

__all__ = ["GroupState", "FusionMixin", "unit_state"]


@dataclass
class GroupState:
    name: str
    functions: list[str]
    calls_local: int = 0
    calls_remote: int = 0
    created_at: float = field(default_factory=time.time)


def unit_state(containers) -> str:
    """The warmest state among a unit's containers (cold when there are none)."""
    states = {c.state for c in containers}
    for s in ("busy", "warm", "prewarm"):
        if s in states:
            return s
    return "cold"


class FusionMixin:
    """Fuse, unfuse, list groups; mixed into ``Engine``."""

    # ---- fusion ---------------------------------------------------------------------------
    async def fuse(self, functions: list[str], name: str | None = None) -> GroupState:
        names = [self.resolve(f).name for f in functions]
        if len(set(names)) < 2:
            raise InvalidRequest("fuse needs at least two different functions")
        for f in names:
            if f in self.fn_group:
                raise Conflict(f"{f} is already in fusion group {self.fn_group[f]!r}",
                               hint=f"unfuse it first: faastui unfuse {self.fn_group[f]}")
        name = packages.validate_name(name or ("fused-" + "-".join(names))[:63].rstrip("-"),
                                      "fusion group")
        if name in self.groups or name in self.functions:
            raise Conflict(f"the name {name!r} is taken")
        for f in names:
            for c in list(self.containers_of(f)):
                c.stale = True
                if c.state != "busy":
                    self._retire(c, "fused")
        group = GroupState(name, names)
        self.groups[name] = group
        for f in names:
            self.fn_group[f] = name
        self.event("fuse", group=name, functions=names)
        try:  # one worker process hosting them all, ready before the first call
            await self.prewarm(names[0], None, 1)
        except CapacityExceeded:
            pass  # stays cold; the first call starts it where there is room
        return group

    async def unfuse(self, group: str) -> list[str]:
        state = self.groups.pop(group, None)
        if state is None:
            raise NotFound(f"fusion group {group!r} not found",
                           hint=did_you_mean(group, self.groups) or "list them with `faastui fusion`")
        for f in state.functions:
            self.fn_group.pop(f, None)
        for c in list(self.containers_of(group)):
            c.stale = True
            if c.state != "busy":
                self._retire(c, "unfused")
        self.idle.pop(group, None)
        self.event("unfuse", group=group, functions=state.functions)
        return state.functions

    def fusion_groups(self) -> list[FusionGroup]:
        out = []
        for g in self.groups.values():
            cs = list(self.containers_of(g.name))
            nodes = sorted({c.node.name for c in cs})
            out.append(FusionGroup(name=g.name, functions=list(g.functions),
                                   node=",".join(nodes), state=unit_state(cs),
                                   calls_local=g.calls_local, calls_remote=g.calls_remote))
        return out
