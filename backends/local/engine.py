"""The embedded engine's core: functions, containers, placement and calls.

It owns the nodes (each a zygote plus capacity), the deployed functions, the
fusion groups, the warm pools and the call history. The HTTP layer
(``api.py``) is a thin translation over these methods. Everything runs on
one asyncio loop; nothing here blocks it.

Placement: a call takes an idle container of its unit (a function, or the
fusion group that hosts it) on the requested node, preferring the most
recently used; otherwise it cold-starts one where there is room, evicting
the least recently used idle container of another unit if needed; otherwise
it waits for a container to come free, up to the function's timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import deque
from pathlib import Path

from .. import imageref
from ..errors import (BackendError, CapacityExceeded, Conflict, FunctionNotFound, InvalidRequest,
                      NodeNotFound, Unreachable, did_you_mean)
from . import packages
from .calls import CallOutcome, CallsMixin
from .deploy import DeployMixin
from .durable import DURABLE_EVENTS, DurableMixin
from .failures import FailuresMixin
from .fusion import FusionMixin, GroupState
from .logs import FunctionLog, LogLimits
from .nodes import Container, NodeRuntime, NodeSpec, WorkerGone, describe_exit
from .redislink import RedisLink
from .secret_store import SecretStore
from .stats import History

__all__ = ["Engine", "CallOutcome", "GroupState"]  # the last two re-exported for api.py

log = logging.getLogger(__name__)


class Engine(DeployMixin, FusionMixin, CallsMixin, DurableMixin, FailuresMixin):
    """The engine. Deploy, fusion, async calls/dispatch, the durable state and what is
    done when parts die live in their mixins (deploy.py, fusion.py, calls.py,
    durable.py, failures.py); this class holds the state they share."""

    def __init__(self, state_dir: Path, nodes: list[NodeSpec], *, keep_alive_s: float = 300.0,
                 gateway_url: str = "", token: str = "", redis=None, redis_url: str = "",
                 queue_watcher=None, cluster_record: dict | None = None,
                 saved_state: dict | None = None, log_limits: LogLimits | None = None):
        if not nodes:
            raise InvalidRequest("a cluster needs at least one node")
        self.state_dir = Path(state_dir)
        self.functions_root = self.state_dir / "functions"
        self.logs_dir = self.state_dir / "logs"
        self.secret_store = SecretStore(self.state_dir)
        self.keep_alive_s = keep_alive_s
        self.gateway_url = gateway_url
        self.token = token
        self.redis = redis  # redis.asyncio client, or None
        self.redis_url = redis_url  # handed to functions as REDIS_URL
        self.redis_link = RedisLink(redis, redis_url)  # waits out a Redis restart
        self.cluster_record = cluster_record  # what durable.py saves as the cluster
        self._saved_state = saved_state or {}
        self.unsaved: dict[str, dict] = {}  # finished async calls Redis does not have yet
        self.fetched: set[str] = set()  # of those, the ones fetched from memory
        self.loop_calls: set[str] = set()  # pending async calls of long-running functions
        self.log_limits = log_limits or LogLimits()
        self.logs: dict[str, FunctionLog] = {}  # unit -> its log file (one writer: us)
        self.queue_watcher = queue_watcher
        self.nodes: dict[str, NodeRuntime] = {
            spec.name: NodeRuntime(spec, on_lost=self._on_container_lost,
                                   on_zygote_lost=self._on_zygote_lost) for spec in nodes}
        self.functions: dict[str, packages.FunctionSpec] = {}
        self.groups: dict[str, GroupState] = {}
        self.fn_group: dict[str, str] = {}
        self.idle: dict[str, list[Container]] = {}
        self.history = History()
        self.recent: deque[CallOutcome] = deque(maxlen=200)
        self.events: deque[dict] = deque(maxlen=500)
        self.call_graph: dict[tuple[str, str], int] = {}
        self.invocation_count: dict[str, int] = {}
        self.pending: dict[str, asyncio.Future] = {}
        self._tasks: set[asyncio.Task] = set()
        self._freed: asyncio.Future | None = None
        self._reaper: asyncio.Task | None = None
        self._versions = 0
        self.started_at = time.time()
        self.busy: set[Container] = set()
        self._id_prefix = uuid.uuid4().hex[:12]
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: asyncio.Task | None = None

    # ---- life cycle ---------------------------------------------------------------
    async def start(self) -> None:
        self.functions_root.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.secret_store.ensure()
        for node in self.nodes.values():
            node.start_zygote({"FAASTUI_NODE": node.name})
        self._loop = asyncio.get_running_loop()
        await self._restore()
        self._reaper = self._loop.create_task(self._reap_loop())
        self._watchdog = self._loop.create_task(self._watchdog_loop())
        await self.restore_durable(self._saved_state)
        if self.redis_link.client is not None:
            try:
                marked = await self.redis_link.call("marking interrupted calls",
                                                    self.mark_interrupted)
            except BackendError as exc:
                log.error("could not mark the calls a previous engine left running: %s", exc)
            else:
                if marked:
                    self.event("error", error=f"{marked} async call(s) were running when the "
                                              "engine last stopped; marked interrupted")

    async def stop(self, drain_s: float = 0.0) -> None:
        """Stop; with ``drain_s``, first wait that long for running async calls."""
        if drain_s > 0 and (self._draining() or self.unsaved):
            left = await self.drain(drain_s)
            if left:
                log.warning("%d async call(s) still running after %gs; they end as "
                            "interrupted", left, drain_s)
        for task in (self._reaper, self._watchdog):
            if task is not None:
                task.cancel()
        for task in list(self._tasks):
            task.cancel()
        for node in self.nodes.values():
            node.stop_zygote()
        for flog in self.logs.values():
            flog.close()

    def function_log(self, unit: str) -> FunctionLog:
        """The log file that ``unit``'s workers print into."""
        flog = self.logs.get(unit)
        if flog is None:
            flog = self.logs[unit] = FunctionLog(self.logs_dir / f"{unit}.log", self.log_limits)
        return flog

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def event(self, kind: str, **detail) -> None:
        detail.update(t=time.time(), kind=kind)
        self.events.append(detail)
        if kind in DURABLE_EVENTS:
            self.dirty = True  # the HTTP layer persists before it answers
        elif kind in ("error", "crash"):
            log.warning("%s: %s", kind, " ".join(f"{k}={v}" for k, v in detail.items()
                                                  if k not in ("t", "kind")))

    # ---- names ----------------------------------------------------------------------
    def resolve(self, name: str) -> packages.FunctionSpec:
        """A function by name, or by its image under Docker's reference rules (the Invokers
        and Ilúvatar style). Raises FunctionNotFound, or Conflict when an image names two."""
        spec = self.functions.get(name)
        if spec is not None:
            return spec
        wanted = imageref.normalize(name)  # `repo/fn`, `repo/fn:latest`, `docker.io/...`: one image
        by_image = sorted(s.name for s in self.functions.values()
                          if s.image and imageref.normalize(s.image) == wanted)
        if len(by_image) == 1:
            return self.functions[by_image[0]]
        if by_image:
            raise Conflict(f"image {name!r} matches {len(by_image)} functions: {', '.join(by_image)}",
                           hint="name the function instead of its image")
        raise FunctionNotFound(f"function {name!r} not found",
                               hint=did_you_mean(name, self.functions) or
                               "list them with `faastui functions`")

    def node(self, name: str) -> NodeRuntime:
        node = self.nodes.get(name)
        if node is None:
            raise NodeNotFound(f"node {name!r} not found",
                               hint=did_you_mean(name, self.nodes) or
                               f"nodes: {', '.join(self.nodes)}")
        return node

    def unit_of(self, fn: str) -> str:
        return self.fn_group.get(fn, fn)

    def unit_fns(self, unit: str) -> tuple[str, ...]:
        group = self.groups.get(unit)
        return tuple(group.functions) if group else (unit,)

    def _unit_limits(self, unit: str) -> tuple[float, float]:
        specs = [self.functions[f] for f in self.unit_fns(unit)]
        return sum(s.memory_mb for s in specs), max(s.cpus for s in specs)

    def containers_of(self, unit: str):
        for node in self.nodes.values():
            for c in node.containers.values():
                if c.unit == unit:
                    yield c

    # ---- containers -------------------------------------------------------------------
    async def _start_container(self, unit: str, node: NodeRuntime) -> Container:
        memory_mb, cpus = self._unit_limits(unit)
        fns = self.unit_fns(unit)
        c = Container(node, unit, fns, memory_mb, cpus, group=unit if unit in self.groups else None)
        node.containers[c.id] = c
        env: dict[str, str] = {}
        for fn in fns:
            env.update(self.functions[fn].env)
        if self.redis_url:
            env.setdefault("REDIS_URL", self.redis_url)
        try:
            await c.start(self.gateway_url, self.token, env, self.function_log(unit),
                          {fn: list(self.functions[fn].secrets) for fn in fns},
                          str(self.secret_store.root))
        except BaseException:
            node.containers.pop(c.id, None)
            c.kill()
            raise
        self.event("start", unit=unit, node=node.name, container=c.id, pid=c.pid,
                   cold_start_ms=round(c.cold_start_ms, 3))
        return c

    def _pick_node(self, unit: str, memory_mb: float) -> NodeRuntime | None:
        best = None
        for node in self.nodes.values():
            if node.ready and node.has_room(memory_mb):
                key = (len(node.containers), node.used_memory_mb)
                if best is None or key < best[0]:
                    best = (key, node)
        return best[1] if best else None

    def _evict_for(self, memory_mb: float, node: NodeRuntime | None,
                   unit: str) -> NodeRuntime | None:
        """Stop least recently used idle containers of other units to make room."""
        candidates = [c for u, lst in self.idle.items() if u != unit for c in lst
                      if node is None or c.node is node]
        candidates.sort(key=lambda c: c.last_used)
        for c in candidates:
            self._retire(c, "evicted")
            if c.node.has_room(memory_mb):
                return c.node
        return None

    def _take_idle(self, unit: str, node: str | None) -> Container | None:
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

    async def _acquire(self, unit: str, node: str | None, timeout: float) -> tuple[Container, str]:
        deadline = time.monotonic() + max(timeout, 1.0)
        while True:
            c = self._take_idle(unit, node)
            if c is not None:
                state = "warm" if c.used else "prewarm"
                c.state = "busy"
                return c, state
            memory_mb, _ = self._unit_limits(unit)
            target = self.node(node) if node else None
            if target is not None:
                if memory_mb > target.spec.memory_mb:
                    raise CapacityExceeded(f"{unit} needs {memory_mb:g} MB; node {node} has "
                                           f"{target.spec.memory_mb:g} MB")
                room = target if target.has_room(memory_mb) else self._evict_for(memory_mb, target, unit)
            else:
                room = self._pick_node(unit, memory_mb) or self._evict_for(memory_mb, None, unit)
            if room is not None and self._below_max(unit):  # else wait for one to come free
                c = await self._start_container(unit, room)
                c.state = "busy"
                return c, "cold"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CapacityExceeded(f"no room for {unit}: every node is full and busy",
                                       hint="scale down other functions or add nodes")
            if self._freed is None or self._freed.done():
                self._freed = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._freed), remaining)
            except asyncio.TimeoutError:
                pass

    def _notify_freed(self) -> None:
        if self._freed is not None and not self._freed.done():
            self._freed.set_result(None)

    def _release(self, c: Container) -> None:
        c.last_used = time.time()
        if _long_running(self.functions.get(c.unit)):  # [workflow hook] lives as long as its call
            self._retire(c, "loop ended")
            return
        if c.stale or not c.alive or c.unit not in self._live_units():
            self._retire(c, "stale")
            return
        c.state = "warm" if c.used else "prewarm"
        self.idle.setdefault(c.unit, []).append(c)
        self._notify_freed()

    def _live_units(self):
        return self.functions.keys() | self.groups.keys()

    def _retire(self, c: Container, why: str) -> None:
        pool = self.idle.get(c.unit)
        if pool and c in pool:
            pool.remove(c)
        c.node.containers.pop(c.id, None)
        c.close()
        self.event("stop", unit=c.unit, node=c.node.name, container=c.id, reason=why)
        self._notify_freed()

    # ---- calls -----------------------------------------------------------------------
    async def invoke(self, fn: str, body: bytes = b"", node: str | None = None,
                     headers: dict | None = None, call_id: str | None = None,
                     t0: float | None = None) -> CallOutcome:
        """Run one call and wait for it. The function's own failure is an outcome."""
        perf = time.perf_counter
        t0 = t0 or perf()
        spec = self.resolve(fn)
        unit = self.unit_of(spec.name)
        node = self._placed_on(unit, node)  # a function pinned to a node runs there
        if node is not None:
            self.node(node)
        out = CallOutcome(call_id or f"{self._id_prefix}{next(self._ids):x}", spec.name)
        out.started_at = time.time()
        c, state = await self._acquire(unit, node, spec.timeout_s)
        out.node = c.node.name
        out.container_state = state
        if state == "cold":
            out.cold_start_ms = c.cold_start_ms
        c.used = True
        c.calls += 1
        self.busy.add(c)
        try:
            header, output = await c.call(spec.name, body, headers,
                                          self._loop.time() + spec.timeout_s)
        except WorkerGone:
            if c.timed_out:
                self._retire(c, "timeout")
                out.status = "timeout"
                out.error = f"{spec.name} timed out after {spec.timeout_s:g}s; its worker was killed"
                out.http_status = 504
            else:  # OOM is reported by the worker itself (a MemoryError); this is a crash
                info = await c.wait_exit()
                self._retire(c, "crashed")
                out.status = "crashed"
                how = describe_exit(info) if info is not None or c.node.proc is c.zygote \
                    else "its node's zygote died and took it along"
                out.error = f"{spec.name} crashed ({how}); its worker was replaced"
                out.http_status = 500
        except asyncio.CancelledError:
            c.kill()
            self._retire(c, "cancelled")
            raise
        else:
            out.duration_ms = header.get("ms", 0.0)
            if header.get("ok"):
                out.output = output
                out.content_type = header.get("ct", out.content_type)
                out.http_status = header.get("st", 200)
                out.headers = header.get("hd")
            else:
                out.status = header.get("kind", "error")
                out.error = header.get("err", "error")
                out.http_status = 500
            self._count_calls(unit, spec.name, header)
            if out.status == "oom":
                self._retire(c, "oom")
            else:
                self._release(c)
        finally:
            self.busy.discard(c)
        t1 = perf()
        out.ended_at = time.time()
        out.overhead_ms = max(0.0, (t1 - t0) * 1000.0 - out.duration_ms - out.cold_start_ms)
        self.invocation_count[spec.name] = self.invocation_count.get(spec.name, 0) + 1
        total_ms = (t1 - t0) * 1000.0
        self.recent.append(out)
        self.history.add(out.ended_at, spec.name, total_ms, out.ok, state == "cold",
                         None if spec.deadline_ms is None else total_ms <= spec.deadline_ms)
        if not out.ok:
            self.event("error", function=spec.name, node=out.node, status=out.status,
                       error=out.error)
        return out

    def _count_calls(self, unit: str, fn: str, header: dict) -> None:
        local = header.get("loc", 0)
        remote = header.get("rem")
        group = self.groups.get(unit)
        if group is not None:
            group.calls_local += local
            if remote:
                group.calls_remote += sum(remote.values())
        if remote:
            for callee, n in remote.items():
                self.call_graph[(fn, callee)] = self.call_graph.get((fn, callee), 0) + n

    # ---- prewarm and scale ---------------------------------------------------------------
    async def prewarm(self, fn: str, node: str | None, count: int = 1) -> list[Container]:
        spec = self.resolve(fn)
        if count < 1 or count > 1000:
            raise InvalidRequest("count must be between 1 and 1000")
        unit = self.unit_of(spec.name)
        node = self._placed_on(unit, node)
        memory_mb, _ = self._unit_limits(unit)
        started = []
        for _ in range(count):
            if not self._below_max(unit):
                if started:
                    break
                raise CapacityExceeded(f"{spec.name} already runs its maximum of "
                                       f"{self._max_of(unit)} replicas")
            if node:
                target = self.node(node)
                if not target.has_room(memory_mb):
                    target = self._evict_for(memory_mb, target, unit)
            else:
                target = self._pick_node(unit, memory_mb) or self._evict_for(memory_mb, None, unit)
            if target is None:
                if started:
                    break
                raise CapacityExceeded(f"no room to prewarm {spec.name} on "
                                       f"{node or 'any node'}", hint="scale something down")
            c = await self._start_container(unit, target)
            self._release(c)
            started.append(c)
        self.event("prewarm", function=spec.name, node=node or "*", count=len(started))
        return started

    async def cool(self, fn: str, node: str | None) -> int:
        """Stop the idle containers of ``fn`` (on ``node``); the opposite of prewarm."""
        spec = self.resolve(fn)
        unit = self.unit_of(spec.name)
        victims = [c for c in self.idle.get(unit, []) if node is None or c.node.name == node]
        for c in victims:
            self._retire(c, "cooled")
        return len(victims)

    async def scale(self, fn: str, replicas: int) -> packages.FunctionSpec:
        spec = self.resolve(fn)
        if replicas < 0 or replicas > 1000:
            raise InvalidRequest("replicas must be between 0 and 1000")
        if _long_running(spec):  # [workflow hook] its controller runs the loops
            await self._record_desired(spec.name, replicas)
            self.event("scale", function=spec.name, replicas=replicas)
            return spec
        spec.min_replicas = replicas
        unit = self.unit_of(spec.name)
        have = list(self.containers_of(unit))
        if len(have) < replicas:
            await self.prewarm(spec.name, None, replicas - len(have))
        elif len(have) > replicas:
            extra = len(have) - replicas
            idle = sorted(self.idle.get(unit, []), key=lambda c: c.last_used)
            for c in idle[:extra]:
                self._retire(c, "scaled down")
        self.event("scale", function=spec.name, replicas=replicas)
        return spec

    async def _record_desired(self, fn: str, replicas: int) -> None:
        """[workflow hook] A long-running function (label ``faastui.io/long-running``)
        is a loop started by async calls; its controller (backends/workflow) reads
        the desired count from Redis ``faastui:scale:<fn>`` and starts or stops loops."""
        if self.redis is None:
            raise Unreachable(f"scaling {fn} needs Redis, and the engine has none")
        await self.redis_link.call(f"scaling {fn}", self.redis.set, f"faastui:scale:{fn}", replicas)

    def replicas(self, fn: str) -> tuple[int, int]:
        """(containers hosting fn, of which idle)."""
        unit = self.unit_of(fn)
        total = sum(1 for _ in self.containers_of(unit))
        return total, len(self.idle.get(unit, []))

    async def _watchdog_loop(self, interval: float = 0.02) -> None:
        """Kill workers whose call ran past the function's timeout.

        One timer for all calls instead of one per call: the invoke path
        stays cheap, and timeouts are enforced to within ``interval`` (a call
        that starts while the engine is idle may overrun by up to 0.25 s).
        """
        while True:
            # no call running: nothing can time out, so do not wake the loop 50 times a second
            await asyncio.sleep(interval if self.busy else 0.25)
            now = self._loop.time()
            for c in list(self.busy):
                if c.deadline and now > c.deadline and not c.timed_out:
                    c.timed_out = True
                    c.kill()

    async def _reap_loop(self) -> None:
        interval = max(0.2, min(5.0, self.keep_alive_s / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                await self._reap_once()
                if self.dirty:
                    self.persist()
            except Exception as exc:  # keep the loop alive; report it, with its traceback
                log.exception("the reaper failed")
                self.event("error", error=f"reaper: {type(exc).__name__}: {exc}")

    async def _reap_once(self) -> None:
        now = time.time()
        for unit, pool in list(self.idle.items()):
            keep = max([self.functions[f].min_replicas for f in self.unit_fns(unit)
                        if f in self.functions] or [0])
            total = sum(1 for _ in self.containers_of(unit))
            for c in sorted(pool, key=lambda c: c.last_used):
                if total <= keep:
                    break
                if now - c.last_used > self.keep_alive_s:
                    self._retire(c, "idle")
                    total -= 1
        for name, spec in list(self.functions.items()):
            unit = self.unit_of(name)
            have = sum(1 for _ in self.containers_of(unit))
            if spec.min_replicas > have:
                try:
                    await self.prewarm(name, None, spec.min_replicas - have)
                except BackendError:
                    pass



def _long_running(spec: packages.FunctionSpec | None) -> bool:
    """[workflow hook] A loop started by an async call, scaled by its controller."""
    return spec is not None and spec.labels.get("faastui.io/long-running") == "true"
