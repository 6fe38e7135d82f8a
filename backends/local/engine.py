"""The embedded engine's core: the catalog, one synchronous call, its parts and loops.

The engine holds the catalog (the deployed ``functions``, the fusion ``groups`` and
which group hosts each function, ``fn_group``) and the call history, and owns its parts,
each an object built here with what it needs passed in:

- ``placement`` (``placement.py``): the containers, their warm pools, where a call runs;
- ``deployer`` (``deploy.py``): deploy, restore and remove;
- ``fusion`` (``fusion.py``): fuse and unfuse;
- ``calls`` (``calls.py``): async calls and dispatch;
- ``scaler`` (``scaler.py``): prewarm, cool, scale and the reaper's pass;
- ``durable`` (``durable.py``): the state kept across restarts;
- ``failures`` (``failures.py``): what is done when a zygote or a worker dies.

The HTTP layer (``api/``) is a thin translation over the methods here, which delegate
to the parts. Everything runs on one asyncio loop; nothing here blocks it.
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
from ..errors import BackendError, Conflict, FunctionNotFound, InvalidRequest, did_you_mean
from . import packages
from .calls import CallOutcome, CallStore
from .deploy import Deployer
from .durable import DURABLE_EVENTS, Durable
from .failures import Failures
from .fusion import Fusion, GroupState
from .logs import FunctionLog, LogLimits
from .nodes import Container, NodeRuntime, NodeSpec, WorkerGone, describe_exit
from .placement import Placement
from .redislink import RedisLink
from .scaler import Scaler
from .secret_store import SecretStore
from .stats import History

__all__ = ["Engine", "CallOutcome", "GroupState"]  # the last two re-exported for api/

log = logging.getLogger(__name__)


class Engine:
    """The engine: the catalog and its parts (``placement``, ``deployer``, ``fusion``,
    ``calls``, ``scaler``, ``durable``, ``failures``; module doc). Its public methods
    are what the API and the in-process backend call; those of a part delegate to it."""

    def __init__(
        self,
        state_dir: Path,
        nodes: list[NodeSpec],
        *,
        keep_alive_s: float = 300.0,
        gateway_url: str = "",
        token: str = "",
        redis=None,
        redis_url: str = "",
        queue_watcher=None,
        cluster_record: dict | None = None,
        saved_state: dict | None = None,
        log_limits: LogLimits | None = None,
    ):
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
        self._saved_state = saved_state or {}
        self.log_limits = log_limits or LogLimits()
        self.logs: dict[str, FunctionLog] = {}  # unit -> its log file (one writer: us)
        self.queue_watcher = queue_watcher
        self.nodes: dict[str, NodeRuntime] = {}  # filled below, once failures can hear of them
        self.functions: dict[str, packages.FunctionSpec] = {}
        self.groups: dict[str, GroupState] = {}
        self.fn_group: dict[str, str] = {}
        self.history = History()
        self.recent: deque[CallOutcome] = deque(maxlen=200)
        self.events: deque[dict] = deque(maxlen=500)
        self.call_graph: dict[tuple[str, str], int] = {}
        self.invocation_count: dict[str, int] = {}
        self._tasks: set[asyncio.Task] = set()
        self._reaper: asyncio.Task | None = None
        self.started_at = time.time()
        self._id_prefix = uuid.uuid4().hex[:12]
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: asyncio.Task | None = None
        # the parts; each gets the shared catalog and the engine's callbacks it uses
        self.placement = Placement(
            self.nodes, self.functions, self.groups, start_container=self._start_container, event=self.event
        )
        self.fusion = Fusion(
            self.functions, self.groups, self.fn_group, self.placement, resolve=self.resolve, event=self.event
        )
        self.deployer = Deployer(
            self.state_dir,
            self.functions,
            self.fn_group,
            self.placement,
            self.secret_store,
            resolve=self.resolve,
            unfuse=self.fusion.unfuse,
            event=self.event,
        )
        self.calls = CallStore(
            self.redis_link,
            self._id_prefix,
            invoke=self.invoke,
            resolve=self.resolve,
            node=self.node,
            spawn=self._spawn,
            event=self.event,
        )
        self.scaler = Scaler(
            self.functions,
            self.placement,
            self.redis_link,
            keep_alive_s=keep_alive_s,
            resolve=self.resolve,
            unit_of=self.unit_of,
            start_container=self._start_container,
            event=self.event,
        )
        self.durable = Durable(
            self.state_dir,
            cluster_record,
            self.functions,
            self.groups,
            self.fn_group,
            self.fusion.forming,
            unit_of=self.unit_of,
            containers_of=self.containers_of,
            prewarm=self.prewarm,
            event=self.event,
        )
        self.failures = Failures(
            self.nodes,
            self.functions,
            self.placement,
            self.redis_link,
            self.secret_store,
            spawn=self._spawn,
            event=self.event,
        )
        for spec in nodes:
            self.nodes[spec.name] = NodeRuntime(
                spec, on_lost=self.failures.container_lost, on_zygote_lost=self.failures.zygote_lost
            )
        # placement's state, by the names the API reads
        self.idle = self.placement.idle
        self.busy = self.placement.busy

    # ---- life cycle ---------------------------------------------------------------
    async def start(self) -> None:
        self.functions_root.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.secret_store.ensure()
        for node in self.nodes.values():
            node.start_zygote({"FAASTUI_NODE": node.name})
        self._loop = asyncio.get_running_loop()
        await self.deployer.restore()
        self._reaper = self._loop.create_task(self._reap_loop())
        self._watchdog = self._loop.create_task(self._watchdog_loop())
        await self.restore_durable(self._saved_state)
        if self.redis_link.client is not None:
            try:
                marked = await self.redis_link.call("marking interrupted calls", self.calls.mark_interrupted)
            except BackendError as exc:
                log.error("could not mark the calls a previous engine left running: %s", exc)
            else:
                if marked:
                    self.event(
                        "error",
                        error=f"{marked} async call(s) were running when the engine last stopped; marked interrupted",
                    )

    async def stop(self, drain_s: float = 0.0) -> None:
        """Stop; with ``drain_s``, first wait that long for running async calls."""
        if drain_s > 0 and (self.calls.draining() or self.calls.unsaved):
            left = await self.drain(drain_s)
            if left:
                log.warning("%d async call(s) still running after %gs; they end as interrupted", left, drain_s)
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
            self.durable.dirty = True  # the HTTP layer persists before it answers
        elif kind in ("error", "crash"):
            log.warning("%s: %s", kind, " ".join(f"{k}={v}" for k, v in detail.items() if k not in ("t", "kind")))

    # ---- names ----------------------------------------------------------------------
    def resolve(self, name: str) -> packages.FunctionSpec:
        """A function by name, or by its image under Docker's reference rules (the Invokers
        and Ilúvatar style). Raises FunctionNotFound, or Conflict when an image names two."""
        spec = self.functions.get(name)
        if spec is not None:
            return spec
        wanted = imageref.normalize(name)  # `repo/fn`, `repo/fn:latest`, `docker.io/...`: one image
        by_image = sorted(s.name for s in self.functions.values() if s.image and imageref.normalize(s.image) == wanted)
        if len(by_image) == 1:
            return self.functions[by_image[0]]
        if by_image:
            raise Conflict(
                f"image {name!r} matches {len(by_image)} functions: {', '.join(by_image)}",
                hint="name the function instead of its image",
            )
        raise FunctionNotFound(
            f"function {name!r} not found",
            hint=did_you_mean(name, self.functions) or "list them with `faastui functions`",
        )

    def node(self, name: str) -> NodeRuntime:
        """A node by name. Raises NodeNotFound."""
        return self.placement.node(name)

    def unit_of(self, fn: str) -> str:
        return self.fn_group.get(fn, fn)

    def unit_fns(self, unit: str) -> tuple[str, ...]:
        return self.placement.unit_fns(unit)

    def containers_of(self, unit: str):
        return self.placement.containers_of(unit)

    # ---- containers -------------------------------------------------------------------
    async def _start_container(self, unit: str, node: NodeRuntime) -> Container:
        memory_mb, cpus = self.placement.unit_limits(unit)
        fns = self.unit_fns(unit)
        c = Container(node, unit, fns, memory_mb, cpus, group=unit if unit in self.groups else None)
        node.containers[c.id] = c
        env: dict[str, str] = {}
        for fn in fns:
            env.update(self.functions[fn].env)
        if self.redis_url:
            env.setdefault("REDIS_URL", self.redis_url)
        try:
            await c.start(
                self.gateway_url,
                self.token,
                env,
                self.function_log(unit),
                {fn: list(self.functions[fn].secrets) for fn in fns},
                str(self.secret_store.root),
            )
        except BaseException:
            node.containers.pop(c.id, None)
            c.kill()
            raise
        self.event(
            "start", unit=unit, node=node.name, container=c.id, pid=c.pid, cold_start_ms=round(c.cold_start_ms, 3)
        )
        return c

    # ---- calls -----------------------------------------------------------------------
    async def invoke(
        self,
        fn: str,
        body: bytes = b"",
        node: str | None = None,
        headers: dict | None = None,
        call_id: str | None = None,
        t0: float | None = None,
    ) -> CallOutcome:
        """Run one call and wait for it. The function's own failure is an outcome."""
        perf = time.perf_counter
        t0 = t0 or perf()
        spec = self.resolve(fn)
        unit = self.unit_of(spec.name)
        node = self.placement.placed_on(unit, node)  # a function pinned to a node runs there
        if node is not None:
            self.node(node)
        out = CallOutcome(call_id or f"{self._id_prefix}{next(self._ids):x}", spec.name)
        out.started_at = time.time()
        c, state = await self.placement.acquire(unit, node, spec.timeout_s)
        out.node = c.node.name
        out.container_state = state
        if state == "cold":
            out.cold_start_ms = c.cold_start_ms
        c.used = True
        c.calls += 1
        self.busy.add(c)
        try:
            header, output = await c.call(spec.name, body, headers, self._loop.time() + spec.timeout_s)
        except WorkerGone:
            if c.timed_out:
                self.placement.retire(c, "timeout")
                out.status = "timeout"
                out.error = f"{spec.name} timed out after {spec.timeout_s:g}s; its worker was killed"
                out.http_status = 504
            else:  # OOM is reported by the worker itself (a MemoryError); this is a crash
                info = await c.wait_exit()
                self.placement.retire(c, "crashed")
                out.status = "crashed"
                how = (
                    describe_exit(info)
                    if info is not None or c.node.proc is c.zygote
                    else "its node's zygote died and took it along"
                )
                out.error = f"{spec.name} crashed ({how}); its worker was replaced"
                out.http_status = 500
        except asyncio.CancelledError:
            c.kill()
            self.placement.retire(c, "cancelled")
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
                self.placement.retire(c, "oom")
            else:
                self.placement.release(c)
        finally:
            self.busy.discard(c)
        t1 = perf()
        out.ended_at = time.time()
        out.overhead_ms = max(0.0, (t1 - t0) * 1000.0 - out.duration_ms - out.cold_start_ms)
        self.invocation_count[spec.name] = self.invocation_count.get(spec.name, 0) + 1
        total_ms = (t1 - t0) * 1000.0
        self.recent.append(out)
        self.history.add(
            out.ended_at,
            spec.name,
            total_ms,
            out.ok,
            state == "cold",
            None if spec.deadline_ms is None else total_ms <= spec.deadline_ms,
        )
        if not out.ok:
            self.event("error", function=spec.name, node=out.node, status=out.status, error=out.error)
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

    # ---- the parts' public methods ------------------------------------------------------
    async def deploy_dir(
        self, path: Path, name: str | None = None, secrets: list[str] | None = None
    ) -> packages.FunctionSpec:
        return await self.deployer.deploy_dir(path, name, secrets)

    async def deploy_zip(
        self, data: bytes, name: str | None = None, source: str | None = None
    ) -> packages.FunctionSpec:
        return await self.deployer.deploy_zip(data, name, source)

    async def deploy_source(
        self, source: str, name: str | None, requirements=None, extra: dict | None = None
    ) -> packages.FunctionSpec:
        return await self.deployer.deploy_source(source, name, requirements, extra)

    async def remove(self, fn: str) -> None:
        await self.deployer.remove(fn)

    async def fuse(self, functions: list[str], name: str | None = None) -> GroupState:
        return await self.fusion.fuse(functions, name)

    async def unfuse(self, group: str) -> list[str]:
        return await self.fusion.unfuse(group)

    def fusion_groups(self):
        return self.fusion.fusion_groups()

    async def invoke_async(self, fn: str, body: bytes, headers: dict | None = None) -> str:
        return await self.calls.invoke_async(fn, body, headers)

    async def result(self, call_id: str, wait: float = 0.0, keep: bool = False) -> dict:
        return await self.calls.result(call_id, wait, keep)

    async def dispatch(
        self, data: bytes, steps: list[tuple[str | None, str]], mode: str = "chain"
    ) -> list[CallOutcome]:
        return await self.calls.dispatch(data, steps, mode)

    async def drain(self, timeout: float) -> int:
        return await self.calls.drain(timeout)

    def capture(self) -> dict:
        return self.durable.capture()

    def persist(self) -> bool:
        return self.durable.persist()

    async def restore_durable(self, saved: dict) -> None:
        await self.durable.restore_durable(saved)

    @property
    def dirty(self) -> bool:
        """Whether something durable changed since the last write (the HTTP layer reads it)."""
        return self.durable.dirty

    def health_errors(self) -> list[str]:
        return self.failures.health_errors()

    async def prewarm(self, fn: str, node: str | None, count: int = 1) -> list[Container]:
        return await self.scaler.prewarm(fn, node, count)

    async def cool(self, fn: str, node: str | None) -> int:
        """Stop the idle containers of ``fn`` (on ``node``); the opposite of prewarm."""
        return await self.scaler.cool(fn, node)

    async def scale(self, fn: str, replicas: int) -> packages.FunctionSpec:
        return await self.scaler.scale(fn, replicas)

    def replicas(self, fn: str) -> tuple[int, int]:
        """(containers hosting fn, of which idle)."""
        return self.scaler.replicas(fn)

    # ---- the loops ---------------------------------------------------------------------
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
                await self.scaler.reap_once()
                if self.dirty:
                    self.persist()
            except Exception as exc:  # keep the loop alive; report it, with its traceback
                log.exception("the reaper failed")
                self.event("error", error=f"reaper: {type(exc).__name__}: {exc}")
