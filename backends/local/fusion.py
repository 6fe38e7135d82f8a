"""Fusion groups: several functions hosted by one worker process.

A call from one member to another is an in-process call (counted as local);
calls to anything else go back through the gateway (counted as remote, and
recorded in the engine's call graph for regrouping).

Fusing and unfusing switch without downtime. The unit that is to serve the calls (the
group's worker on ``fuse``, each member's own worker on ``unfuse``) is started first, where
a node has room, while calls still go to the old one; then every member is routed to the
new unit at once (plain assignments with no ``await`` between them, so no call sees half a
switch); then the old workers retire: the idle ones at once, the busy ones when their call
in flight ends. Where no node has room for both, the new unit starts right after the old
one retired (its first call may then be a cold start; it never fails).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import Conflict, InvalidRequest, NotFound, did_you_mean
from ..model import FusionGroup
from . import packages
from .placement import Placement

__all__ = ["GroupState", "Fusion", "unit_state"]


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


class Fusion:
    """Fuse, unfuse, list groups. The engine's ``groups`` and ``fn_group`` (shared dicts:
    placement and every call read them) are changed here and nowhere else."""

    def __init__(
        self,
        functions: dict[str, packages.FunctionSpec],
        groups: dict[str, GroupState],
        fn_group: dict[str, str],
        placement: Placement,
        *,
        resolve: Callable[[str], packages.FunctionSpec],
        event: Callable[..., None],
    ):
        self.functions = functions
        self.groups = groups
        self.fn_group = fn_group
        self.placement = placement
        self.resolve = resolve
        self.event = event
        #: functions a fuse or unfuse is moving now: they may not join another group
        self.moving: set[str] = set()
        #: groups whose worker is starting: known to placement, not yet routed to
        self.forming: set[str] = set()

    async def fuse(self, functions: list[str], name: str | None = None) -> GroupState:
        names = [self.resolve(f).name for f in functions]
        if len(set(names)) < 2:
            raise InvalidRequest("fuse needs at least two different functions")
        self._check_free(names)
        name = packages.validate_name(name or ("fused-" + "-".join(names))[:63].rstrip("-"), "fusion group")
        if name in self.groups or name in self.functions:
            raise Conflict(f"the name {name!r} is taken")
        group = GroupState(name, names)
        before = {f: self.functions[f] for f in names}
        self.groups[name] = group  # known, so its worker can start; no member is routed to it
        self.forming.add(name)
        self.moving.update(names)
        try:
            started = await self.placement.start_idle(name)  # the group answers before the switch
            gone = [f for f in names if f not in self.functions]
            if gone:
                raise Conflict(f"{gone[0]} was removed while it was being fused")
        except BaseException:
            self.groups.pop(name, None)
            self.placement.retire_unit(name, "fuse abandoned")
            self.placement.idle.pop(name, None)
            raise
        finally:
            self.forming.discard(name)
            self.moving.difference_update(names)
        if not self._same_code(before):  # a member was redeployed meanwhile
            self.placement.retire_unit(name, "redeployed")
            started = False
        for f in names:  # the switch
            self.fn_group[f] = name
        for f in names:
            self.placement.retire_unit(f, "fused")
        self.event("fuse", group=name, functions=names)
        if not started:  # no room beside the members' own workers; now there is
            await self.placement.start_idle(name, evict=True)
        return group

    async def unfuse(self, group: str) -> list[str]:
        state = self.groups.get(group)
        if state is None or group in self.forming:
            raise NotFound(
                f"fusion group {group!r} not found",
                hint=did_you_mean(group, self.groups) or "list them with `faastui fusion`",
            )
        members = list(state.functions)
        if any(f in self.moving for f in members):
            raise Conflict(f"fusion group {group!r} is being changed", hint="try again")
        before = {f: self.functions[f] for f in members if f in self.functions}
        self.moving.update(members)
        try:  # each member answers alone before the group stops taking calls
            ready = await asyncio.gather(*(self.placement.start_idle(f) for f in before))
        finally:
            self.moving.difference_update(members)
        started = {f for f, ok in zip(before, ready) if ok}
        if self.groups.get(group) is not state:
            raise Conflict(f"fusion group {group!r} changed while it was being unfused")
        del self.groups[group]  # the switch
        for f in members:
            self.fn_group.pop(f, None)
        self.placement.retire_unit(group, "unfused")
        self.placement.idle.pop(group, None)
        self.event("unfuse", group=group, functions=members)
        for f in before:
            if f not in self.functions:
                continue
            if self.functions[f] is not before[f]:  # redeployed meanwhile: its new code
                self.placement.retire_unit(f, "redeployed")
                started.discard(f)
            if f not in started:
                await self.placement.start_idle(f, evict=True)
        return members

    def fusion_groups(self) -> list[FusionGroup]:
        out = []
        for g in self.groups.values():
            if g.name in self.forming:
                continue  # not a group until the switch
            cs = list(self.placement.containers_of(g.name))
            nodes = sorted({c.node.name for c in cs})
            out.append(
                FusionGroup(
                    name=g.name,
                    functions=list(g.functions),
                    node=",".join(nodes),
                    state=unit_state(cs),
                    calls_local=g.calls_local,
                    calls_remote=g.calls_remote,
                )
            )
        return out

    # ---- the parts of a switch ---------------------------------------------------------------
    def _check_free(self, names: list[str]) -> None:
        for f in names:
            if f in self.fn_group:
                raise Conflict(
                    f"{f} is already in fusion group {self.fn_group[f]!r}",
                    hint=f"unfuse it first: faastui unfuse {self.fn_group[f]}",
                )
            if f in self.moving:
                raise Conflict(f"{f} is being fused or unfused", hint="try again")

    def _same_code(self, before: dict) -> bool:
        return all(self.functions.get(f) is spec for f, spec in before.items())
