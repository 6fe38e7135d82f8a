"""IluvatarBackend: the faastui verbs over one Ilúvatar worker (the Backend contract).

Names (fqdn, ``name@version``, bare name), invoke, async invoke and its result, prewarm,
register/deploy and the reads. The gRPC calls and wire helpers are in ``protocol.py``, how
the worker's answers read as Invocations, errors and the Node in ``answers.py``, the
client-side bookkeeping (history, containers, QoS) in ``ledger.py``; the package
docstring says how Ilúvatar maps onto the model.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from pathlib import Path
from typing import Any

from ..base import Backend, Capability
from ..errors import (
    BackendError,
    Conflict,
    FunctionNotFound,
    InvalidRequest,
    NodeNotFound,
    NotFound,
    Unsupported,
    did_you_mean,
)
from ..model import Function, Invocation, Node, Snapshot
from . import answers
from .ledger import Ledger
from .protocol import _ISOLATIONS, COMPUTE_CPU, WorkerRpc, _error_text, _json_args, _target, _tid, rpc_message

DEFAULT_VERSION = "1"


def _memory_mb(value: Any) -> int:
    """``128`` / ``"128Mi"`` / ``"1Gi"`` / ``"512M"`` -> whole MB."""
    text = str(value).strip()
    for suffix, factor in (("Gi", 1024), ("Mi", 1), ("G", 1000), ("M", 1)):
        if text.endswith(suffix):
            text, scale = text[: -len(suffix)], factor
            break
    else:
        scale = 1
    try:
        return int(math.ceil(float(text) * scale))
    except ValueError:
        raise InvalidRequest(f"bad memory {value!r} in function.yaml", hint="e.g. memory: 128") from None


class IluvatarBackend(Backend):
    """One worker through ``rpc`` (``protocol.WorkerRpc``); what it does not keep (calls,
    containers, QoS) in ``ledger`` (``ledger.Ledger``)."""

    name = "iluvatar"
    capabilities = (
        Capability.INVOKE
        | Capability.INVOKE_ASYNC
        | Capability.PREWARM
        | Capability.DEPLOY
        | Capability.NODE_TARGET
        | Capability.DESCRIBE
        | Capability.HISTORY
    )

    def __init__(self, url: str | None = None, *, timeout: float = 60.0, node_name: str | None = None):
        if not url:
            raise InvalidRequest(
                "the iluvatar backend needs the worker's gRPC address",
                hint="faastui context add NAME --backend iluvatar --url grpc://HOST:PORT",
            )
        self.url = url
        self.address = _target(url)
        self.node_name = node_name or self.address
        self.timeout = timeout
        self.rpc = WorkerRpc(self.address, timeout=timeout)
        self.ledger = Ledger(self.node_name)
        self._known: dict[str, tuple[str, str]] = {}  # fqdn -> (name, version)
        self._images: dict[str, str] = {}  # fqdn -> image, from the worker's list
        self._registered: dict[str, Function] = {}  # what this client registered
        self._list_supported: bool | None = None  # None: not asked yet
        self._async: dict[str, tuple[str, float]] = {}  # cookie -> (fqdn, started_at)
        self._results: dict[str, Invocation] = {}  # cookie -> finished async call

    async def aclose(self) -> None:
        await self.rpc.aclose()

    async def invocations(self, limit: int = 50) -> list[Invocation]:
        """This client's latest calls, newest first, results left out (the worker keeps none)."""
        return await self.ledger.invocations(limit)

    # ---- names ----------------------------------------------------------------------------
    async def _list(self) -> list | None:
        """The worker's registrations (None if it cannot list them); refreshes the cache."""
        if self._list_supported is False:
            return None
        try:
            resp = await self.rpc.call(
                "list_registered_funcs", rpc_message("ListFunctionRequest", transaction_id=_tid())
            )
        except Unsupported:
            self._list_supported = False
            return None
        self._list_supported = True
        for f in resp.functions:
            fqdn = f"{f.function_name}-{f.function_version}"
            self._known[fqdn] = (f.function_name, f.function_version)
            self._images[fqdn] = f.image_name
        return list(resp.functions)

    def _match(self, fn: str) -> tuple[str, str] | None:
        if fn in self._known:
            return self._known[fn]
        versions = sorted(v for n, v in self._known.values() if n == fn)
        if len(versions) > 1:
            raise InvalidRequest(
                f"function {fn!r} has versions {', '.join(versions)}; name one",
                hint=f"e.g. {fn}-{versions[-1]} or {fn}@{versions[-1]}",
            )
        return (fn, versions[0]) if versions else None

    async def _resolve(self, fn: str) -> tuple[str, str]:
        """(name, version) for ``fn`` (an fqdn, ``name@version`` or a bare name)."""
        if not fn or not fn.strip():
            raise InvalidRequest("a function name is needed")
        if "@" in fn:
            name, _, version = fn.partition("@")
            if not name or not version:
                raise InvalidRequest(f"bad function {fn!r}: expected NAME@VERSION")
            return name, version
        hit = self._match(fn)
        if hit is None:
            await self._list()
            hit = self._match(fn)
        if hit is not None:
            return hit
        if self._list_supported:  # the worker told us everything it has
            names = list(self._known) + [n for n, _ in self._known.values()]
            raise FunctionNotFound(
                f"function {fn!r} is not registered on the Ilúvatar worker at {self.address}",
                hint=did_you_mean(fn, names)
                or "register it with `faastui deploy DIR` (a function.yaml naming an image)",
            )
        name, sep, version = fn.rpartition("-")
        return (name, version) if sep and name and version else (fn, DEFAULT_VERSION)

    def _check_node(self, node: str | None) -> None:
        if node and node not in (self.node_name, self.address):
            raise NodeNotFound(
                f"no node {node!r}: this Ilúvatar worker is one node, {self.node_name!r}",
                hint=f"use --node {self.node_name}",
            )

    # ---- invocations ----------------------------------------------------------------------
    async def invoke(self, fn: str, payload: Any, node: str | None = None) -> Invocation:
        self._check_node(node)
        name, version = await self._resolve(fn)
        fqdn, tid, args = f"{name}-{version}", _tid(), _json_args(payload)
        started, t0 = time.time(), time.perf_counter()
        request = rpc_message(
            "InvokeRequest", function_name=name, function_version=version, json_args=args, transaction_id=tid
        )
        resp = await self.rpc.call("invoke", request, timeout=self.timeout, fn=fqdn)
        rtt_ms = (time.perf_counter() - t0) * 1000
        inv = answers.invocation(
            resp,
            call_id=tid,
            fqdn=fqdn,
            node=self.node_name,
            address=self.address,
            rtt_ms=rtt_ms,
            started=started,
            ended=time.time(),
        )
        self.ledger.record(inv)
        return inv

    async def invoke_async(self, fn: str, payload: Any) -> str:
        name, version = await self._resolve(fn)
        fqdn, started = f"{name}-{version}", time.time()
        request = rpc_message(
            "InvokeAsyncRequest",
            function_name=name,
            function_version=version,
            json_args=_json_args(payload),
            transaction_id=_tid(),
        )
        resp = await self.rpc.call("invoke_async", request, fn=fqdn)
        if not resp.success or not resp.lookup_cookie:
            await self._list()  # the worker gives no reason; the usual one is a missing function
            if self._list_supported and fqdn not in self._known:
                raise answers.not_registered(self.address, fqdn)
            raise BackendError(f"the Ilúvatar worker at {self.address} refused to start {fqdn} asynchronously")
        self._async[resp.lookup_cookie] = (fqdn, started)
        return resp.lookup_cookie

    async def result(self, call_id: str, wait: float = 0.0) -> Invocation:
        if call_id in self._results:
            return self._results[call_id]
        fqdn, started = self._async.get(call_id, ("", 0.0))
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            request = rpc_message("InvokeAsyncLookupRequest", lookup_cookie=call_id, transaction_id=_tid())
            resp = await self.rpc.call("invoke_async_check", request, timeout=max(10.0, wait + 5.0))
            message = "" if resp.success else _error_text(resp.json_result)
            if message.lower() == "invocation not found":
                raise NotFound(
                    f"no async call {call_id!r} on the Ilúvatar worker at {self.address}",
                    hint="the worker hands a result out once; it may have been fetched already",
                )
            if message.lower() != "invocation not completed":
                break
            left = deadline - time.monotonic()
            if left <= 0:
                return Invocation(
                    call_id=call_id, function=fqdn, node=self.node_name, status="pending", started_at=started
                )
            await asyncio.sleep(min(0.05, left))
        try:
            inv = answers.invocation(
                resp,
                call_id=call_id,
                fqdn=fqdn,
                node=self.node_name,
                address=self.address,
                rtt_ms=None,
                started=started,
                ended=time.time(),
            )
        except BackendError as exc:  # the call was accepted; its outcome is this error
            inv = Invocation(
                call_id=call_id,
                function=fqdn,
                node=self.node_name,
                status="error",
                error=exc.message,
                started_at=started,
                ended_at=time.time(),
            )
        self._results[call_id] = inv
        if fqdn:
            self.ledger.record(inv)
        return inv

    async def prewarm(self, fn: str, node: str | None, count: int = 1) -> list[Invocation]:
        if count < 1:
            raise InvalidRequest("count must be >= 1")
        self._check_node(node)
        name, version = await self._resolve(fn)
        fqdn, out = f"{name}-{version}", []
        for i in range(count):
            tid, started, t0 = _tid(), time.time(), time.perf_counter()
            request = rpc_message(
                "PrewarmRequest", function_name=name, function_version=version, transaction_id=tid, compute=COMPUTE_CPU
            )
            resp = await self.rpc.call("prewarm", request, fn=fqdn)
            if not resp.success:
                message = _error_text(resp.message)
                error = answers.refusal(self.address, fqdn, message) or BackendError(
                    f"the Ilúvatar worker could not prewarm {fqdn}: {message}"
                )
                if i:
                    error.message += f" ({i} of {count} containers were started)"
                raise error
            self.ledger.containers.setdefault(fqdn, collections.Counter())["prewarm"] += 1
            out.append(
                Invocation(
                    call_id=tid,
                    function=fqdn,
                    node=self.node_name,
                    container_state="prewarm",
                    status="ok",
                    cold_start_ms=(time.perf_counter() - t0) * 1000,
                    started_at=started,
                    ended_at=time.time(),
                )
            )
        return out

    # ---- registration ---------------------------------------------------------------------
    async def register(
        self,
        name: str,
        image: str,
        memory_mb: int,
        cpus: int = 1,
        parallel: int = 1,
        *,
        version: str = DEFAULT_VERSION,
        isolation: str = "containerd",
    ) -> Function:
        """Register ``name``/``version`` to run ``image`` with ``memory_mb`` MB and ``cpus``.

        Returns: the Function (named ``name-version``).
        Raises: Conflict if that name and version are registered already (a
        registration cannot be replaced: use a new version); InvalidRequest if
        the worker refuses it (bad image, memory, cpus, parallel invokes).
        """
        try:
            isolate = 0
            for part in str(isolation).split(","):
                isolate |= _ISOLATIONS[part.strip().lower()]
        except KeyError:
            raise InvalidRequest(
                f"unknown isolation {isolation!r}", hint="containerd, docker or containerd,docker"
            ) from None
        try:
            memory_mb, cpus, parallel = int(memory_mb), int(cpus), int(parallel)
        except (TypeError, ValueError):
            raise InvalidRequest("memory, cpus and parallel must be whole numbers") from None
        version = str(version)
        fqdn = f"{name}-{version}"
        request = rpc_message(
            "RegisterRequest",
            function_name=name,
            function_version=version,
            image_name=image,
            memory=memory_mb,
            cpus=cpus,
            parallel_invokes=parallel,
            transaction_id=_tid(),
            compute=COMPUTE_CPU,
            isolate=isolate,
        )
        resp = await self.rpc.call("register", request)
        if not resp.success:
            error = resp.error.strip().strip('"')
            if "already registered" in error:
                raise Conflict(
                    f"function {fqdn!r} is already registered on the Ilúvatar worker",
                    hint="a registration cannot be replaced; bump `version`",
                )
            raise InvalidRequest(f"the Ilúvatar worker refused to register {fqdn}: {error}")
        fqdn = resp.fqdn or fqdn
        self._known[fqdn] = (name, version)
        self._images[fqdn] = image
        function = Function(
            name=fqdn,
            image=image,
            runtime="iluvatar",
            memory_mb=float(memory_mb),
            cpus=float(cpus),
            labels={"function_name": name, "function_version": version},
        )
        self._registered[fqdn] = function
        return function

    async def deploy(self, package: str | bytes, *, name: str | None = None) -> Function:
        """Register the function a folder's ``function.yaml`` describes.

        Keys: ``image`` (required), ``name`` (default: the folder's name),
        ``version`` ("1"), ``memory`` (MB, or "256Mi"; 128), ``cpus`` (whole
        cores, rounded up; 1), ``parallel`` (1), ``isolation`` (containerd).
        """
        if isinstance(package, (bytes, bytearray)):
            raise InvalidRequest(
                "Ilúvatar registers container images, not archives",
                hint="pass a folder whose function.yaml names an image",
            )
        path = Path(package)
        spec_path = path / "function.yaml" if path.is_dir() else path
        import yaml  # deferred: only deploy reads YAML

        try:
            spec = yaml.safe_load(spec_path.read_text())
        except OSError as exc:
            raise InvalidRequest(f"cannot read {spec_path}: {exc.strerror}") from None
        except yaml.YAMLError:
            raise InvalidRequest(f"{spec_path} is not valid YAML") from None
        if not isinstance(spec, dict):
            raise InvalidRequest(f"{spec_path} must be a mapping")
        if not spec.get("image"):
            raise InvalidRequest(
                f"{spec_path} names no image; Ilúvatar runs container images",
                hint="add e.g. `image: docker.io/alfuerst/hello-iluvatar-action:latest`",
            )
        fn_name = name or spec.get("name") or (path.name if path.is_dir() else path.parent.name)
        try:
            cpus = int(math.ceil(float(spec.get("cpus", 1))))
            parallel = int(spec.get("parallel", spec.get("parallel_invokes", 1)))
        except (TypeError, ValueError):
            raise InvalidRequest(f"{spec_path}: cpus and parallel must be numbers") from None
        return await self.register(
            str(fn_name),
            str(spec["image"]),
            _memory_mb(spec.get("memory", 128)),
            cpus,
            parallel,
            version=str(spec.get("version", DEFAULT_VERSION)),
            isolation=str(spec.get("isolation", "containerd")),
        )

    async def remove(self, fn: str) -> None:
        raise Unsupported("an Ilúvatar worker cannot unregister a function", hint="register a new version instead")

    # ---- reads ----------------------------------------------------------------------------
    async def functions(self) -> list[Function]:
        listed = await self._list()
        # the worker's list is the truth; an older worker without one: what we registered
        fqdns = (
            [f"{f.function_name}-{f.function_version}" for f in listed]
            if listed is not None
            else list(self._registered)
        )
        calls = collections.Counter(inv.function for inv in self.ledger.history)
        out = []
        for fqdn in sorted(set(fqdns)):
            name, version = self._known.get(fqdn, (fqdn, ""))
            mine = self._registered.get(fqdn)
            running = sum(self.ledger.containers.get(fqdn, {}).values())
            out.append(
                Function(
                    name=fqdn,
                    image=self._images.get(fqdn, mine.image if mine else ""),
                    runtime="iluvatar",
                    replicas=running,
                    available_replicas=running,
                    memory_mb=mine.memory_mb if mine else 0.0,
                    cpus=mine.cpus if mine else 0.0,
                    labels={"function_name": name, "function_version": version},
                    invocations=calls[fqdn],
                )
            )
        return out

    async def describe(self, fn: str) -> Function:
        name, version = await self._resolve(fn)
        fqdn = f"{name}-{version}"
        for function in await self.functions():
            if function.name == fqdn:
                return function
        raise FunctionNotFound(
            f"function {fn!r} is not registered on the Ilúvatar worker", hint="list them with `faastui functions`"
        )

    async def _node(self, errors: list[str]) -> Node:
        """The worker as a Node (``answers.node_from``), from ``health`` and the current
        (2025) ``status``; a status that fails is noted in ``errors``."""
        health = await self.rpc.call("health", rpc_message("HealthRequest", transaction_id=_tid()))
        try:
            status = await self.rpc.call("status", rpc_message("StatusRequest", transaction_id=_tid()))
        except BackendError as exc:
            errors.append(f"status: {exc}")
            status = rpc_message("StatusResponse")
        containers = sum(sum(c.values()) for c in self.ledger.containers.values())
        return answers.node_from(health, status, name=self.node_name, address=self.address, containers=containers)

    async def nodes(self) -> list[Node]:
        return [await self._node([])]

    async def snapshot(self) -> Snapshot:
        errors: list[str] = []
        node = await self._node(errors)  # Unreachable here: the worker does not answer at all
        try:
            functions = await self.functions()
        except BackendError as exc:
            errors.append(f"functions: {exc}")
            functions = list(self._registered.values())
        return Snapshot(
            nodes=[node],
            functions=functions,
            placements=self.ledger.placements(functions),
            queues=[],
            qos=self.ledger.qos(),
            fusion_groups=[],
            taken_at=time.time(),
            errors=errors,
        )
