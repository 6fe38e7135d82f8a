"""A fake Ilúvatar worker: a real grpc.aio server speaking ``iluvatar_rpc.IluvatarWorker``.

This is a FAKE, written from the public API spec, because Ilúvatar's Rust
worker (github.com/COS-IN/iluvatar-faas: containerd or Docker, root, network
namespaces) cannot run here. The spec it follows: the service and messages of
``src/Ilúvatar/iluvatar_rpc/src/rpc/iluvatar_rpc.proto`` and the worker's request
handling (``iluvatar_worker_library/src/worker_api/iluvatar_worker.rs``,
``services/registration.rs``, ``services/invocation/async_tracker.rs``). Its
messages are encoded by its own hand-written codec (``tests/fakes/protowire.py``), never by
the generated code faastui uses, so a wrong field in faastui's .proto cannot go unnoticed;
the transport is real gRPC over 127.0.0.1.

It is strict where the worker is, with the worker's own messages:
- ``register`` refuses an empty name or version, memory outside
  [``mem_min_mb``, ``mem_max_mb``], cpus outside [1, ``cpu_max``], parallel
  invokes other than 1, '/' in a name, no isolation or compute, compute the
  worker has no device for, a duplicate (name, version) ("Function hello-1 is
  already registered!") and an isolation it does not serve. An image that
  cannot be "pulled" (empty, or not in ``IMAGES``) fails too, in the fake's
  own words (the real text comes from containerd or Docker).
- ``invoke``/``prewarm``/``invoke_async`` of an unknown (name, version) fail
  the way the worker does: success false, ``{ "Error": "Function was not registered" }``.
- Containers are tracked per function, one call at a time each (parallel
  invokes = 1): a call takes an idle prewarmed container (it was started for
  the next call), else an idle warm one, else starts a cold one
  (``cold_start_s``); the call reports COLD / PREWARM / WARM as it found the
  container, and afterwards the container is WARM. Memory is a hard limit
  (``memory_mb``): a container that does not fit is not started ("Not enough
  memory to launch container"); the fake never evicts (``clean`` frees idle ones).
- ``invoke_async`` returns a cookie; ``invoke_async_check`` answers
  ``{ "Status": "Invocation not completed" }`` until the call has finished,
  then the result once, then ``{ "Error": "Invocation not found" }``.
  ``hold_async()`` keeps async calls from starting until ``release_async()``,
  so tests can see them pending without racing a clock.
- A function's own exception comes back as the worker returns it: success,
  with the error text as ``json_result``.

The "images" are small Python callables (``IMAGES``). ``est_invoke_time`` is
not implemented (UNIMPLEMENTED, as for any unknown method).

Use::

    with FakeIluvatarWorker() as worker:      # serves on 127.0.0.1:<free port>
        IluvatarBackend(worker.url)
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from tests.fakes import protowire as pw

__all__ = ["FakeIluvatarWorker", "IMAGES", "HELLO_IMAGE", "FAIL_IMAGE", "SLEEP_IMAGE"]

SERVICE = "iluvatar_rpc.IluvatarWorker"
HELLO_IMAGE = "docker.io/alfuerst/hello-iluvatar-action:latest"
FAIL_IMAGE = "docker.io/alfuerst/fail-iluvatar-action:latest"
SLEEP_IMAGE = "docker.io/alfuerst/sleep-iluvatar-action:latest"


def _hello(args: dict) -> Any:
    return {"greeting": "Hello " + str(args.get("name", "stranger"))}


def _fail(args: dict) -> Any:
    raise ValueError(str(args.get("message", "the function failed")))


async def _sleep(args: dict) -> Any:
    await asyncio.sleep(float(args.get("ms", 10)) / 1000)
    return {"slept_ms": args.get("ms", 10)}


#: image name -> what a container of it runs: main(args: dict), Ilúvatar's Python entry
IMAGES: dict[str, Callable[[dict], Any]] = {HELLO_IMAGE: _hello, FAIL_IMAGE: _fail, SLEEP_IMAGE: _sleep}

_STATE_NUMBER = {"cold": pw.ContainerState.COLD, "prewarm": pw.ContainerState.PREWARM, "warm": pw.ContainerState.WARM}
_NO_MEMORY = "Not enough memory to launch container"


def _error(message: str) -> pw.InvokeResponse:
    """The worker's ``InvokeResponse::error``."""
    return pw.InvokeResponse(
        json_result=f'{{ "Error": "{message}" }}',
        success=False,
        duration_us=0,
        compute=0,
        container_state=pw.ContainerState.ERROR,
    )


@dataclass
class _Registration:
    name: str
    version: str
    image: str
    memory: int
    cpus: int
    compute: int

    @property
    def fqdn(self) -> str:
        return f"{self.name}-{self.version}"


@dataclass
class _Container:
    id: str
    fqdn: str
    memory: int
    state: str  # "prewarm" (started ahead, never used) | "warm" (has served a call)
    busy: bool = True
    last_used: float = 0.0


class FakeIluvatarWorker:
    """An Ilúvatar worker fake served by grpc.aio in a thread with its own event loop."""

    def __init__(
        self,
        *,
        memory_mb: int = 1024,
        cold_start_s: float = 0.05,
        call_latency_s: float = 0.002,
        mem_min_mb: int = 5,
        mem_max_mb: int = 4096,
        cpu_max: int = 4,
        isolations: int = pw.Isolation.CONTAINERD | pw.Isolation.DOCKER,
        with_list: bool = True,
        name: str = "fake-worker",
    ):
        self.name = name  # the worker_name of status
        self.with_list = with_list  # False: an older worker, without list_registered_funcs
        self.memory_mb = memory_mb
        self.cold_start_s, self.call_latency_s = cold_start_s, call_latency_s
        self.mem_min_mb, self.mem_max_mb, self.cpu_max = mem_min_mb, mem_max_mb, cpu_max
        self.isolations = isolations
        self.healthy = True
        self.port = 0
        self.calls: list[str] = []  # rpc names, in the order they arrived
        self._lock = threading.Lock()
        self._registrations: dict[str, _Registration] = {}
        self._containers: list[_Container] = []
        self._async: dict[str, pw.InvokeResponse | None] = {}
        self._gate = threading.Event()
        self._gate.set()
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None

    # ---- life ---------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"grpc://{self.address}"

    def start(self) -> FakeIluvatarWorker:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="fake-iluvatar-worker", daemon=True)
        self._thread.start()
        if not ready.wait(10) or self._failure is not None:
            self.stop()
            raise RuntimeError(f"the fake Ilúvatar worker did not start: {self._failure!r}")
        return self

    def stop(self) -> None:
        self._gate.set()
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stopping.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():
                raise RuntimeError("the fake Ilúvatar worker did not stop")
            self._thread = None

    def __enter__(self) -> FakeIluvatarWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready))
        except BaseException as exc:  # reported by start()
            self._failure = exc
            ready.set()
        finally:
            loop.close()

    async def _main(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        handlers = {}
        for name, request_cls in (
            ("ping", pw.PingRequest),
            ("invoke", pw.InvokeRequest),
            ("invoke_async", pw.InvokeAsyncRequest),
            ("invoke_async_check", pw.InvokeAsyncLookupRequest),
            ("prewarm", pw.PrewarmRequest),
            ("register", pw.RegisterRequest),
            ("status", pw.StatusRequest),
            ("health", pw.HealthRequest),
            ("clean", pw.CleanRequest),
            ("list_registered_funcs", pw.ListFunctionRequest),
        ):
            if name == "list_registered_funcs" and not self.with_list:
                continue
            handlers[name] = grpc.unary_unary_rpc_method_handler(
                self._logged(name, getattr(self, f"_rpc_{name}")),
                request_deserializer=request_cls.decode,
                response_serializer=pw.Message.encode,
            )
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.stop(grace=None)

    def _logged(self, name: str, handler):
        async def handle(request, context):
            with self._lock:
                self.calls.append(name)
            return await handler(request)

        return handle

    # ---- test controls --------------------------------------------------------------------
    def hold_async(self) -> None:
        """Async calls wait before they start, until ``release_async()``."""
        self._gate.clear()

    def release_async(self) -> None:
        self._gate.set()

    def containers(self, fqdn: str | None = None) -> list[str]:
        """States of the containers (of ``fqdn``), oldest first."""
        with self._lock:
            return [c.state for c in self._containers if fqdn in (None, c.fqdn)]

    def used_memory(self) -> int:
        with self._lock:
            return sum(c.memory for c in self._containers)

    # ---- containers ---------------------------------------------------------------------
    def _start_container(self, reg: _Registration, state: str) -> _Container | None:
        """A new busy container (call with the lock held); None if memory does not fit."""
        if sum(c.memory for c in self._containers) + reg.memory > self.memory_mb:
            return None
        container = _Container(id=f"{reg.fqdn}-{next(self._ids)}", fqdn=reg.fqdn, memory=reg.memory, state=state)
        self._containers.append(container)
        return container

    def _acquire(self, reg: _Registration) -> tuple[_Container | None, str]:
        """An idle container (prewarmed ones first, then warm, most recently used first),
        else a cold one."""
        with self._lock:
            idle = [c for c in self._containers if c.fqdn == reg.fqdn and not c.busy]
            idle.sort(key=lambda c: (c.state != "prewarm", -c.last_used))
            if idle:
                idle[0].busy = True
                return idle[0], idle[0].state
            return self._start_container(reg, "warm"), "cold"

    async def _run(self, reg: _Registration, json_args: str) -> pw.InvokeResponse:
        container, found = self._acquire(reg)
        if container is None:
            return _error(_NO_MEMORY)
        try:
            if found == "cold":
                await asyncio.sleep(self.cold_start_s)
            try:
                args = json.loads(json_args) if json_args else {}
            except ValueError as exc:
                return _error(f"A platform error occured in the container: {exc}")
            started = time.perf_counter()
            await asyncio.sleep(self.call_latency_s)  # the worker -> container HTTP hop
            try:
                value = IMAGES[reg.image](args)
                if inspect.isawaitable(value):
                    value = await value
                json_result = json.dumps(value)
            except Exception as exc:  # the container's user_error: success, error text
                json_result = str(exc)
            duration_us = max(1, int((time.perf_counter() - started) * 1e6))
            return pw.InvokeResponse(
                json_result=json_result,
                success=True,
                duration_us=duration_us,
                compute=pw.Compute.CPU,
                container_state=_STATE_NUMBER[found],
            )
        finally:
            with self._lock:
                container.state, container.busy = "warm", False
                container.last_used = time.monotonic()

    def _registration(self, name: str, version: str) -> _Registration | None:
        with self._lock:
            return self._registrations.get(f"{name}-{version}")

    # ---- the service ----------------------------------------------------------------------
    async def _rpc_ping(self, req: pw.PingRequest) -> pw.PingResponse:
        return pw.PingResponse(message="Pong")

    async def _rpc_invoke(self, req: pw.InvokeRequest) -> pw.InvokeResponse:
        reg = self._registration(req.function_name, req.function_version)
        if reg is None:
            return _error("Function was not registered")
        return await self._run(reg, req.json_args)

    async def _rpc_invoke_async(self, req: pw.InvokeAsyncRequest) -> pw.InvokeAsyncResponse:
        reg = self._registration(req.function_name, req.function_version)
        if reg is None:
            return pw.InvokeAsyncResponse(lookup_cookie="", success=False)
        cookie = str(uuid.uuid4())
        with self._lock:
            self._async[cookie] = None
        task = asyncio.get_running_loop().create_task(self._run_async(cookie, reg, req.json_args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return pw.InvokeAsyncResponse(lookup_cookie=cookie, success=True)

    async def _run_async(self, cookie: str, reg: _Registration, json_args: str) -> None:
        while not self._gate.is_set():
            await asyncio.sleep(0.005)
        resp = await self._run(reg, json_args)
        with self._lock:
            self._async[cookie] = resp

    async def _rpc_invoke_async_check(self, req: pw.InvokeAsyncLookupRequest) -> pw.InvokeResponse:
        with self._lock:
            if req.lookup_cookie not in self._async:
                return _error("Invocation not found")
            resp = self._async[req.lookup_cookie]
            if resp is None:
                return pw.InvokeResponse(
                    json_result='{ "Status": "Invocation not completed" }',
                    success=False,
                    container_state=pw.ContainerState.ERROR,
                )
            del self._async[req.lookup_cookie]  # handed out once
            return resp

    async def _rpc_prewarm(self, req: pw.PrewarmRequest) -> pw.PrewarmResponse:
        reg = self._registration(req.function_name, req.function_version)
        if reg is None:
            return pw.PrewarmResponse(False, '{ "Error": "Function was not registered" }')
        if not reg.compute & req.compute:
            return pw.PrewarmResponse(False, '{ "Error": "Function was not registered with the specified compute" }')
        with self._lock:
            container = self._start_container(reg, "prewarm")
        if container is None:
            return pw.PrewarmResponse(False, f'{{ "Error": "{_NO_MEMORY}" }}')
        await asyncio.sleep(self.cold_start_s)
        with self._lock:
            container.busy = False
        return pw.PrewarmResponse(True, "")

    def _refuse_registration(self, req: pw.RegisterRequest) -> str | None:
        """The worker's reason to refuse ``req``, in its order and words; None if fine."""
        fqdn = f"{req.function_name}-{req.function_version}"
        if not req.function_name:
            return "Invalid function name"
        if not req.function_version:
            return "Invalid function version"
        if req.memory < self.mem_min_mb or req.memory > self.mem_max_mb:
            return f"Illegal memory allocation request '{req.memory}'"
        if req.cpus < 1 or req.cpus > self.cpu_max:
            return f"Illegal cpu allocation request '{req.cpus}'"
        if req.parallel_invokes != 1:
            return "Illegal parallel invokes set, must be 1"
        if "/" in req.function_name or "\\" in req.function_name:
            return "Illegal characters in function name: cannot container any \\,/"
        if not req.isolate:
            return "Could not register function with no specified isolation!"
        if not req.compute:
            return "Could not register function with no specified compute!"
        if req.compute & ~pw.Compute.CPU:
            return (
                f"Could not register function for compute {req.compute & ~pw.Compute.CPU} "
                "because the worker has no devices of that type!"
            )
        if fqdn in self._registrations:
            return f"Function {fqdn} is already registered!"
        if req.image_name not in IMAGES:  # the fake's words; the real ones are containerd's
            return f"Failed to pull image '{req.image_name}': not found"
        if req.isolate & ~self.isolations:
            return f"Could not register function with isolation(s): {req.isolate & ~self.isolations}"
        return None

    async def _rpc_register(self, req: pw.RegisterRequest) -> pw.RegisterResponse:
        with self._lock:
            reason = self._refuse_registration(req)
            if reason is not None:
                return pw.RegisterResponse(success=False, fqdn="", error=reason)
            reg = _Registration(
                req.function_name, req.function_version, req.image_name, req.memory, req.cpus, req.compute
            )
            self._registrations[reg.fqdn] = reg
        return pw.RegisterResponse(success=True, fqdn=reg.fqdn, error="")

    async def _rpc_status(self, req: pw.StatusRequest) -> pw.StatusResponse:
        """The current (2025) StatusResponse: queue lengths, memory in use as a percentage of
        the worker's, CPU utilisation and load, running calls, the worker's name, the time."""
        with self._lock:
            used = sum(c.memory for c in self._containers)
            return pw.StatusResponse(
                cpu_queue_len=sum(r is None for r in self._async.values()),
                gpu_queue_len=0,
                used_mem_pct=100.0 * used / self.memory_mb,
                cpu_util=6.0,
                cpu_load_avg=0.25,
                gpu_load_avg=0.0,
                num_running_funcs=sum(c.busy for c in self._containers),
                worker_name=self.name,
                timestamp=int(time.time()),
            )

    async def _rpc_health(self, req: pw.HealthRequest) -> pw.HealthResponse:
        return pw.HealthResponse(status=pw.RpcHealthStatus.HEALTHY if self.healthy else pw.RpcHealthStatus.UNHEALTHY)

    async def _rpc_clean(self, req: pw.CleanRequest) -> pw.CleanResponse:
        with self._lock:
            self._containers = [c for c in self._containers if c.busy]
        return pw.CleanResponse()

    async def _rpc_list_registered_funcs(self, req: pw.ListFunctionRequest) -> pw.ListFunctionResponse:
        with self._lock:
            return pw.ListFunctionResponse(
                functions=[pw.RegisteredFunction(r.name, r.version, r.image) for r in self._registrations.values()]
            )
