"""NuclioBackend: a Nuclio dashboard (port 8070 by default) through its REST API.

Routes, as nuclio/nuclio serves them (``pkg/dashboard/resource/function.go`` and
``invocation.go``): ``GET /api/functions`` (a map name -> ``{metadata, spec, status}``),
``GET /api/functions/{name}``, ``POST /api/functions`` (202 while it builds),
``PUT /api/functions/{name}``, ``DELETE /api/functions`` (the name in the body's metadata),
``GET /api/functions/{name}/replicas`` and ``.../logs/{replica}?follow=false&tailLines=N``,
and ``POST /api/function_invocations`` with the headers ``x-nuclio-function-name``,
``x-nuclio-function-namespace``, ``x-nuclio-path``, ``x-nuclio-invoke-via`` and
``x-nuclio-invoke-timeout``. Every call names the namespace (``x-nuclio-function-namespace``);
listing, creating and updating also name the project (``x-nuclio-project-name``).

Deploying is the agent style (``backends/agent.py``): the handler goes inline
(``spec.build.functionSourceCode``, base64) with ``handler: "main:faastui_entry"``, so every
entry signature the engine knows runs; requirements become ``build.commands``
(``pip install REQ``). A deploy polls until ``status.state`` is ``ready`` (at most
``deploy_timeout`` seconds, 120 by default) and raises with ``status.message`` when it is
``error`` or ``unhealthy``. A folder (``handler.py``, optional ``requirements.txt`` and
``function.yaml``) or a zip of one deploys the same way. ``scale`` sets ``minReplicas``
(and ``maxReplicas`` at least as high) with ``build.mode: neverBuild``: no rebuild.

Auth: Nuclio's dashboard has no login of its own; behind Iguazio it passes the
``Authorization`` header on for verification. A ``token`` of the form ``user:password``
is sent as basic auth (an ingress's, or Iguazio's), any other token as ``Bearer TOKEN``.

How Nuclio's view maps onto the model (the pseudo node ``nuclio``, the placement states,
``Function.replicas``): ``nuclio_model.py``.

With a cluster (``-O kubeconfig=PATH``, ``--kube-context``/``kube_context``, or
``-O in_cluster=true``) the pseudo node gives way to the real nodes from the Kubernetes API
(the shared view, ``backends.kube``), and placement comes from the function pods (label
``nuclio.io/function-name``, in the backend's namespace): Running and Ready -> warm, Pending
or not Ready -> starting, a function with no pod and no replicas -> cold. The cluster's
events about those pods and the nodes are the backend's events, logs are the pods' (with
their times), and secrets are the namespace's Kubernetes secrets (``kube/secrets.py``; the
instance then has ``SECRETS`` and ``EVENTS``). Nuclio places pods itself, so a call on a
named node stays refused. Logs without a cluster, with times and replicas: ``nuclio_logs.py``;
namespaces: ``GET /api/namespaces``.

Layout: this module does the verbs; how the dashboard's objects read as the model is
``nuclio_model.py``, the dashboard's wire (auth, headers, errors, function objects)
``nuclio_client.py``, fusion groups ``nuclio_fusion.py``
(packed sources: ``nuclio_packed.py``), what a package holds ``nuclio_package.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shlex
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import nuclio_logs
from .agent import NUCLIO_ENTRY, HandlerSource, nuclio_source, prepare
from .base import Backend, Capability, HttpRequest
from .errors import (
    AuthError,
    BackendError,
    Conflict,
    FunctionNotFound,
    InvalidRequest,
    NodeNotFound,
    Unsupported,
    did_you_mean,
)
from .kube import secrets as kube_secrets
from .kube.side import ClusterSide, cold, kube_options, seconds, wants_kube
from .model import Function, FusionGroup, Invocation, LogLine, Node, Placement, Secret, Snapshot
from .nuclio_client import NuclioClient
from .nuclio_client import one_line as _one_line
from .nuclio_fusion import NuclioFusion
from .nuclio_model import PSEUDO_NODE, function_from_nuclio, invocation_error, placement_state
from .nuclio_package import _package_files, _spec_from_yaml, task_package

__all__ = ["NuclioBackend", "PSEUDO_NODE", "function_from_nuclio", "placement_state"]

FUNCTION_LABEL = "nuclio.io/function-name"
ENTRY_HANDLER = f"main:{NUCLIO_ENTRY}"
PROJECT_LABEL = "nuclio.io/project-name"


class NuclioBackend(Backend):
    """The dashboard's API through ``client`` (``nuclio_client.NuclioClient``), its fusion
    groups through ``fusion`` (``nuclio_fusion.NuclioFusion``), the cluster's side through
    ``cluster`` (with the kube options)."""

    name = "nuclio"
    capabilities = (
        Capability.INVOKE
        | Capability.DEPLOY
        | Capability.DEPLOY_SOURCE
        | Capability.SCALE
        | Capability.LOGS
        | Capability.NAMESPACES
        | Capability.FUSE
        | Capability.HTTP_REQUEST
        | Capability.DESCRIBE
    )

    #: what a cluster (the kube options) adds to an instance's ``capabilities``: Kubernetes
    #: secrets in the function namespace, and the cluster's events
    kube_capabilities = Capability.SECRETS | Capability.EVENTS

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        project: str = "default",
        namespace: str = "nuclio",
        runtime: str = "python:3.11",
        timeout: float = 60.0,
        deploy_timeout: float = 120.0,
        invoke_via: str = "any",
        kubeconfig: str | None = None,
        kube_context: str | None = None,
        in_cluster: bool = False,
        kube_timeout: float = 10.0,
        kube_wait: float = 4.0,
        kube_service_account: str | None = None,
        kube_probe: float = 10.0,
    ):
        if not url:
            raise InvalidRequest(
                "the nuclio backend needs the dashboard's URL",
                hint="faastui context add NAME --backend nuclio --url http://HOST:8070",
            )
        self.url = url.rstrip("/")
        self.token = token
        self.project = project
        self.namespace = namespace
        self.runtime = runtime
        self.timeout = timeout
        self.deploy_timeout = deploy_timeout
        self.invoke_via = invoke_via
        self.client = NuclioClient(
            self.url,
            token=token,
            namespace=namespace,
            project=project,
            timeout=timeout,
            deploy_timeout=deploy_timeout,
            not_found=self._not_found,
        )
        self.fusion = NuclioFusion(self.client, runtime=runtime)
        self.cluster: ClusterSide | None = None
        if wants_kube({"kubeconfig": kubeconfig, "kube_context": kube_context, "in_cluster": in_cluster}):
            from .kube import PodMapping  # the view's modules: only with a cluster

            self.cluster = ClusterSide(
                kube_options(
                    kubeconfig=kubeconfig,
                    kube_context=kube_context,
                    in_cluster=in_cluster,
                    kube_timeout=kube_timeout,
                    kube_service_account=kube_service_account,
                ),
                # no metrics_port: Nuclio's processor exports counters only (its Prometheus
                # pull sink on :8090: handled events, worker allocations), no gauge of events
                # being handled now (backends/kube/gauges.py has the sources), so a ready pod
                # is ``warm``, never ``busy``
                mappings=(PodMapping(FUNCTION_LABEL),),
                namespace=namespace,
                pod_selector=FUNCTION_LABEL,
                wait=seconds("kube_wait", kube_wait),
                probe_interval=seconds("kube_probe", kube_probe),
            )
            self.capabilities = type(self).capabilities | self.kube_capabilities

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.cluster is not None:
            cluster, self.cluster = self.cluster, None
            await asyncio.to_thread(cluster.close)

    async def _not_found(self, fn: str) -> FunctionNotFound:
        try:
            names = [f.name for f in await self.functions()]
        except BackendError:
            names = []
        return FunctionNotFound(
            f"function {fn!r} not found", hint=did_you_mean(fn, names) or "list them with `faastui functions`"
        )

    # ---- reads ----------------------------------------------------------------------------
    async def _all(self) -> list[dict]:
        # fusion groups' own functions are read as groups (nuclio_fusion.py), not listed
        return self.fusion.split(await self.client.listing())

    async def functions(self) -> list[Function]:
        return self.fusion.mark([function_from_nuclio(d) for d in await self._all()])

    async def describe(self, fn: str) -> Function:
        data = await self.client.raw(fn)
        if data is None:
            raise await self._not_found(fn)
        await self.fusion.read_groups()
        return self.fusion.mark([function_from_nuclio(data)])[0]

    async def snapshot(self) -> Snapshot:
        raw = await self._all()
        functions = self.fusion.mark([function_from_nuclio(d) for d in raw])
        if self.cluster is not None:
            nodes, placements, errors = await self.cluster.parts()
            return Snapshot(
                nodes=nodes,
                functions=functions,
                placements=placements + cold(functions, placements),
                fusion_groups=self.fusion.groups_now(),
                taken_at=time.time(),
                errors=errors,
            )
        placements = []
        for data, fn in zip(raw, functions):
            state = placement_state((data.get("status") or {}).get("state", ""))
            count = fn.replicas if state in ("warm", "prewarm") else 0
            placements.append(Placement(function=fn.name, node=PSEUDO_NODE, state=state, count=count))
        return Snapshot(
            nodes=[self._node(functions)],
            functions=functions,
            placements=placements,
            fusion_groups=self.fusion.groups_now(),
            taken_at=time.time(),
        )

    def _node(self, functions: list[Function]) -> Node:
        return Node(
            name=PSEUDO_NODE,
            address=self.url,
            ready=True,
            labels={"platform": "nuclio", "namespace": self.namespace, "project": self.project or ""},
            containers=sum(f.available_replicas for f in functions),
        )

    async def nodes(self) -> list[Node]:
        if self.cluster is not None:
            return await self.cluster.nodes()
        return [self._node(await self.functions())]

    async def events(self, since: float = 0.0) -> list[dict]:
        """The cluster's events about the function pods and the nodes (with a cluster)."""
        if self.cluster is None:
            return await super().events(since)
        return await self.cluster.events(since)

    async def logs(self, fn: str, tail: int = 100) -> list[str]:
        lines = await self.log_lines(fn, tail)  # [REPLICA] first where there are several
        several = len({ln.instance for ln in lines}) > 1
        return [f"[{ln.instance}] {ln.text}" if several else ln.text for ln in lines]

    async def log_lines(
        self, fn: str, tail: int = 100, *, since: float | None = None, instance: str | None = None
    ) -> list[LogLine]:
        return await nuclio_logs.log_lines(self, fn, tail, since, instance)  # times, replicas

    async def namespaces(self) -> list[str]:  # the dashboard's GET /api/namespaces
        resp = await self.client.send("GET", "/api/namespaces", headers=self.client.headers())
        return sorted(map(str, ((resp.json() or {}).get("namespaces") or {}).get("names") or []))

    # ---- secrets: Kubernetes secrets of the namespace (with a cluster: kube/secrets.py) ----
    def _kube_call(self):
        if self.cluster is None:
            raise self._no_secrets()
        return self.cluster.view.call

    async def secrets(self) -> list[Secret]:
        return await kube_secrets.list_secrets(self._kube_call(), self.namespace)

    async def create_secret(self, name: str, value: bytes, *, update: bool = False) -> Secret:
        return await kube_secrets.put_secret(self._kube_call(), self.namespace, name, value, update=update)

    async def remove_secret(self, name: str) -> None:
        await kube_secrets.remove_secret(self._kube_call(), self.namespace, name)

    # ---- invoke ---------------------------------------------------------------------------
    async def invoke(
        self, fn: str, payload: Any, node: str | None = None, *, request: HttpRequest | None = None
    ) -> Invocation:
        """Through the dashboard's invocation route (a fused function: its group's, with
        ``Task-Name``); ``request``'s method, path and headers reach the function."""
        if node and self.cluster is not None:
            raise Unsupported(
                "Nuclio routes each call itself; it cannot call a function on a chosen node", hint="call without --node"
            )
        if node and node != PSEUDO_NODE:
            raise NodeNotFound(
                f"node {node!r} not found", hint=f"Nuclio shows one node, {PSEUDO_NODE!r} (the whole platform)"
            )
        method, target, path, body, headers = await self.fusion.invocation(fn, payload, request)
        headers.update(
            self.client.headers(
                **{
                    "x-nuclio-function-name": target,
                    "x-nuclio-path": path,
                    "x-nuclio-invoke-via": self.invoke_via,
                    "x-nuclio-invoke-timeout": f"{self.timeout:g}s",
                }
            )
        )
        started, t0 = time.time(), time.perf_counter()
        with self.fusion.in_flight(target):
            resp = await self.client.request(method, "/api/function_invocations", content=body, headers=headers)
        took_ms = round((time.perf_counter() - t0) * 1000, 3)
        text = resp.content.decode("utf-8", "replace")
        platform = invocation_error(text)  # the dashboard's own failure, not the function's
        try:
            data: Any = json.loads(text) if text.strip() else None
        except ValueError:
            data = text
        # a 401/403 of the dashboard's auth, not one the function answered
        if resp.status_code in (401, 403) and isinstance(data, dict) and "Authentication" in str(data.get("error")):
            raise AuthError(
                f"the Nuclio dashboard refused the credentials: {data['error']}",
                hint="set the context's token: 'user:password' (basic) or a bearer token",
            )
        if platform and resp.status_code == 404:
            raise await self._not_found(fn)
        status, result, error = "ok", data, None
        if platform:
            timed_out = "Timeout exceeded" in platform or "deadline exceeded" in platform
            status, error = ("timeout" if timed_out else "error"), _one_line(platform, limit=500)
            result = None
        elif resp.status_code >= 400:
            status, result = "error", None
            said = data.get("error") if isinstance(data, dict) else None
            error = (said if isinstance(said, str) else None) or text.strip()[:500] or f"HTTP {resp.status_code}"
        return Invocation(
            call_id="",
            function=fn,
            node=PSEUDO_NODE,
            duration_ms=took_ms,
            status=status,
            result=result,
            error=error,
            started_at=started,
            ended_at=time.time(),
        )

    # ---- deploy, scale, remove --------------------------------------------------------------
    async def deploy_source(
        self, source: str, *, name: str | None = None, requirements: list[str] | None = None
    ) -> Function:
        name = name or f"fn-{uuid.uuid4().hex[:8]}"
        return await self._deploy(prepare(source, name, requirements))

    async def deploy(self, package: str | Path | bytes, *, name: str | None = None) -> Function:
        """Deploy a folder (or zip) with ``handler.py``, optional ``requirements.txt`` and
        ``function.yaml`` (name, handler module:func, memory MB, cpus, timeout s, env,
        deadline_ms)."""
        import yaml  # deferred: only a folder deploy reads YAML

        files, folder_name = _package_files(package)
        if "handler.py" not in files:  # a Nuclio function.yaml, a Fusionizer task ...
            h, spec, source = task_package(package, name)  # packed, its modules with it
            return await self._deploy(h, spec, {}, source=source)
        try:
            meta = yaml.safe_load(files.get("function.yaml") or "") or {}
        except yaml.YAMLError:
            raise InvalidRequest("function.yaml is not valid YAML") from None
        if not isinstance(meta, dict):
            raise InvalidRequest("function.yaml is not a mapping")
        reqs = [ln.split("#", 1)[0].strip() for ln in (files.get("requirements.txt") or "").splitlines()]
        h = prepare(files["handler.py"], name or meta.get("name") or folder_name, [r for r in reqs if r])
        entry = str(meta.get("handler") or "").rpartition(":")[2]
        if entry and entry != h.entry and entry in ("handle", "main", "handler") and f"def {entry}(" in h.source:
            h = replace(h, entry=entry)
        spec, annotations = _spec_from_yaml(meta), {}
        if meta.get("deadline_ms"):
            annotations["faastui/deadline_ms"] = str(meta["deadline_ms"])
        return await self._deploy(h, spec, annotations)

    async def _deploy(
        self,
        h: HandlerSource,
        spec_extra: dict | None = None,
        annotations: dict | None = None,
        source: str | None = None,
    ) -> Function:
        existing = await self.client.raw(h.name)
        meta = dict((existing or {}).get("metadata") or {})
        meta.pop("resourceVersion", None)  # empty: this update wins, as the CLI's do
        meta.update(name=h.name, namespace=self.namespace)
        meta["labels"] = dict(meta.get("labels") or {})
        if self.project:
            meta["labels"][PROJECT_LABEL] = self.project
        meta["annotations"] = {**(meta.get("annotations") or {}), **(annotations or {}), "faastui/entry": h.entry}
        spec = dict((existing or {}).get("spec") or {}, **(spec_extra or {}))
        build = dict(spec.get("build") or {})
        build.pop("mode", None)
        code = source if source is not None else nuclio_source(h)
        build.update(
            functionSourceCode=base64.b64encode(code.encode()).decode(),
            codeEntryType="sourceCode",
            commands=[f"pip install {shlex.quote(r)}" for r in h.requirements],
        )
        spec.update(
            runtime=self.runtime,
            handler=ENTRY_HANDLER,
            build=build,
            description=spec.get("description") or "deployed by faastui",
        )
        body = {"metadata": meta, "spec": spec}
        if existing is None:
            await self.client.create(body)
        else:
            await self.client.update(h.name, body)
        deployed = await self._wait_ready(h.name, "deploy")
        await self.fusion.regroup_member(h.name)
        return deployed

    async def _wait_ready(self, fn: str, what: str) -> Function:
        """Poll until ``fn`` is ready (``NuclioClient.wait_ready``): the function."""
        return function_from_nuclio(await self.client.wait_ready(fn, what))

    async def scale(self, fn: str, replicas: int) -> Function:
        """minReplicas = ``replicas``, maxReplicas at least that (and at least 1, as Nuclio
        requires); the image is kept (``neverBuild``)."""
        if replicas < 0:
            raise InvalidRequest("replicas must be >= 0")
        data = await self.client.raw(fn)
        if data is None:
            raise await self._not_found(fn)
        meta = dict(data.get("metadata") or {})
        meta.pop("resourceVersion", None)
        spec = dict(data.get("spec") or {})
        spec.pop("replicas", None)  # a fixed count would override min/max
        spec["minReplicas"] = replicas
        spec["maxReplicas"] = max(int(spec.get("maxReplicas") or 0), replicas, 1)
        spec["build"] = dict(spec.get("build") or {}, mode="neverBuild")
        await self.client.update(fn, {"metadata": meta, "spec": spec})
        return await self._wait_ready(fn, "scale")

    async def remove(self, fn: str) -> None:
        if await self.client.raw(fn) is None:  # Nuclio's delete is idempotent; faastui says so
            raise await self._not_found(fn)
        await self.fusion.leave_group(fn)  # its group goes on without it
        try:
            await self.client.delete(fn)
        except Conflict as exc:
            raise Conflict(f"function {fn!r} is being deployed; Nuclio will not remove it now", hint=exc.hint) from None

    # ---- fusion groups: one Nuclio function each (nuclio_fusion.py) ---------------------------
    async def fuse(self, functions: list[str], name: str | None = None) -> FusionGroup:
        return await self.fusion.fuse(functions, name)

    async def unfuse(self, group: str) -> list[str]:
        return await self.fusion.unfuse(group)

    async def fusion_groups(self) -> list[FusionGroup]:
        return await self.fusion.fusion_groups()
