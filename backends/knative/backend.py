"""KnativeBackend: the faastui verbs over Knative Serving (the Backend contract).

Reads, logs, invoke (through the ingress, by Host), scale and prewarm (a new revision
each), deploy (handler source in a stock image, no build) and remove. The Kubernetes
calls are in ``kube.py``, the object <-> model mapping and the manifest in
``objects.py``, reading a function package in ``package.py``; the package docstring says
how Knative maps onto the model.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..agent import HandlerSource, prepare
from ..base import Backend, Capability
from ..errors import BackendError, Conflict, FunctionNotFound, InvalidRequest, NotFound, Unreachable, Unsupported
from ..kube.side import kube_options, seconds
from ..kube.view import KubeView
from ..model import Function, Invocation, LogLine, Node, QoSStat, Secret, Snapshot
from ..payload import payload_request, send
from ..quantities import quantity
from .kube import KnativeApi, _not_installed
from .objects import (
    DEFAULT_IMAGE,
    INITIAL_SCALE,
    MAX_SCALE,
    MIN_SCALE,
    REVISION_LABEL,
    SERVICE_LABEL,
    SOURCE_LABEL,
    USER_CONTAINER,
    _condition,
    _node_name,
    _template,
    drop_none,
    function_from_counts,
    function_from_ksvc,
    pod_state,
    service_manifest,
)
from .package import read_package

QOS_WINDOW_S = 60.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else 0.0


class KnativeBackend(Backend):
    """Knative Serving through ``kube`` (``kube.KnativeApi``: the Kubernetes API and the view)
    and, for calls, the ingress at ``url``."""

    name = "knative"
    capabilities = (
        Capability.INVOKE
        | Capability.SCALE
        | Capability.PREWARM
        | Capability.DEPLOY
        | Capability.DEPLOY_SOURCE
        | Capability.LOGS
        | Capability.NAMESPACES
        | Capability.SECRETS
        | Capability.DESCRIBE
        | Capability.EVENTS
    )

    def __init__(
        self,
        url: str | None = None,
        *,
        kube_context: str | None = None,
        token: str | None = None,
        kubeconfig: str | None = None,
        namespace: str | None = None,
        image: str = DEFAULT_IMAGE,
        ready_timeout: float = 60.0,
        timeout: float = 60.0,
        in_cluster: bool = False,
        kube_timeout: float = 10.0,
        kube_wait: float = 4.0,
        kube_service_account: str | None = None,
        kube_probe: float = 10.0,
    ):
        self.url = url.rstrip("/") if url else None
        self.options = kube_options(
            kubeconfig=kubeconfig,
            kube_context=kube_context,
            in_cluster=in_cluster,
            token=token,
            kube_timeout=kube_timeout,
            kube_service_account=kube_service_account,
        )
        self.kube_context = kube_context
        self.kubeconfig = self.options.kubeconfig_path
        self.image = image
        self.ready_timeout = ready_timeout
        self.timeout = timeout
        self.kube_wait = seconds("kube_wait", kube_wait)
        self.kube = KnativeApi(
            self.options, namespace=namespace, view_options={"probe_interval": seconds("kube_probe", kube_probe)}
        )
        self._synced = False
        self._http = None
        self._calls: dict[str, list[tuple[float, float, bool]]] = {}  # fn -> (t, ms, ok)

    @property
    def namespace(self) -> str | None:
        """The namespace it works in (None until the first call settles the kubeconfig's)."""
        return self.kube.namespace

    def focus(self, functions) -> None:
        view = self.kube.started_view  # none yet: the next tick says it again
        if view is not None and view.inflight is not None:
            view.inflight.set_focus(functions)

    async def aclose(self) -> None:
        if self._http is not None:
            client, self._http = self._http, None
            await client.aclose()
        await self.kube.aclose()

    # ---- the model from ksvcs and pods -------------------------------------------------------
    def _functions(self, ksvcs: list[dict], pods: list[dict]) -> list[Function]:
        by_fn: dict[str, list[dict]] = {}
        for p in pods:
            by_fn.setdefault((p["metadata"].get("labels") or {}).get(SERVICE_LABEL, ""), []).append(p)
        return [
            function_from_ksvc(o, by_fn.get(o["metadata"]["name"], []), len(self._calls.get(o["metadata"]["name"], [])))
            for o in ksvcs
        ]

    # ---- reads ----------------------------------------------------------------------------
    async def describe(self, fn: str) -> Function:
        obj, pods = await asyncio.gather(self.kube.ksvc(fn), self.kube.pods(f"{SERVICE_LABEL}={fn}"))
        return function_from_ksvc(obj, pods, len(self._calls.get(fn, [])))

    async def functions(self) -> list[Function]:
        ksvcs, pods = await asyncio.gather(self.kube.ksvcs(), self.kube.pods(SERVICE_LABEL))
        return self._functions(ksvcs, pods)

    async def _watched(self) -> KubeView:
        """The view, with its first full state (at most ``kube_wait`` s); raises why when
        the nodes or pods were never listed (no answer, refused credentials)."""
        view = await self.kube.view()
        if not self._synced:
            self._synced = await view.ready(self.kube_wait)
        for part in ("nodes", "pods"):
            informer = view.informers[part]
            if not informer.synced:
                raise informer.error or Unreachable(
                    f"the Kubernetes API at {self.kube.server} sent no {part} within {self.kube_wait:g} s",
                    hint="check that the cluster is up (kubectl cluster-info)",
                )
        return view

    async def nodes(self) -> list[Node]:
        return (await self._watched()).nodes()

    async def events(self, since: float = 0.0) -> list[dict]:
        """The cluster's events about the ksvcs' pods and the nodes, oldest first."""
        return (await self._watched()).events(since)

    async def snapshot(self) -> Snapshot:
        """From the view's memory: nodes, every pod (for node usage), this namespace's ksvcs."""
        view = await self._watched()
        errors = view.problems()
        ksvc_informer = view.informers["ksvcs"]
        if ksvc_informer.error is not None:
            err = ksvc_informer.error
            errors.append(f"functions: {_not_installed() if isinstance(err, NotFound) else err}")
        counts = view.pods.function_counts()
        functions = [
            function_from_counts(
                o,
                *counts.get(o["metadata"]["name"], (0, 0)),
                invocations=len(self._calls.get(o["metadata"]["name"], [])),
            )
            for o in view.objects("ksvcs")
        ]
        return Snapshot(
            nodes=view.nodes(),
            functions=functions,
            placements=view.placements(),
            queues=[],
            qos=self._qos(),
            fusion_groups=[],
            taken_at=time.time(),
            errors=errors,
        )

    def _qos(self) -> list[QoSStat]:
        since = time.time() - QOS_WINDOW_S
        out = []
        for fn, calls in sorted(self._calls.items()):
            ms = [m for t, m, _ in calls if t >= since]
            if ms:
                out.append(
                    QoSStat(
                        subject=fn,
                        window_s=QOS_WINDOW_S,
                        count=len(ms),
                        errors=sum(not ok for t, _, ok in calls if t >= since),
                        p50_ms=_percentile(ms, 0.5),
                        p95_ms=_percentile(ms, 0.95),
                        p99_ms=_percentile(ms, 0.99),
                    )
                )
        return out

    async def logs(self, fn: str, tail: int = 100) -> list[str]:
        """The last ``tail`` lines of container user-container of ``fn``'s pods, in time
        order, ``[POD] `` first where there are several."""
        lines = await self.log_lines(fn, tail)
        several = len({ln.instance for ln in lines}) > 1
        return [f"[{ln.instance}] {ln.text}" if several else ln.text for ln in lines]

    async def log_lines(
        self, fn: str, tail: int = 100, *, since: float | None = None, instance: str | None = None
    ) -> list[LogLine]:
        """Container user-container of ``fn``'s pods, each line with its time (the API's
        ``timestamps=true``) and its pod as the instance; ``instance`` reads one pod."""
        from ..kube import podlogs

        if tail <= 0:
            return []
        pods = await self.kube.pods(f"{SERVICE_LABEL}={fn}")
        if not pods:
            await self.kube.ksvc(fn)  # FunctionNotFound; else a ksvc scaled to zero: no logs
            return []
        pods.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
        per_pod = []
        for pod in pods:
            name = pod["metadata"]["name"]
            if instance and name != instance:
                continue
            try:
                text = await self.kube.pod_log(name, USER_CONTAINER, tail, podlogs.query(USER_CONTAINER, tail, since))
            except (InvalidRequest, NotFound) as exc:  # not started yet, or gone meanwhile
                per_pod.append([LogLine(fn, f"(no logs: {exc})", instance=name)] if since is None else [])
                continue
            per_pod.append(podlogs.parse(text, fn, name))
        return podlogs.merge(per_pod, tail, since)

    # ---- namespaces and secrets: the Kubernetes API (backends/kube/secrets.py) ----------------
    async def namespaces(self) -> list[str]:
        from ..kube import secrets as kube_secrets

        await self.kube.ready()
        return await kube_secrets.namespaces(self.kube.api, self.namespace)

    async def secrets(self) -> list[Secret]:
        from ..kube import secrets as kube_secrets

        await self.kube.ready()
        return await kube_secrets.list_secrets(self.kube.api, self.namespace)

    async def create_secret(self, name: str, value: bytes, *, update: bool = False) -> Secret:
        from ..kube import secrets as kube_secrets

        await self.kube.ready()
        return await kube_secrets.put_secret(self.kube.api, self.namespace, name, value, update=update)

    async def remove_secret(self, name: str) -> None:
        from ..kube import secrets as kube_secrets

        await self.kube.ready()
        await kube_secrets.remove_secret(self.kube.api, self.namespace, name)

    # ---- invoke ---------------------------------------------------------------------------
    def _client(self):
        if self._http is None:
            import httpx  # deferred: only commands that call a function pay for it

            self._http = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout, connect=5.0))
        return self._http

    _body = staticmethod(payload_request)

    async def invoke(self, fn: str, payload: Any, node: str | None = None) -> Invocation:
        if node:
            raise Unsupported(
                "Knative routes each call itself; it cannot call a function on a chosen node",
                hint="call without --node",
            )
        obj = await self.kube.ksvc(fn)
        target = (obj.get("status") or {}).get("url")
        if not target:
            ready = _condition(obj, "Ready")
            raise BackendError(
                f"function {fn!r} has no URL yet: {ready.get('message') or ready.get('reason') or 'not ready'}",
                hint=f"kubectl describe ksvc {fn} -n {self.namespace}",
            )
        body, headers = self._body(payload)
        if self.url:  # through the ingress, which picks the route by Host
            parts = urlsplit(target)
            headers["Host"] = parts.netloc
            target = self.url + (parts.path or "/")
        hint = (
            "check the context URL: the cluster's ingress address"
            if self.url
            else "set the context URL to the cluster's ingress address "
            "(faastui context add NAME --backend knative --url http://INGRESS)"
        )
        started, t0 = time.time(), time.perf_counter()
        resp = await send(
            self._client(),
            "POST",
            target,
            content=body,
            headers=headers,
            where=f"function {fn!r} at {target}",
            hint=hint,
        )
        ms = (time.perf_counter() - t0) * 1000
        ok = resp.status_code < 400
        data: Any = resp.text
        if "json" in resp.headers.get("Content-Type", ""):
            try:
                data = resp.json()
            except ValueError:
                pass
        error = None
        if not ok:  # the function's own failure: an Invocation, not an exception
            error = (
                (data.get("error") if isinstance(data, dict) else None)
                or resp.text.strip()[:500]
                or f"HTTP {resp.status_code}"
            )
        self._calls.setdefault(fn, []).append((started, ms, ok))
        del self._calls[fn][:-1000]
        return Invocation(
            call_id=resp.headers.get("X-Request-Id") or uuid.uuid4().hex[:12],
            function=fn,
            duration_ms=round(ms, 3),
            status="ok" if ok else "error",
            result=data if ok else None,
            error=error,
            started_at=started,
            ended_at=time.time(),
        )

    # ---- scale and prewarm: a new revision each ---------------------------------------------
    async def _wait_ready(self, fn: str, generation: int) -> dict:
        """Wait until the ksvc observed ``generation`` and is Ready; raise if Ready=False."""
        deadline = time.monotonic() + self.ready_timeout
        delay, last = 0.05, "not reconciled yet"
        while True:
            obj = await self.kube.ksvc(fn)
            ready = _condition(obj, "Ready")
            if int((obj.get("status") or {}).get("observedGeneration") or 0) >= generation:
                last = ready.get("message") or ready.get("reason") or "Ready is Unknown"
                if ready.get("status") == "True":
                    return obj
                if ready.get("status") == "False":
                    raise BackendError(
                        f"function {fn!r} is not ready: {last}",
                        hint=f"`faastui logs {fn}`, kubectl describe ksvc {fn} -n {self.namespace}",
                    )
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"function {fn!r} not ready after {self.ready_timeout:g} s: {last}",
                    hint="it may still come up: `faastui functions`",
                )
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 1.5)

    async def _roll(self, fn: str, n: int, annotations: dict) -> dict:
        """Set revision template annotations (``n`` within max-scale); the Ready ksvc."""
        top = int(quantity(_template(await self.kube.ksvc(fn))[0].get(MAX_SCALE)))
        if top and n > top:
            raise InvalidRequest(f"{n} is over the max-scale of {fn!r} ({top})", hint=f"raise {MAX_SCALE} first")
        patched = await self.kube.patch(fn, {"spec": {"template": {"metadata": {"annotations": annotations}}}})
        return await self._wait_ready(fn, int(patched["metadata"].get("generation") or 0))

    async def scale(self, fn: str, replicas: int) -> Function:
        if replicas < 0:
            raise InvalidRequest("replicas must be >= 0")
        await self._roll(fn, replicas, {MIN_SCALE: str(replicas), INITIAL_SCALE: None})
        return await self.describe(fn)

    async def prewarm(self, fn: str, node: str | None = None, count: int = 1) -> list[Invocation]:
        if node:
            raise Unsupported(
                f"Knative places pods itself; it cannot prewarm on node {node!r}",
                hint="prewarm without a node: a new revision starts COUNT pods",
            )
        if count < 1:
            raise InvalidRequest("count must be >= 1")
        started, t0 = time.time(), time.perf_counter()
        ready = await self._roll(fn, count, {INITIAL_SCALE: str(count), "faastui.io/prewarmed-at": f"{started:.3f}"})
        ms = round((time.perf_counter() - t0) * 1000, 3)
        rev = (ready.get("status") or {}).get("latestReadyRevisionName") or ""
        pods = [p for p in await self.kube.pods(f"{REVISION_LABEL}={rev}") if pod_state(p)]
        out = [
            Invocation(
                call_id=p["metadata"]["name"],
                function=fn,
                node=_node_name(p),
                container_state="prewarm",
                cold_start_ms=ms,
                status="ok" if pod_state(p) == "warm" else "pending",
                started_at=started,
                ended_at=time.time(),
            )
            for p in pods[:count]
        ]
        return out + [
            Invocation(
                call_id=f"{rev}-pending-{i}",
                function=fn,
                container_state="prewarm",
                status="pending",
                started_at=started,
                ended_at=time.time(),
            )
            for i in range(count - len(out))
        ]

    # ---- deploy and remove -----------------------------------------------------------------
    async def deploy_source(
        self, source: str, *, name: str | None = None, requirements: list[str] | None = None
    ) -> Function:
        h = prepare(source, name or f"fn-{uuid.uuid4().hex[:8]}", requirements)
        return await self._deploy(h)

    async def deploy(self, package: str | Path | bytes, *, name: str | None = None) -> Function:
        """A function folder or zip: its handler module, requirements.txt and function.yaml
        (name, handler ``module:func``, memory, cpus, timeout, env) deploy as source."""
        h, meta = read_package(package, name)
        return await self._deploy(h, meta)

    async def _deploy(self, h: HandlerSource, meta: dict | None = None) -> Function:
        await self.kube.ready()  # the namespace comes from the kubeconfig
        body = service_manifest(h, meta or {}, image=self.image, namespace=self.namespace)
        try:
            current = await self.kube.ksvc(h.name)
        except FunctionNotFound:
            current = None
        if current is None:
            result = await self.kube.create(drop_none(body))
        elif (current["metadata"].get("labels") or {}).get(SOURCE_LABEL) != "true":
            raise Conflict(
                f"a Knative service {h.name!r} exists that faastui did not deploy",
                hint="pick another --name, or delete it with kubectl",
            )
        else:  # only what faastui owns; scale annotations and the rest stay
            body["metadata"] = {
                "labels": body["metadata"]["labels"],
                "resourceVersion": current["metadata"]["resourceVersion"],
            }
            result = await self.kube.patch(h.name, {"metadata": body["metadata"], "spec": body["spec"]})
        await self._wait_ready(h.name, int(result["metadata"].get("generation") or 0))
        return await self.describe(h.name)

    async def remove(self, fn: str) -> None:
        try:
            await self.kube.delete(fn)
        except NotFound:
            await self.kube.ksvc(fn)  # the right error, with a did-you-mean
            raise
        self._calls.pop(fn, None)
