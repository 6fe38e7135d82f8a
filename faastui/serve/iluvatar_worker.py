"""What an Ilúvatar worker answers, rpc by rpc, done with Backend calls (``WorkerState``);
``iluvatar.py`` serves it over gRPC.

Mapping (COMPAT.md section 5 has the upstream semantics):

- ``register`` binds ``function_name`` + ``function_version`` (fqdn ``<name>-<version>``)
  to a function already deployed on the backend whose name, or whose image by Docker's
  reference rules, is ``image_name``. Registrations live in this server, as a worker's do.
- ``invoke`` calls it with ``json_args`` decoded (``backend.invoke``): ``json_result`` is
  the JSON text of the return value; the function's own exception comes back with
  success=true and its text, as the worker's does; a platform failure (unregistered, a
  crash, a timeout, the backend refusing) is success=false, ``{ "Error": "<msg>" }``,
  duration 0, state ERROR. ``duration_us`` is the handler's time as the backend measured
  it; ``container_state`` is what the backend says the call found (COLD / PREWARM / WARM);
  a backend that does not say (Knative, Nuclio) is reported from what this server saw:
  PREWARM for the first call after its prewarm, COLD for the first call of a function,
  WARM after.
- ``invoke_async`` runs the same call in this server, under an upper-case UUID cookie;
  ``invoke_async_check`` hands the result out once (``{ "Status": "Invocation not
  completed" }`` until then, ``{ "Error": "Invocation not found" }`` for a cookie it does
  not know or already handed out).
- ``status`` sums the backend's nodes: memory and CPU in use as percentages, the cores in
  use as ``cpu_load_avg``, busy containers as ``num_running_funcs``, this server's waiting
  calls as ``cpu_queue_len``; ``worker_name`` is the context's name; ``timestamp`` is
  Unix seconds. No GPUs: their fields are 0.
- ``clean`` scales every registered function to 0 (idle containers then retire at the
  backend's keep-alive; the Backend contract has no "stop idle containers now").
- ``est_invoke_time``: the median end-to-end time (seconds) of the last calls of each fqdn
  through this server, 0.0 where it has none.
"""

from __future__ import annotations

import asyncio
import collections
import json
import statistics
import time
import uuid
from dataclasses import dataclass, field

from backends.base import Capability
from backends.errors import BackendError

from ._images import same_image

__all__ = ["WorkerState", "Registration", "error_json"]

NOT_REGISTERED = "Function was not registered"
COMPUTE_CPU = 1
_KNOWN_STATES = ("cold", "prewarm", "warm")
_EST_WINDOW = 20


def error_json(message: str) -> str:
    """The worker's error body: ``{ "Error": "<message>" }``."""
    return '{ "Error": ' + json.dumps(message) + " }"


@dataclass
class Registration:
    name: str
    version: str
    image_name: str
    function: str  # the backend's function it calls
    memory: int = 0
    cpus: int = 0
    registered_at: float = field(default_factory=time.time)

    @property
    def fqdn(self) -> str:
        return f"{self.name}-{self.version}"


class WorkerState:
    """The worker's answers; ``pb`` is the generated message module."""

    def __init__(self, backend, pb, worker_name: str):
        self.backend = backend
        self.pb = pb
        self.worker_name = worker_name
        self.registrations: dict[str, Registration] = {}
        self._register_lock = asyncio.Lock()
        self._async: dict[str, asyncio.Task] = {}  # cookie -> the call (strong references)
        self._prewarmed: collections.Counter = collections.Counter()  # fqdn -> unused prewarms
        self._called: set[str] = set()  # fqdns that have had a call through this server
        self._e2e: dict[str, collections.deque] = {}  # fqdn -> recent end-to-end seconds
        self.waiting = 0  # calls this server has sent and not had answered

    async def close(self) -> None:
        tasks = [t for t in self._async.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- answers --------------------------------------------------------------------------
    def _platform_error(self, message: str):
        return self.pb.InvokeResponse(
            json_result=error_json(message),
            success=False,
            duration_us=0,
            compute=0,
            container_state=self.pb.ContainerState.Value("ERROR"),
        )

    def _found(self, fqdn: str, said: str) -> int:
        """The ContainerState of a call of ``fqdn`` the backend reported as ``said``."""
        if said in _KNOWN_STATES:
            if said == "prewarm" and self._prewarmed[fqdn]:
                self._prewarmed[fqdn] -= 1
            name = said.upper()
        elif self._prewarmed[fqdn]:
            self._prewarmed[fqdn] -= 1
            name = "PREWARM"
        else:
            name = "WARM" if fqdn in self._called else "COLD"
        self._called.add(fqdn)
        return self.pb.ContainerState.Value(name)

    @staticmethod
    def _fqdn(request) -> str:
        return f"{request.function_name}-{request.function_version}"

    # ---- rpcs -----------------------------------------------------------------------------
    async def invoke(self, request):
        fqdn = self._fqdn(request)
        reg = self.registrations.get(fqdn)
        if reg is None:
            return self._platform_error(NOT_REGISTERED)
        text = request.json_args
        try:
            args = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            return self._platform_error(f"json_args is not valid JSON: {exc}")
        payload = args if isinstance(args, (dict, list)) else json.dumps(args)
        self.waiting += 1
        t0 = time.perf_counter()
        try:
            inv = await self.backend.invoke(reg.function, payload)
        except BackendError as exc:
            return self._platform_error(exc.message)
        finally:
            self.waiting -= 1
        if inv.status == "ok":
            json_result = json.dumps(inv.result, default=str)
        elif inv.status == "error":  # the function raised: its own text, success (as upstream)
            json_result = inv.error or "the function failed"
        else:  # crashed, timeout, oom: the container is gone
            return self._platform_error(f"{inv.status}: {inv.error or 'the call failed'}")
        self._e2e.setdefault(fqdn, collections.deque(maxlen=_EST_WINDOW)).append(time.perf_counter() - t0)
        return self.pb.InvokeResponse(
            json_result=json_result,
            success=True,
            duration_us=max(1, round(inv.duration_ms * 1000)),
            compute=COMPUTE_CPU,
            container_state=self._found(fqdn, inv.container_state),
        )

    async def invoke_async(self, request):
        if self._fqdn(request) not in self.registrations:
            return self.pb.InvokeAsyncResponse(lookup_cookie="", success=False)
        cookie = str(uuid.uuid4()).upper()
        call = self.pb.InvokeRequest(
            function_name=request.function_name,
            function_version=request.function_version,
            json_args=request.json_args,
            transaction_id=request.transaction_id,
        )
        self._async[cookie] = asyncio.get_running_loop().create_task(self.invoke(call))
        return self.pb.InvokeAsyncResponse(lookup_cookie=cookie, success=True)

    async def invoke_async_check(self, request):
        task = self._async.get(request.lookup_cookie)
        if task is None:
            return self._platform_error("Invocation not found")
        if not task.done():
            return self.pb.InvokeResponse(json_result='{ "Status": "Invocation not completed" }', success=False)
        del self._async[request.lookup_cookie]  # handed out once
        if task.cancelled() or task.exception() is not None:
            return self._platform_error(f"the call failed: {task.exception() or 'cancelled'}")
        return task.result()

    async def prewarm(self, request):
        reg = self.registrations.get(self._fqdn(request))
        if reg is None:
            return self.pb.PrewarmResponse(success=False, message=error_json(NOT_REGISTERED))
        try:
            await self.backend.prewarm(reg.function, None, 1)
        except BackendError as exc:
            return self.pb.PrewarmResponse(success=False, message=error_json(exc.message))
        self._prewarmed[reg.fqdn] += 1
        return self.pb.PrewarmResponse(success=True, message="")

    def _refusal(self, request) -> str | None:
        """The reason to refuse a registration before asking the backend (upstream's words
        where it has them)."""
        if not request.function_name:
            return "Invalid function name"
        if not request.function_version:
            return "Invalid function version"
        if "/" in request.function_name or "\\" in request.function_name:
            return "Illegal characters in function name: cannot container any \\,/"
        if self._fqdn(request) in self.registrations:
            return f"Function {self._fqdn(request)} is already registered!"
        if not request.image_name.strip():
            return "image_name is empty: name a function deployed on the backend, or its image"
        return None

    async def register(self, request):
        fail = self.pb.RegisterResponse
        async with self._register_lock:  # one at a time: the duplicate check then holds
            reason = self._refusal(request)
            if reason is not None:
                return fail(success=False, fqdn="", error=reason)
            image = request.image_name.strip()
            try:
                functions = await self.backend.functions()
            except BackendError as exc:
                return fail(success=False, fqdn="", error=exc.message)
            by_name = [f for f in functions if f.name == image]
            by_image = [f for f in functions if same_image(f.image, image)]
            if not by_name and len(by_image) > 1:
                return fail(
                    success=False,
                    fqdn="",
                    error=(
                        f"image {image!r} is the image of several functions "
                        f"({', '.join(sorted(f.name for f in by_image))}): give one's name as "
                        "image_name"
                    ),
                )
            target = (by_name or by_image or [None])[0]
            if target is None:
                return fail(
                    success=False,
                    fqdn="",
                    error=(
                        f"no function on the {self.backend.name} backend is named {image!r} or "
                        "has that image; deploy it first (faastui deploy DIR)"
                    ),
                )
            reg = Registration(
                request.function_name, request.function_version, image, target.name, request.memory, request.cpus
            )
            self.registrations[reg.fqdn] = reg
        return self.pb.RegisterResponse(success=True, fqdn=reg.fqdn, error="")

    async def status(self, request):
        pb = self.pb
        try:
            snap = await self.backend.snapshot()
        except BackendError:
            return pb.StatusResponse(
                cpu_queue_len=self.waiting, worker_name=self.worker_name, timestamp=int(time.time())
            )
        cpus = sum(n.cpus for n in snap.nodes)
        memory = sum(n.memory_mb for n in snap.nodes)
        used_cpus = sum(n.used_cpus for n in snap.nodes)
        running = sum(p.count for p in snap.placements if p.state == "busy")
        return pb.StatusResponse(
            cpu_queue_len=max(0, self.waiting - running),
            gpu_queue_len=0,
            used_mem_pct=100.0 * sum(n.used_memory_mb for n in snap.nodes) / memory if memory else 0.0,
            cpu_util=100.0 * used_cpus / cpus if cpus else 0.0,
            cpu_load_avg=used_cpus,
            gpu_load_avg=0.0,
            num_running_funcs=running,
            worker_name=self.worker_name,
            timestamp=int(time.time()),
        )

    async def health(self, request):
        try:
            nodes = await self.backend.nodes()
        except BackendError:
            nodes = []
        healthy = any(n.ready for n in nodes)
        return self.pb.HealthResponse(status=self.pb.RpcHealthStatus.Value("HEALTHY" if healthy else "UNHEALTHY"))

    async def list_registered_funcs(self, request):
        pb = self.pb
        return pb.ListFunctionResponse(
            functions=[
                pb.RegisteredFunction(function_name=r.name, function_version=r.version, image_name=r.image_name)
                for r in self.registrations.values()
            ]
        )

    async def clean(self, request):
        if self.backend.supports(Capability.SCALE):
            for reg in list(self.registrations.values()):
                try:
                    await self.backend.scale(reg.function, 0)
                except BackendError:
                    pass  # gone from the backend meanwhile: nothing of it to clean
        self._prewarmed.clear()
        return self.pb.CleanResponse()

    async def est_invoke_time(self, request):
        est = [statistics.median(self._e2e[f]) if self._e2e.get(f) else 0.0 for f in request.fqdns]
        return self.pb.EstInvokeResponse(est_time=est)

    async def ping(self, request):
        return self.pb.PingResponse(message="Pong")
