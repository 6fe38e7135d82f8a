"""How many containers a unit has: prewarm, cool, scale, and the reaper's pass.

``Scaler`` starts containers ahead of calls (``prewarm``), stops idle ones (``cool``),
holds a function at a replica count (``scale``: its minimum, kept by the reaper) and,
once per reaper tick, retires containers idle past the keep-alive and starts the ones a
minimum asks for (``reap_once``). A long-running function is not scaled here: its
desired count goes to Redis for its workflow controller. It reads the engine's catalog
(``functions``: the dict itself, shared) and placement's pools; it starts a container
through the engine's ``start_container``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from ..errors import BackendError, CapacityExceeded, InvalidRequest, Unreachable
from . import packages
from .nodes import Container, NodeRuntime
from .placement import Placement, long_running
from .redislink import RedisLink

__all__ = ["Scaler"]


class Scaler:
    """Prewarm, cool, scale, replica counts and the reaper's pass over the pools."""

    def __init__(
        self,
        functions: dict[str, packages.FunctionSpec],
        placement: Placement,
        redis_link: RedisLink,
        *,
        keep_alive_s: float,
        resolve: Callable[[str], packages.FunctionSpec],
        unit_of: Callable[[str], str],
        start_container: Callable[[str, NodeRuntime], Awaitable[Container]],
        event: Callable[..., None],
    ):
        self.functions = functions
        self.placement = placement
        self.redis_link = redis_link
        self.keep_alive_s = keep_alive_s
        self.resolve = resolve
        self.unit_of = unit_of
        self.start_container = start_container
        self.event = event

    async def prewarm(self, fn: str, node: str | None, count: int = 1) -> list[Container]:
        spec = self.resolve(fn)
        if count < 1 or count > 1000:
            raise InvalidRequest("count must be between 1 and 1000")
        unit = self.unit_of(spec.name)
        node = self.placement.placed_on(unit, node)
        memory_mb, _ = self.placement.unit_limits(unit)
        started = []
        for _ in range(count):
            if not self.placement.below_max(unit):
                if started:
                    break
                raise CapacityExceeded(
                    f"{spec.name} already runs its maximum of {self.placement.max_of(unit)} replicas"
                )
            if node:
                target = self.placement.node(node)
                if not target.has_room(memory_mb):
                    target = self.placement.evict_for(memory_mb, target, unit)
            else:
                target = self.placement.pick_node(unit, memory_mb) or self.placement.evict_for(memory_mb, None, unit)
            if target is None:
                if started:
                    break
                raise CapacityExceeded(
                    f"no room to prewarm {spec.name} on {node or 'any node'}", hint="scale something down"
                )
            c = await self.start_container(unit, target)
            self.placement.release(c)
            started.append(c)
        self.event("prewarm", function=spec.name, node=node or "*", count=len(started))
        return started

    async def cool(self, fn: str, node: str | None) -> int:
        """Stop the idle containers of ``fn`` (on ``node``); the opposite of prewarm."""
        spec = self.resolve(fn)
        unit = self.unit_of(spec.name)
        victims = [c for c in self.placement.idle.get(unit, []) if node is None or c.node.name == node]
        for c in victims:
            self.placement.retire(c, "cooled")
        return len(victims)

    async def scale(self, fn: str, replicas: int) -> packages.FunctionSpec:
        spec = self.resolve(fn)
        if replicas < 0 or replicas > 1000:
            raise InvalidRequest("replicas must be between 0 and 1000")
        if long_running(spec):  # [workflow hook] its controller runs the loops
            await self.record_desired(spec.name, replicas)
            self.event("scale", function=spec.name, replicas=replicas)
            return spec
        spec.min_replicas = replicas
        unit = self.unit_of(spec.name)
        have = list(self.placement.containers_of(unit))
        if len(have) < replicas:
            await self.prewarm(spec.name, None, replicas - len(have))
        elif len(have) > replicas:
            extra = len(have) - replicas
            idle = sorted(self.placement.idle.get(unit, []), key=lambda c: c.last_used)
            for c in idle[:extra]:
                self.placement.retire(c, "scaled down")
        self.event("scale", function=spec.name, replicas=replicas)
        return spec

    async def record_desired(self, fn: str, replicas: int) -> None:
        """[workflow hook] A long-running function (label ``faastui.io/long-running``)
        is a loop started by async calls; its controller (backends/workflow) reads
        the desired count from Redis ``faastui:scale:<fn>`` and starts or stops loops."""
        redis = self.redis_link.client
        if redis is None:
            raise Unreachable(f"scaling {fn} needs Redis, and the engine has none")
        await self.redis_link.call(f"scaling {fn}", redis.set, f"faastui:scale:{fn}", replicas)

    def replicas(self, fn: str) -> tuple[int, int]:
        """(containers hosting fn, of which idle)."""
        unit = self.unit_of(fn)
        total = sum(1 for _ in self.placement.containers_of(unit))
        return total, len(self.placement.idle.get(unit, []))

    async def reap_once(self) -> None:
        now = time.time()
        for unit, pool in list(self.placement.idle.items()):
            keep = max(
                [self.functions[f].min_replicas for f in self.placement.unit_fns(unit) if f in self.functions] or [0]
            )
            total = sum(1 for _ in self.placement.containers_of(unit))
            for c in sorted(pool, key=lambda c: c.last_used):
                if total <= keep:
                    break
                if now - c.last_used > self.keep_alive_s:
                    self.placement.retire(c, "idle")
                    total -= 1
        for name, spec in list(self.functions.items()):
            unit = self.unit_of(name)
            have = sum(1 for _ in self.placement.containers_of(unit))
            if spec.min_replicas > have:
                try:
                    await self.prewarm(name, None, spec.min_replicas - have)
                except BackendError:
                    pass
