"""Where a unit's calls run: the engine's containers, their warm pools and the rules a
package sets (a pinned node, a replica ceiling).

A unit is a function, or the fusion group that hosts it. A call takes an idle container
of its unit on the requested node, preferring the most recently used; otherwise it
cold-starts one where there is room, evicting the least recently used idle container of
another unit if needed; otherwise it waits for a container to come free, up to the
function's timeout.

``Placement`` owns the pools (``idle``), the containers in a call (``busy``) and the
"a container came free" signal. It reads the engine's catalog (``functions``, ``groups``:
the dicts themselves, shared) and starts a container through the ``start_container``
it is given (the engine's: it knows the gateway, the token, the env and the log).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ..errors import BackendError, CapacityExceeded, InvalidRequest, NodeNotFound, did_you_mean
from . import packages
from .nodes import Container, NodeRuntime

__all__ = ["Placement", "long_running"]


def long_running(spec: packages.FunctionSpec | None) -> bool:
    """[workflow hook] A loop started by an async call, scaled by its controller."""
    return spec is not None and spec.labels.get("faastui.io/long-running") == "true"


class Placement:
    """The containers of every unit and the choice of where the next one runs."""

    def __init__(
        self,
        nodes: dict[str, NodeRuntime],
        functions: dict[str, packages.FunctionSpec],
        groups: dict,
        *,
        start_container: Callable[[str, NodeRuntime], Awaitable[Container]],
        event: Callable[..., None],
    ):
        self.nodes = nodes
        self.functions = functions
        self.groups = groups  # name -> fusion.GroupState
        self.start_container = start_container
        self.event = event
        self.idle: dict[str, list[Container]] = {}
        self.busy: set[Container] = set()
        self._freed: asyncio.Future | None = None

    # ---- units ------------------------------------------------------------------------
    def node(self, name: str) -> NodeRuntime:
        node = self.nodes.get(name)
        if node is None:
            raise NodeNotFound(
                f"node {name!r} not found", hint=did_you_mean(name, self.nodes) or f"nodes: {', '.join(self.nodes)}"
            )
        return node

    def unit_fns(self, unit: str) -> tuple[str, ...]:
        group = self.groups.get(unit)
        return tuple(group.functions) if group else (unit,)

    def unit_limits(self, unit: str) -> tuple[float, float]:
        specs = [self.functions[f] for f in self.unit_fns(unit)]
        return sum(s.memory_mb for s in specs), max(s.cpus for s in specs)

    def containers_of(self, unit: str):
        for node in self.nodes.values():
            for c in node.containers.values():
                if c.unit == unit:
                    yield c

    def live_units(self):
        return self.functions.keys() | self.groups.keys()

    # ---- rules a package sets: a pinned node, a replica ceiling -----------------------------
    def placed_on(self, unit: str, node: str | None) -> str | None:
        """The node a call or prewarm of ``unit`` must use: its pin, if it has one."""
        if unit not in self.groups:  # the common case, on every call: one lookup
            spec = self.functions.get(unit)
            pin = spec.node if spec is not None else ""
        else:
            pin = min(
                (self.functions[f].node for f in self.unit_fns(unit) if f in self.functions and self.functions[f].node),
                default="",
            )
        if not pin:
            return node
        if node and node != pin:
            raise InvalidRequest(f"{unit} is pinned to node {pin!r} by its constraints; it cannot run on {node!r}")
        return pin

    def max_of(self, unit: str) -> int:
        highs = [self.functions[f].max_replicas for f in self.unit_fns(unit) if f in self.functions]
        return min([h for h in highs if h > 0] or [0])

    def below_max(self, unit: str) -> bool:
        high = self.max_of(unit)
        return high <= 0 or sum(1 for _ in self.containers_of(unit)) < high

    # ---- where ---------------------------------------------------------------------------
    def pick_node(self, unit: str, memory_mb: float) -> NodeRuntime | None:
        best = None
        for node in self.nodes.values():
            if node.ready and node.has_room(memory_mb):
                key = (len(node.containers), node.used_memory_mb)
                if best is None or key < best[0]:
                    best = (key, node)
        return best[1] if best else None

    def evict_for(self, memory_mb: float, node: NodeRuntime | None, unit: str) -> NodeRuntime | None:
        """Stop least recently used idle containers of other units to make room."""
        candidates = [c for u, lst in self.idle.items() if u != unit for c in lst if node is None or c.node is node]
        candidates.sort(key=lambda c: c.last_used)
        for c in candidates:
            self.retire(c, "evicted")
            if c.node.has_room(memory_mb):
                return c.node
        return None

    def take_idle(self, unit: str, node: str | None) -> Container | None:
        pool = self.idle.get(unit)
        if not pool:
            return None
        for i in range(len(pool) - 1, -1, -1):
            c = pool[i]
            if node is None or c.node.name == node:
                del pool[i]
                if c.alive:
                    return c
        return None

    async def acquire(self, unit: str, node: str | None, timeout: float) -> tuple[Container, str]:
        """A container of ``unit`` for one call, and how it was had (warm, prewarm, cold)."""
        deadline = time.monotonic() + max(timeout, 1.0)
        while True:
            c = self.take_idle(unit, node)
            if c is not None:
                state = "warm" if c.used else "prewarm"
                c.state = "busy"
                return c, state
            memory_mb, _ = self.unit_limits(unit)
            target = self.node(node) if node else None
            if target is not None:
                if memory_mb > target.spec.memory_mb:
                    raise CapacityExceeded(
                        f"{unit} needs {memory_mb:g} MB; node {node} has {target.spec.memory_mb:g} MB"
                    )
                room = target if target.has_room(memory_mb) else self.evict_for(memory_mb, target, unit)
            else:
                room = self.pick_node(unit, memory_mb) or self.evict_for(memory_mb, None, unit)
            if room is not None and self.below_max(unit):  # else wait for one to come free
                c = await self.start_container(unit, room)
                c.state = "busy"
                return c, "cold"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CapacityExceeded(
                    f"no room for {unit}: every node is full and busy", hint="scale down other functions or add nodes"
                )
            if self._freed is None or self._freed.done():
                self._freed = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._freed), remaining)
            except TimeoutError:
                pass

    async def start_idle(self, unit: str, evict: bool = False) -> bool:
        """Have one idle worker of ``unit``: start one where a node has room (making room by
        evicting idle workers of other units only with ``evict``).
        Returns: whether ``unit`` has an idle worker now."""
        if self.idle.get(unit):
            return True
        if not self.below_max(unit):
            return False
        memory_mb, _ = self.unit_limits(unit)
        try:
            pinned = self.placed_on(unit, None)
        except InvalidRequest:
            return False  # members pinned to two nodes: their calls say so
        if pinned:
            target = self.nodes.get(pinned)
            if target is not None and not target.has_room(memory_mb):
                target = self.evict_for(memory_mb, target, unit) if evict else None
        else:
            target = self.pick_node(unit, memory_mb) or (self.evict_for(memory_mb, None, unit) if evict else None)
        if target is None:
            return False
        try:
            c = await self.start_container(unit, target)
        except BackendError as exc:
            self.event("error", unit=unit, error=f"starting ahead of a switch: {exc}")
            return False
        self.release(c)
        return bool(self.idle.get(unit))

    # ---- back to the pool, or gone ---------------------------------------------------------
    def notify_freed(self) -> None:
        if self._freed is not None and not self._freed.done():
            self._freed.set_result(None)

    def release(self, c: Container) -> None:
        c.last_used = time.time()
        if long_running(self.functions.get(c.unit)):  # [workflow hook] lives as long as its call
            self.retire(c, "loop ended")
            return
        if c.stale or not c.alive or c.unit not in self.live_units():
            self.retire(c, "stale")
            return
        c.state = "warm" if c.used else "prewarm"
        self.idle.setdefault(c.unit, []).append(c)
        self.notify_freed()

    def retire(self, c: Container, why: str) -> None:
        pool = self.idle.get(c.unit)
        if pool and c in pool:
            pool.remove(c)
        c.node.containers.pop(c.id, None)
        c.close()
        self.event("stop", unit=c.unit, node=c.node.name, container=c.id, reason=why)
        self.notify_freed()

    def retire_unit(self, unit: str, why: str) -> None:
        """Every worker of ``unit`` stops taking calls: the idle ones retire now; the busy
        ones, and those still starting for a call that came before the switch, when that
        call ends (``stale``)."""
        for c in list(self.containers_of(unit)):
            c.stale = True
            if c.state not in ("busy", "starting"):
                self.retire(c, why)
