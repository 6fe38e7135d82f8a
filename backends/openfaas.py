"""OpenFaaSBackend: an OpenFaaS gateway (faas-netes, faasd) through its REST API.

Speaks the gateway's documented routes: ``/system/functions`` (list, deploy,
update, delete), ``/system/function/{name}``, ``/system/scale-function/{name}``,
``/function/{name}``, ``/async-function/{name}``, ``/system/info``,
``/system/namespaces``, ``/system/secrets`` and ``/system/logs`` (NDJSON; ``follow=true``
streams, read natively: ``openfaas_logs.py``). ``namespace=`` (``-n``) works in that
namespace as faas-cli does: ``?namespace=`` on the reads, the delete and the secrets,
``namespace`` in deploy, scale and secret bodies, ``/function/NAME.NAMESPACE`` for calls;
without it, the gateway's default (``openfaas-fn``). The gateway's basic auth is ``user`` and ``password`` (as
``faas-cli login`` takes them; user ``admin`` by default), or ``token`` as
``user:password`` (or just the password). OpenFaaS has no node API and returns async results only to a
callback URL, so node-targeted calls, prewarm, dispatch and ``result`` are not
offered (an Invokers gateway adds the first three: ``backends.invokers``).
Queue stats come from ``redis_url`` when the context names one.

With a cluster (``-O kubeconfig=PATH``, ``--kube-context``/``kube_context``, or
``-O in_cluster=true``; ``kube_namespace``, default ``openfaas-fn``, ``all`` for every
namespace) the backend also reads the Kubernetes API through the shared view
(``backends.kube``): real nodes, placement from the function pods (label
``faas_function``; Running and Ready -> warm, Pending or not Ready -> starting, a function
scaled to zero -> cold) and from prewarmed pods (``prewarm=true``, ``function=<name>-pod``
-> prewarm on their node), the cluster's events about them, and pod logs. Prewarm then
works on a named node as the Invokers invoker does it: a pod of the function's image pinned
by a required node affinity, with a service (``backends/kube/pinned.py``); it also carries
``faas_function``, so the function's own service sends it calls too. Such a backend (the
instance) has PREWARM, NODE_TARGET and EVENTS besides its class's capabilities. An unreachable cluster never
fails a snapshot: the gateway's part is shown, the cluster's last good data with its age.

The gateway's objects <-> the model (FunctionStatus, the deploy body, a call's answer) are in
``openfaas_objects.py``; this module is the transport and the verbs.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from .base import Backend, Capability
from .errors import (
    BackendError,
    Conflict,
    FunctionNotFound,
    InvalidRequest,
    NotFound,
    Unreachable,
    Unsupported,
    error_from_status,
)
from .kube.side import ClusterSide, cold, kube_options, seconds, wants_kube
from .model import Function, Invocation, LogLine, Placement, Secret, Snapshot
from .openfaas_objects import deploy_request, function_from_status, invocation_from_response
from .payload import payload_request, send

# function_from_status lives in openfaas_objects.py; importers still find it here
__all__ = ["OpenFaaSBackend", "function_from_status"]

HINT = "check the gateway URL and that it is up (faas-cli list)"


WATCHDOG_METRICS_PORT = 8081  # the watchdogs' Prometheus metrics (http_requests_in_flight)


def _pod_mappings():
    from .kube import PodMapping  # the view's modules: only a context with a cluster uses them

    return (
        PodMapping("function", require=(("prewarm", "true"),), suffix="-pod", ready_state="prewarm"),
        PodMapping("faas_function", metrics_port=WATCHDOG_METRICS_PORT),
    )


class OpenFaaSBackend(Backend):
    name = "openfaas"
    capabilities = (
        Capability.INVOKE
        | Capability.INVOKE_ASYNC
        | Capability.SCALE
        | Capability.DEPLOY
        | Capability.LOGS
        | Capability.NAMESPACES
        | Capability.SECRETS
        | Capability.DESCRIBE
    )
    #: what a cluster (the kube options) adds to an instance's ``capabilities``
    kube_capabilities = Capability.PREWARM | Capability.NODE_TARGET | Capability.EVENTS

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        redis_url: str | None = None,
        timeout: float = 60.0,
        kubeconfig: str | None = None,
        kube_context: str | None = None,
        in_cluster: bool = False,
        kube_namespace: str | None = None,
        namespace: str | None = None,
        kube_timeout: float = 10.0,
        kube_wait: float = 4.0,
        kube_service_account: str | None = None,
        kube_probe: float = 10.0,
        prewarm_timeout: float = 60.0,
    ):
        if not url:
            raise InvalidRequest(
                f"the {self.name} backend needs a gateway URL",
                hint="faastui context add NAME --backend openfaas --url URL",
            )
        self.url = url.rstrip("/")
        self.token = token
        self.user = user
        self.password = password
        self.redis_url = redis_url
        self.timeout = timeout
        self.namespace = (str(namespace).strip() or None) if namespace is not None else None
        self._client = None
        self._queues = None
        self.cluster: ClusterSide | None = None
        scope = str(kube_namespace or self.namespace or "").strip()  # -n: the pods' namespace too
        self.kube_namespace = "openfaas-fn" if scope in ("", "all", "*") else scope
        self.prewarm_timeout = seconds("prewarm_timeout", prewarm_timeout)
        if wants_kube({"kubeconfig": kubeconfig, "kube_context": kube_context, "in_cluster": in_cluster}):
            options = kube_options(
                kubeconfig=kubeconfig,
                kube_context=kube_context,
                in_cluster=in_cluster,
                kube_timeout=kube_timeout,
                kube_service_account=kube_service_account,
            )
            self.cluster = ClusterSide(
                options,
                mappings=_pod_mappings(),
                namespace=None if scope in ("all", "*") else self.kube_namespace,
                wait=seconds("kube_wait", kube_wait),
                probe_interval=seconds("kube_probe", kube_probe),
            )
            self.capabilities = type(self).capabilities | self.kube_capabilities

    # ---- transport ------------------------------------------------------------------------
    def _http(self):
        if self._client is None:
            import httpx  # deferred: only commands that talk to a gateway pay for it

            auth = None
            if self.password is not None:  # faas-cli login --username U --password-stdin
                auth = (self.user or "admin", self.password)
            elif self.token:
                user, sep, password = self.token.partition(":")
                auth = (user, password) if sep else ("admin", self.token)
            self._client = httpx.AsyncClient(
                base_url=self.url, auth=auth, timeout=httpx.Timeout(self.timeout, connect=5.0)
            )
        return self._client

    def focus(self, functions) -> None:
        if self.cluster is not None:
            self.cluster.focus(functions)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
        if self._queues is not None:
            self._queues.close()
            self._queues = None
        if self.cluster is not None:
            cluster, self.cluster = self.cluster, None
            await asyncio.to_thread(cluster.close)

    async def _send(self, method: str, path: str, **kwargs):
        resp = await send(self._http(), method, path, where=f"the gateway at {self.url}", hint=HINT, **kwargs)
        if resp.status_code >= 400:
            try:
                body: Any = resp.json()
            except ValueError:
                body = resp.text
            raise error_from_status(resp.status_code, body)
        return resp

    async def _json(self, method: str, path: str, **kwargs):
        resp = await self._send(method, path, **kwargs)
        return resp.json() if resp.content else None

    def _ns(self) -> dict | None:
        """The ``?namespace=`` of a request (none: the gateway's default namespace)."""
        return {"namespace": self.namespace} if self.namespace else None

    def _in_ns(self, body: dict) -> dict:
        """A request body naming the namespace, as faas-cli writes it."""
        return {**body, "namespace": self.namespace} if self.namespace else body

    def _fn_path(self, prefix: str, fn: str) -> str:
        """``/function/NAME`` or, in a namespace, ``/function/NAME.NAMESPACE``."""
        return f"{prefix}/{fn}.{self.namespace}" if self.namespace else f"{prefix}/{fn}"

    # ---- reads ----------------------------------------------------------------------------
    async def functions(self) -> list[Function]:
        data = await self._json("GET", "/system/functions", params=self._ns())
        return sorted((function_from_status(d) for d in data or []), key=lambda f: f.name)

    async def describe(self, fn: str) -> Function:
        try:
            data = await self._json("GET", f"/system/function/{fn}", params=self._ns())
        except FunctionNotFound:
            raise
        except NotFound:
            where = f" in namespace {self.namespace}" if self.namespace else ""
            raise FunctionNotFound(
                f"function {fn!r} not found{where}", hint="list them with `faastui functions`"
            ) from None
        return function_from_status(data)

    async def info(self) -> dict:
        return await self._json("GET", "/system/info")

    async def version(self) -> str:
        info = await self.info() or {}
        provider = info.get("provider") or {}
        gateway = (info.get("version") or {}).get("release") or "?"
        release = (provider.get("version") or {}).get("release") or "?"
        return f"{provider.get('provider') or 'provider'} {release} (gateway {gateway})"

    async def namespaces(self) -> list[str]:
        return list(await self._json("GET", "/system/namespaces") or [])

    async def _queue_stats(self, errors: list[str]):
        if not self.redis_url:
            return []
        from .queues import QueueWatcher  # deferred: redis is a heavy import

        try:
            if self._queues is None:
                self._queues = QueueWatcher(self.redis_url)
            return await self._queues.apoll()
        except Exception as exc:  # BackendError and anything the watcher raised
            errors.append(f"queues: {exc}")
            return []

    async def snapshot(self) -> Snapshot:
        errors: list[str] = []
        if self.cluster is None:
            functions = await self.functions()
            placements = [
                Placement(
                    function=f.name,
                    node="cluster",
                    state="warm" if f.available_replicas else "cold",
                    count=f.available_replicas,
                )
                for f in functions
            ]
            nodes = await self.nodes()
        else:

            async def gateway():
                try:
                    return await self.functions()
                except Unreachable as exc:
                    return exc

            (nodes, placements, cluster_errors), functions = await asyncio.gather(self.cluster.parts(), gateway())
            if isinstance(functions, Unreachable):  # the cluster's part still shows
                if not nodes:
                    raise functions
                errors.append(f"functions: {functions} (functions named by their pods)")
                functions = [Function(name=n, runtime="openfaas") for n in self.cluster.view.functions_seen()]
            errors += cluster_errors
            placements = placements + cold(functions, placements)
        return Snapshot(
            nodes=nodes,
            functions=functions,
            placements=placements,
            queues=await self._queue_stats(errors),
            qos=[],
            fusion_groups=[],
            taken_at=time.time(),
            errors=errors,
        )

    async def nodes(self):
        if self.cluster is None:
            return []  # OpenFaaS has no node API
        return await self.cluster.nodes()

    async def events(self, since: float = 0.0) -> list[dict]:
        """The cluster's events about the functions' pods and the nodes (with a cluster)."""
        if self.cluster is None:
            return await super().events(since)
        return await self.cluster.events(since)

    # ---- logs: the gateway's /system/logs (openfaas_logs.py) ------------------------------
    async def logs(self, fn: str, tail: int = 100) -> list[str]:
        """The last ``tail`` lines, ``[INSTANCE] `` first where several instances printed."""
        lines = await self.log_lines(fn, tail)
        several = len({ln.instance for ln in lines}) > 1
        return [f"[{ln.instance}] {ln.text}" if several and ln.instance else ln.text for ln in lines]

    async def log_lines(
        self, fn: str, tail: int = 100, *, since: float | None = None, instance: str | None = None
    ) -> list[LogLine]:
        """From ``/system/logs`` (times and instances as the provider gives them); with a
        cluster, from the function's pods (their times, the pod as the instance)."""
        from . import openfaas_logs

        if tail <= 0:
            return []
        if self.cluster is not None:
            lines = await self.cluster.log_lines(fn, tail, (fn,), since=since, instance=instance)
            if not lines and not self.cluster.view.pods_of(fn):
                await self.describe(fn)  # FunctionNotFound; else scaled to zero: no logs
            return lines
        params = openfaas_logs.query(fn, self.namespace, tail=tail, since=since, instance=instance, follow=False)
        try:
            resp = await self._send("GET", "/system/logs", params=params)
        except NotFound:
            await self.describe(fn)  # FunctionNotFound, with the gateway's words
            raise Unsupported(
                "this gateway serves no logs (GET /system/logs is 404)",
                hint="OpenFaaS serves them from its log provider",
            ) from None
        return openfaas_logs.messages(resp.text, fn)[-tail:]

    async def follow_logs(
        self,
        fn: str,
        tail: int = 10,
        *,
        since: float | None = None,
        instance: str | None = None,
        interval: float | None = None,
    ):
        """The gateway's own stream (``follow=true``), opened again when it ends; with a
        cluster, the pods' logs polled (``Backend.follow_logs``)."""
        from . import openfaas_logs

        if self.cluster is not None:
            async for line in super().follow_logs(fn, tail, since=since, instance=instance, interval=interval):
                yield line
            return

        async def open_stream(n, after):
            params = openfaas_logs.query(fn, self.namespace, tail=n, since=after, instance=instance, follow=True)
            status, body, lines = await openfaas_logs.open_stream(
                self._http(), params, where=f"the gateway at {self.url}", hint=HINT
            )
            if status == 404:
                await self.describe(fn)  # FunctionNotFound
            if status >= 400:
                raise error_from_status(status, body)
            return lines

        if tail <= 0 and since is None:
            since = time.time()  # nothing old: only what comes
        async for line in openfaas_logs.follow(open_stream, max(tail, 0) or None, since, fn):
            yield line

    # ---- secrets: /system/secrets in this namespace ----------------------------------------
    async def secrets(self) -> list[Secret]:
        data = await self._json("GET", "/system/secrets", params=self._ns())
        return sorted(
            (Secret(str(d.get("name")), str(d.get("namespace") or "")) for d in data or [] if isinstance(d, dict)),
            key=lambda x: x.name,
        )

    async def create_secret(self, name: str, value: bytes, *, update: bool = False) -> Secret:
        from .secrets import check_name, wire_value

        body = self._in_ns({"name": check_name(name), **wire_value(value)})
        try:
            await self._send("PUT" if update else "POST", "/system/secrets", json=body)
        except Conflict:
            raise Conflict(
                f"secret with the name {name!r} already exists",
                hint=f"`faastui secret update {name}` replaces its value",
            ) from None
        except NotFound:
            raise NotFound(
                f"unable to find secret: {name}", hint="create it first: `faastui secret create NAME`"
            ) from None
        return Secret(name, self.namespace or "")

    async def remove_secret(self, name: str) -> None:
        try:
            await self._send("DELETE", "/system/secrets", params=self._ns(), json=self._in_ns({"name": name}))
        except NotFound:
            raise NotFound(f"unable to find secret: {name}", hint="list them with `faastui secret list`") from None

    # ---- actions ---------------------------------------------------------------------------
    _body = staticmethod(payload_request)

    async def invoke(self, fn: str, payload: Any, node: str | None = None) -> Invocation:
        if node:
            raise Unsupported(
                "OpenFaaS cannot call a function on a chosen node",
                hint="prewarm on the node (`faastui prewarm FN --node N`), then call "
                "without --node; an Invokers gateway can (backend kind "
                "'invokers')"
                if self.cluster is not None
                else "an Invokers gateway can (backend kind 'invokers')",
            )
        body, headers = self._body(payload)
        started = time.time()
        t0 = time.perf_counter()
        resp = await send(
            self._http(),
            "POST",
            self._fn_path("/function", fn),
            content=body,
            headers=headers,
            where=f"the gateway at {self.url}",
            hint=HINT,
        )
        total_ms = (time.perf_counter() - t0) * 1000
        return invocation_from_response(fn, resp, started, total_ms)

    async def invoke_async(self, fn: str, payload: Any) -> str:
        body, headers = self._body(payload)
        resp = await self._send("POST", self._fn_path("/async-function", fn), content=body, headers=headers)
        return resp.headers.get("X-Call-Id", "")

    async def scale(self, fn: str, replicas: int) -> Function:
        if replicas < 0:
            raise InvalidRequest("replicas must be >= 0")
        await self._send(
            "POST", f"/system/scale-function/{fn}", json=self._in_ns({"serviceName": fn, "replicas": replicas})
        )
        return await self.describe(fn)

    async def deploy(self, package: str | Path | bytes, *, name: str | None = None) -> Function:
        """Deploy a function folder whose function.yaml names an ``image``."""
        service, body = deploy_request(package, name, self.namespace)
        exists = any(f.name == service for f in await self.functions())
        await self._send("PUT" if exists else "POST", "/system/functions", json=body)
        return await self.describe(service)

    async def prewarm(self, fn: str, node: str | None, count: int = 1) -> list[Invocation]:
        """With a cluster: ``count`` pods of ``fn``'s image pinned to ``node``, Ready."""
        if self.cluster is None:
            return await super().prewarm(fn, node, count)
        if count < 1:
            raise InvalidRequest("count must be >= 1")
        if not node:
            raise InvalidRequest(
                "OpenFaaS prewarms on a named node through Kubernetes",
                hint="give the node: `faastui prewarm FN --node NODE`",
            )
        from .kube.pinned import prewarm_pinned  # deferred with the other cluster modules

        info = await self.describe(fn)
        await self.cluster.require()
        requests = {}
        if info.memory_mb:
            requests["memory"] = f"{int(info.memory_mb)}Mi"
        if info.cpus:
            requests["cpu"] = f"{int(info.cpus * 1000)}m"
        return await prewarm_pinned(
            self.cluster.view,
            fn,
            node,
            count,
            image=info.image,
            namespace=self.kube_namespace,
            labels={"faas_function": fn},
            env={"fprocess": info.handler} if info.handler else None,
            requests=requests or None,
            timeout=self.prewarm_timeout,
        )

    async def remove(self, fn: str) -> None:
        await self._send("DELETE", "/system/functions", params=self._ns(), json=self._in_ns({"functionName": fn}))
        if self.cluster is not None:
            from .kube.pinned import unpin  # deferred with the other cluster modules

            try:
                await unpin(self.cluster.view, fn, self.kube_namespace)
            except BackendError as exc:
                raise BackendError(
                    f"removed {fn!r} from the gateway, but not its prewarmed pods: {exc}",
                    hint=f"delete them with kubectl (label function={fn}-pod)",
                ) from None
