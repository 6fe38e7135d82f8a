"""KnativeBackend: Knative Serving on Kubernetes, through the Kubernetes API.

Functions are Knative Services (``serving.knative.dev/v1``, "ksvc") in one namespace.
Kubernetes access comes from a kubeconfig (``kubeconfig``, else ``$KUBECONFIG``, else
``~/.kube/config``) and its ``kube_context``; the namespace is the context's (else
``default``); ``token`` replaces the kubeconfig's bearer token. The official
``kubernetes`` client is synchronous, so every call runs in ``asyncio.to_thread``; it is
imported on first use (it costs ~0.4 s that commands on other backends must not pay).

Handler source deploys with no image build (the agent style, ``backends/agent.py``): the
ksvc's one container runs ``python -c HARNESS`` in a stock image (``image``, default
``python:3.11-slim``) with the handler in its environment (``harness_env``), on port 8080;
the ksvc carries the label ``faastui.io/source: "true"``, and a ksvc without it is never
overwritten. A deploy, scale or prewarm waits (``ready_timeout``, 60 s) until the ksvc
has observed its new generation and says Ready=True; Ready=False raises with Knative's
message. ``deploy(folder or zip)`` ships the package's one handler module the same way
(with function.yaml's name, handler, memory, cpus, timeout, env and requirements.txt).
The handler travels in one environment variable, so it must stay under Linux's 128 KiB
per variable (about 90 KiB of source), less than ``agent.MAX_SOURCE_BYTES``.

Errors: 401/403 -> AuthError with a hint; 404 -> FunctionNotFound (with a did-you-mean)
or "Knative Serving is not installed"; 409 -> Conflict; 400/415/422 -> InvalidRequest; no
answer -> Unreachable; a bad kubeconfig -> InvalidRequest. A function's own failure (an
HTTP 4xx/5xx from it) is an Invocation with status "error", not an exception.

Calls go to ``url`` (the cluster's ingress) with the ksvc's host as ``Host`` header, as in
Knative's ``curl -H "Host: hello.default.example.com" http://INGRESS``; without ``url``,
straight to ``status.url``.

Model mapping:

- ``scale(fn, n)`` sets ``autoscaling.knative.dev/min-scale`` on the revision template
  (a new revision); ``prewarm(fn, count=n)`` rolls a new revision with
  ``autoscaling.knative.dev/initial-scale: n``: n pods start now and the autoscaler
  scales them back to min-scale when no calls come. Knative places pods itself: a node
  for ``invoke`` or ``prewarm`` is refused (Unsupported).
- Function: ``replicas`` = the ksvc's Running pods, ``available_replicas`` = those also
  Ready; ``labels`` = the ksvc's labels plus ``knative/ready`` (the Ready condition),
  ``knative/revision``, ``knative/url``, ``knative/min-scale``, ``knative/max-scale``.
- Placement per (ksvc, node) from pods labelled ``serving.knative.dev/service``:
  Running and Ready -> ``warm``; Pending (unscheduled, ContainerCreating, pulling an
  image) or Running but not Ready (starting, CrashLoopBackOff) -> ``cold`` (a cold start
  under way); terminating, Succeeded and Failed pods are left out. Knative does not say
  whether a pod has served a call, so ``prewarm`` and ``busy`` are never reported.
- Node: ``cpus``/``memory_mb``/``max_containers`` are the node's allocatable,
  ``used_*`` the resource requests of its pods, ``containers`` its pods (every
  namespace, or only this one when the account may not list pods cluster-wide).
- QoS: latencies of the calls this client made (Knative keeps no call history).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .agent import HARNESS, HandlerSource, harness_env, prepare
from .base import Backend, Capability
from .errors import (AuthError, BackendError, Conflict, FunctionNotFound, InvalidRequest, NotFound,
                     Unreachable, Unsupported, did_you_mean)
from .model import Function, Invocation, Node, Placement, QoSStat, Snapshot
from .payload import payload_request
from .quantities import memory_mb, quantity

__all__ = ["KnativeBackend", "function_from_ksvc", "pod_state", "quantity"]

GROUP, VERSION, PLURAL = "serving.knative.dev", "v1", "services"
MIN_SCALE = "autoscaling.knative.dev/min-scale"
MAX_SCALE = "autoscaling.knative.dev/max-scale"
INITIAL_SCALE = "autoscaling.knative.dev/initial-scale"
SERVICE_LABEL = "serving.knative.dev/service"
REVISION_LABEL = "serving.knative.dev/revision"
SOURCE_LABEL = "faastui.io/source"
ENTRY_ANNOTATION = "faastui.io/entry"
USER_CONTAINER = "user-container"
DEFAULT_IMAGE = "python:3.11-slim"
#: Linux refuses an environment string ("NAME=value") over MAX_ARG_STRLEN at exec time
ENV_STRING_LIMIT = 128 * 1024
QOS_WINDOW_S = 60.0
_TIMEOUT = (5, 30)  # seconds: connect and read timeouts of one API request
_UNREACHABLE_HINT = ("check the kubeconfig's server and that the cluster is up "
                     "(kubectl cluster-info)")


def _not_installed() -> NotFound:
    return NotFound(f"Knative Serving is not installed: the API serves no {PLURAL}.{GROUP}",
                    hint="install Knative Serving, or pick another kube context")


# ---- Kubernetes objects -> the model ----------------------------------------------------
_mb = memory_mb


def _condition(obj: dict, kind: str) -> dict:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return {}


def _template(obj: dict) -> tuple[dict, dict]:
    """(annotations, spec) of a ksvc's revision template."""
    template = (obj.get("spec") or {}).get("template") or {}
    return ((template.get("metadata") or {}).get("annotations") or {}), template.get("spec") or {}


def _node_name(pod: dict) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


def pod_state(pod: dict) -> str | None:
    """``warm``, ``cold`` or None (no placement): see the module docstring."""
    phase = (pod.get("status") or {}).get("phase")
    if pod["metadata"].get("deletionTimestamp") or phase not in ("Pending", "Running"):
        return None
    ready = _condition(pod, "Ready").get("status") == "True"
    return "warm" if phase == "Running" and ready else "cold"


def function_from_ksvc(obj: dict, pods: list[dict], invocations: int = 0) -> Function:
    """A model Function from a ksvc and its pods."""
    meta = obj.get("metadata") or {}
    annotations, spec = _template(obj)
    container = (spec.get("containers") or [{}])[0]
    resources = container.get("resources") or {}
    limits = resources.get("limits") or resources.get("requests") or {}
    status = obj.get("status") or {}
    labels = dict(meta.get("labels") or {})
    labels["knative/ready"] = _condition(obj, "Ready").get("status") or "Unknown"
    for key, value in (("knative/revision", status.get("latestReadyRevisionName")),
                       ("knative/url", status.get("url")),
                       ("knative/min-scale", annotations.get(MIN_SCALE)),
                       ("knative/max-scale", annotations.get(MAX_SCALE))):
        if value:
            labels[key] = str(value)
    running = [p for p in pods if pod_state(p) and p["status"].get("phase") == "Running"]
    ours = labels.get(SOURCE_LABEL) == "true"
    entry = annotations.get(ENTRY_ANNOTATION)
    return Function(
        name=meta.get("name", ""), image=container.get("image", ""),
        runtime="python" if ours else "knative",
        handler=f"handler:{entry}" if ours and entry else "",
        replicas=len(running), available_replicas=sum(pod_state(p) == "warm" for p in running),
        memory_mb=_mb(limits.get("memory")), cpus=round(quantity(limits.get("cpu")), 3),
        timeout_s=float(spec.get("timeoutSeconds") or 0), labels=labels, invocations=invocations)


def node_from(obj: dict, pods: list[dict]) -> Node:
    """A model Node from a Node object and the live pods on it."""
    status = obj.get("status") or {}
    alloc = status.get("allocatable") or status.get("capacity") or {}
    address = next((a.get("address", "") for a in status.get("addresses") or []
                    if a.get("type") == "InternalIP"), "")
    cpu = mem = 0.0
    for pod in pods:
        for c in (pod.get("spec") or {}).get("containers") or []:
            requests = (c.get("resources") or {}).get("requests") or {}
            cpu += quantity(requests.get("cpu"))
            mem += quantity(requests.get("memory"))
    return Node(name=obj["metadata"]["name"], address=address,
                ready=_condition(obj, "Ready").get("status") == "True",
                cpus=round(quantity(alloc.get("cpu")), 3), memory_mb=_mb(alloc.get("memory")),
                used_cpus=round(cpu, 3), used_memory_mb=_mb(mem),
                labels=dict(obj["metadata"].get("labels") or {}),
                max_containers=int(quantity(alloc.get("pods"))), containers=len(pods))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else 0.0


class KnativeBackend(Backend):
    name = "knative"
    capabilities = (Capability.INVOKE | Capability.SCALE | Capability.PREWARM | Capability.DEPLOY
                    | Capability.DEPLOY_SOURCE | Capability.LOGS)

    def __init__(self, url: str | None = None, *, kube_context: str | None = None,
                 token: str | None = None, kubeconfig: str | None = None,
                 namespace: str | None = None, image: str = DEFAULT_IMAGE,
                 ready_timeout: float = 60.0, timeout: float = 60.0, **_ignored):
        self.url = url.rstrip("/") if url else None
        self.kube_context = kube_context
        self.token = token
        self.kubeconfig = str(kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config")
        self.namespace = namespace
        self.image = image
        self.ready_timeout = ready_timeout
        self.timeout = timeout
        self.server = ""
        self._api = None
        self._lock = threading.Lock()
        self._http = None
        self._calls: dict[str, list[tuple[float, float, bool]]] = {}  # fn -> (t, ms, ok)

    # ---- the Kubernetes boundary: every API call goes through _run -------------------------
    def _apis(self):
        """(ApiClient, CoreV1Api, CustomObjectsApi), built on first use (in a thread)."""
        with self._lock:
            if self._api is None:
                from kubernetes import client, config  # deferred: ~0.4 s, only this backend

                try:
                    contexts, active = config.list_kube_config_contexts(self.kubeconfig)
                    chosen = active
                    if self.kube_context:
                        chosen = next((c for c in contexts if c.get("name") == self.kube_context),
                                      None)
                    if chosen is None:
                        names = [c.get("name", "") for c in contexts]
                        raise InvalidRequest(
                            f"no kube context {self.kube_context!r} in {self.kubeconfig}",
                            hint=did_you_mean(self.kube_context or "", names)
                            or f"known: {', '.join(names)}")
                    conf = client.Configuration()
                    conf.retries = 1  # a refused connection is an answer; do not wait on it
                    api_client = config.new_client_from_config(
                        self.kubeconfig, self.kube_context, persist_config=False,
                        client_configuration=conf)
                except config.ConfigException as exc:
                    raise InvalidRequest(f"cannot use the kubeconfig {self.kubeconfig}: {exc}",
                                         hint="set $KUBECONFIG or the context's kube_context "
                                              "(kubectl config get-contexts)") from None
                if self.token:  # the faastui context's token wins over the kubeconfig user's
                    conf.api_key = {"BearerToken": f"Bearer {self.token}"}
                    conf.refresh_api_key_hook = None
                self.server = conf.host
                self.namespace = (self.namespace or (chosen.get("context") or {}).get("namespace")
                                  or "default")
                self._api = (api_client, client.CoreV1Api(api_client),
                             client.CustomObjectsApi(api_client))
            return self._api

    def _error(self, exc, what: str) -> BackendError:
        """An ApiException (its body a Kubernetes Status) as a BackendError."""
        try:
            status = json.loads(exc.body or "{}")
        except ValueError:
            status = {}
        status = status if isinstance(status, dict) else {}
        message = status.get("message") or exc.reason or f"HTTP {exc.status}"
        if exc.status == 401:
            return AuthError(f"the Kubernetes API at {self.server} refused the credentials "
                             "(401 Unauthorized)",
                             hint="check the token (faastui context add --token) or the "
                                  "kubeconfig user (kubectl auth whoami)")
        if exc.status == 403:
            err = AuthError(f"forbidden to {what}: {message}",
                            hint=f"the account needs RBAC rights for it in namespace "
                                 f"{self.namespace} (kubectl auth can-i)")
            err.http_status = 403
            return err
        if exc.status == 404:
            err = NotFound(message)
            err.details = status.get("details") or {}  # type: ignore[attr-defined]
            return err
        if exc.status == 409:
            return Conflict(message, hint="it changed meanwhile; run the command again")
        if exc.status in (400, 415, 422):
            return InvalidRequest(message)
        return BackendError(f"the Kubernetes API failed to {what}: {exc.status} {message}")

    def _run(self, what: str, call):
        import urllib3
        from kubernetes.client.exceptions import ApiException

        _, core, custom = self._apis()
        try:
            return call(core, custom)
        except ApiException as exc:
            raise self._error(exc, what) from None
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise Unreachable(f"the Kubernetes API at {self.server} does not answer: {reason}",
                              hint=_UNREACHABLE_HINT) from None

    async def _custom(self, what: str, method: str, *args) -> dict:
        """A CustomObjectsApi call on this namespace's Knative services."""
        return await asyncio.to_thread(self._run, what, lambda core, custom: getattr(
            custom, method)(GROUP, VERSION, self.namespace, PLURAL, *args,
                            _request_timeout=_TIMEOUT))

    async def _core(self, what: str, method: str, *, namespaced: bool = True, **kw) -> bytes:
        """A CoreV1Api call; its raw body (no model classes: JSON is parsed by the caller)."""
        def call(core, custom):
            if namespaced:
                kw["namespace"] = self.namespace  # known once _apis has run, in this thread
            return getattr(core, method)(_preload_content=False, _request_timeout=_TIMEOUT,
                                         **kw).data
        return await asyncio.to_thread(self._run, what, call)

    async def aclose(self) -> None:
        if self._http is not None:
            client, self._http = self._http, None
            await client.aclose()
        if self._api is not None:
            api_client, self._api = self._api[0], None
            await asyncio.to_thread(api_client.close)

    # ---- ksvcs, pods, nodes --------------------------------------------------------------
    async def _ksvcs(self) -> list[dict]:
        try:
            data = await self._custom("list Knative services", "list_namespaced_custom_object")
        except NotFound:
            raise _not_installed() from None
        return sorted(data.get("items") or [], key=lambda o: o["metadata"]["name"])

    async def _ksvc(self, fn: str) -> dict:
        try:
            return await self._custom(f"read the Knative service {fn}",
                                      "get_namespaced_custom_object", fn)
        except NotFound as exc:
            if getattr(exc, "details", {}).get("name") != fn:
                raise _not_installed() from None
            known = [o["metadata"]["name"] for o in await self._ksvcs()]
            raise FunctionNotFound(f"function {fn!r} not found in namespace {self.namespace}",
                                   hint=did_you_mean(fn, known)
                                   or "list them with `faastui functions`") from None

    async def _pods(self, selector: str) -> list[dict]:
        data = await self._core("list pods", "list_namespaced_pod", label_selector=selector)
        return json.loads(data).get("items") or []

    async def _all_pods(self, errors: list[str]) -> list[dict]:
        """Pods of every namespace, else (forbidden) this namespace's."""
        try:
            data = await self._core("list pods in all namespaces", "list_pod_for_all_namespaces",
                                    namespaced=False)
            return json.loads(data).get("items") or []
        except AuthError as exc:
            if exc.http_status != 403:
                raise
            errors.append(f"nodes: pods counted in namespace {self.namespace} only "
                          "(listing all namespaces is forbidden)")
            return await self._pods("")

    async def _node_objects(self) -> list[dict]:
        data = await self._core("list nodes", "list_node", namespaced=False)
        return json.loads(data).get("items") or []

    def _functions(self, ksvcs: list[dict], pods: list[dict]) -> list[Function]:
        by_fn: dict[str, list[dict]] = {}
        for p in pods:
            by_fn.setdefault((p["metadata"].get("labels") or {}).get(SERVICE_LABEL, ""),
                             []).append(p)
        return [function_from_ksvc(o, by_fn.get(o["metadata"]["name"], []),
                                   len(self._calls.get(o["metadata"]["name"], [])))
                for o in ksvcs]

    @staticmethod
    def _nodes(nodes: list[dict], pods: list[dict]) -> list[Node]:
        by_node: dict[str, list[dict]] = {}
        for p in pods:
            if pod_state(p):
                by_node.setdefault(_node_name(p), []).append(p)
        return sorted((node_from(n, by_node.get(n["metadata"]["name"], [])) for n in nodes),
                      key=lambda n: n.name)

    # ---- reads ----------------------------------------------------------------------------
    async def describe(self, fn: str) -> Function:
        obj, pods = await asyncio.gather(self._ksvc(fn), self._pods(f"{SERVICE_LABEL}={fn}"))
        return function_from_ksvc(obj, pods, len(self._calls.get(fn, [])))

    async def functions(self) -> list[Function]:
        ksvcs, pods = await asyncio.gather(self._ksvcs(), self._pods(SERVICE_LABEL))
        return self._functions(ksvcs, pods)

    async def nodes(self) -> list[Node]:
        nodes, pods = await asyncio.gather(self._node_objects(), self._all_pods([]))
        return self._nodes(nodes, pods)

    async def snapshot(self) -> Snapshot:
        errors: list[str] = []

        async def part(label: str, coro):
            try:
                return await coro
            except (Unreachable, InvalidRequest):
                raise
            except BackendError as exc:
                if isinstance(exc, AuthError) and exc.http_status == 401:
                    raise
                errors.append(f"{label}: {exc}")
                return []

        await asyncio.to_thread(self._apis)  # a kubeconfig problem is one error, not three
        nodes, ksvcs, pods = await asyncio.gather(
            part("nodes", self._node_objects()), part("functions", self._ksvcs()),
            part("pods", self._all_pods(errors)))
        ours = [p for p in pods if p["metadata"].get("namespace") == self.namespace
                and SERVICE_LABEL in (p["metadata"].get("labels") or {})]
        counts: dict[tuple[str, str, str], int] = {}
        for p in ours:
            if state := pod_state(p):
                key = (p["metadata"]["labels"][SERVICE_LABEL], _node_name(p), state)
                counts[key] = counts.get(key, 0) + 1
        placements = [Placement(function=f, node=n, state=s, count=c)
                      for (f, n, s), c in sorted(counts.items())]
        return Snapshot(nodes=self._nodes(nodes, pods), functions=self._functions(ksvcs, ours),
                        placements=placements, queues=[], qos=self._qos(), fusion_groups=[],
                        taken_at=time.time(), errors=errors)

    def _qos(self) -> list[QoSStat]:
        since = time.time() - QOS_WINDOW_S
        out = []
        for fn, calls in sorted(self._calls.items()):
            ms = [m for t, m, _ in calls if t >= since]
            if ms:
                out.append(QoSStat(
                    subject=fn, window_s=QOS_WINDOW_S, count=len(ms),
                    errors=sum(not ok for t, _, ok in calls if t >= since),
                    p50_ms=_percentile(ms, 0.5), p95_ms=_percentile(ms, 0.95),
                    p99_ms=_percentile(ms, 0.99)))
        return out

    async def logs(self, fn: str, tail: int = 100) -> list[str]:
        """The last ``tail`` lines of container user-container of each pod of ``fn``."""
        pods = await self._pods(f"{SERVICE_LABEL}={fn}")
        if not pods:
            await self._ksvc(fn)  # FunctionNotFound; else a ksvc scaled to zero: no logs
            return []
        pods.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
        lines: list[str] = []
        for pod in pods:
            name = pod["metadata"]["name"]
            try:
                text = (await self._core(f"read the logs of pod {name}", "read_namespaced_pod_log",
                                         name=name, container=USER_CONTAINER, tail_lines=tail)
                        ).decode("utf-8", "replace")
            except (InvalidRequest, NotFound) as exc:  # not started yet, or gone meanwhile
                text = f"(no logs: {exc})\n"
            prefix = f"[{name}] " if len(pods) > 1 else ""
            lines += [prefix + line for line in text.splitlines()]
        return lines

    # ---- invoke ---------------------------------------------------------------------------
    def _client(self):
        if self._http is None:
            import httpx  # deferred: only commands that call a function pay for it

            self._http = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout, connect=5.0))
        return self._http

    _body = staticmethod(payload_request)

    async def invoke(self, fn: str, payload: Any, node: str | None = None) -> Invocation:
        if node:
            raise Unsupported("Knative routes each call itself; it cannot call a function "
                              "on a chosen node", hint="call without --node")
        obj = await self._ksvc(fn)
        target = (obj.get("status") or {}).get("url")
        if not target:
            ready = _condition(obj, "Ready")
            raise BackendError(f"function {fn!r} has no URL yet: "
                               f"{ready.get('message') or ready.get('reason') or 'not ready'}",
                               hint=f"kubectl describe ksvc {fn} -n {self.namespace}")
        body, headers = self._body(payload)
        if self.url:  # through the ingress, which picks the route by Host
            parts = urlsplit(target)
            headers["Host"] = parts.netloc
            target = self.url + (parts.path or "/")
        import httpx

        started, t0 = time.time(), time.perf_counter()
        try:
            resp = await self._client().post(target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            hint = ("check the context URL: the cluster's ingress address" if self.url else
                    "set the context URL to the cluster's ingress address "
                    "(faastui context add NAME --backend knative --url http://INGRESS)")
            raise Unreachable(f"function {fn!r} at {target} does not answer: {exc}".rstrip(": "),
                              hint=hint) from None
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
            error = (data.get("error") if isinstance(data, dict) else None) or \
                resp.text.strip()[:500] or f"HTTP {resp.status_code}"
        self._calls.setdefault(fn, []).append((started, ms, ok))
        del self._calls[fn][:-1000]
        return Invocation(call_id=resp.headers.get("X-Request-Id") or uuid.uuid4().hex[:12],
                          function=fn, duration_ms=round(ms, 3), status="ok" if ok else "error",
                          result=data if ok else None, error=error, started_at=started,
                          ended_at=time.time())

    # ---- scale and prewarm: a new revision each ---------------------------------------------
    async def _patch(self, fn: str, patch: dict) -> dict:
        """A JSON merge patch (what the client sends for custom objects)."""
        return await self._custom(f"update the Knative service {fn}",
                                  "patch_namespaced_custom_object", fn, patch)

    async def _wait_ready(self, fn: str, generation: int) -> dict:
        """Wait until the ksvc observed ``generation`` and is Ready; raise if Ready=False."""
        deadline = time.monotonic() + self.ready_timeout
        delay, last = 0.05, "not reconciled yet"
        while True:
            obj = await self._ksvc(fn)
            ready = _condition(obj, "Ready")
            if int((obj.get("status") or {}).get("observedGeneration") or 0) >= generation:
                last = ready.get("message") or ready.get("reason") or "Ready is Unknown"
                if ready.get("status") == "True":
                    return obj
                if ready.get("status") == "False":
                    raise BackendError(f"function {fn!r} is not ready: {last}",
                                       hint=f"`faastui logs {fn}`, kubectl describe ksvc {fn} "
                                            f"-n {self.namespace}")
            if time.monotonic() >= deadline:
                raise BackendError(f"function {fn!r} not ready after {self.ready_timeout:g} s: "
                                   f"{last}", hint="it may still come up: `faastui functions`")
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 1.5)

    async def _roll(self, fn: str, n: int, annotations: dict) -> dict:
        """Set revision template annotations (``n`` within max-scale); the Ready ksvc."""
        top = int(quantity(_template(await self._ksvc(fn))[0].get(MAX_SCALE)))
        if top and n > top:
            raise InvalidRequest(f"{n} is over the max-scale of {fn!r} ({top})",
                                 hint=f"raise {MAX_SCALE} first")
        patched = await self._patch(fn, {"spec": {"template": {"metadata": {
            "annotations": annotations}}}})
        return await self._wait_ready(fn, int(patched["metadata"].get("generation") or 0))

    async def scale(self, fn: str, replicas: int) -> Function:
        if replicas < 0:
            raise InvalidRequest("replicas must be >= 0")
        await self._roll(fn, replicas, {MIN_SCALE: str(replicas), INITIAL_SCALE: None})
        return await self.describe(fn)

    async def prewarm(self, fn: str, node: str | None = None, count: int = 1) -> list[Invocation]:
        if node:
            raise Unsupported(f"Knative places pods itself; it cannot prewarm on node {node!r}",
                              hint="prewarm without a node: a new revision starts COUNT pods")
        if count < 1:
            raise InvalidRequest("count must be >= 1")
        started, t0 = time.time(), time.perf_counter()
        ready = await self._roll(fn, count, {INITIAL_SCALE: str(count),
                                             "faastui.io/prewarmed-at": f"{started:.3f}"})
        ms = round((time.perf_counter() - t0) * 1000, 3)
        rev = (ready.get("status") or {}).get("latestReadyRevisionName") or ""
        pods = [p for p in await self._pods(f"{REVISION_LABEL}={rev}") if pod_state(p)]
        out = [Invocation(call_id=p["metadata"]["name"], function=fn, node=_node_name(p),
                          container_state="prewarm", cold_start_ms=ms,
                          status="ok" if pod_state(p) == "warm" else "pending",
                          started_at=started, ended_at=time.time()) for p in pods[:count]]
        return out + [Invocation(call_id=f"{rev}-pending-{i}", function=fn,
                                 container_state="prewarm", status="pending", started_at=started,
                                 ended_at=time.time()) for i in range(count - len(out))]

    # ---- deploy and remove -----------------------------------------------------------------
    async def deploy_source(self, source: str, *, name: str | None = None,
                            requirements: list[str] | None = None) -> Function:
        h = prepare(source, name or f"fn-{uuid.uuid4().hex[:8]}", requirements)
        return await self._deploy(h)

    async def deploy(self, package: str | Path | bytes, *, name: str | None = None) -> Function:
        """A function folder or zip: its handler module, requirements.txt and function.yaml
        (name, handler ``module:func``, memory, cpus, timeout, env) deploy as source."""
        files = _package_files(package)
        import yaml

        try:
            meta = yaml.safe_load(files.get("function.yaml", "")) or {}
        except yaml.YAMLError:
            raise InvalidRequest("function.yaml is not valid YAML") from None
        if not isinstance(meta, dict):
            raise InvalidRequest("function.yaml must be a mapping")
        module, _, func = str(meta.get("handler") or "handler:").partition(":")
        if f"{module}.py" not in files:
            raise InvalidRequest(f"the package has no {module}.py")
        others = sorted(f for f in files if f.endswith(".py") and f != f"{module}.py")
        if others:
            raise InvalidRequest("Knative runs a single handler module without an image build; "
                                 f"the package also has {', '.join(others)}",
                                 hint="merge them into one file, or build an image")
        reqs = [r.split("#")[0].strip() for r in files.get("requirements.txt", "").splitlines()]
        default = "" if isinstance(package, bytes) else Path(package).stem
        h = prepare(files[f"{module}.py"], name or meta.get("name") or default, reqs)
        if func and func != h.entry:
            if f"def {func}(" not in h.source:
                raise InvalidRequest(f"{module}.py defines no {func}()")
            h = HandlerSource(h.name, h.source, func, h.requirements)
        return await self._deploy(h, meta)

    def _service(self, h: HandlerSource, meta: dict) -> dict:
        """The ksvc for handler ``h`` (None values: absent; a merge patch removes them)."""
        env = {str(k): str(v) for k, v in (meta.get("env") or {}).items()}
        env.update(harness_env(h))
        for key, value in env.items():
            if len(key) + 1 + len(value) >= ENV_STRING_LIMIT:
                raise InvalidRequest(f"the handler is too big for Knative: {key} would be "
                                     f"{len(value) // 1024} KiB; Linux takes at most 128 KiB "
                                     "per variable", hint="keep the source under about 90 KiB")
        container: dict[str, Any] = {
            "name": USER_CONTAINER, "image": self.image, "command": ["python", "-c", HARNESS],
            "env": [{"name": k, "value": v} for k, v in env.items()],
            "ports": [{"containerPort": 8080}]}
        limits = {}
        if meta.get("memory"):
            limits["memory"] = f"{int(float(meta['memory']))}Mi"
        if meta.get("cpus"):
            limits["cpu"] = f"{int(float(meta['cpus']) * 1000)}m"
        if limits:
            container["resources"] = {"limits": limits}
        timeout = int(float(meta["timeout"])) if meta.get("timeout") else None
        return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Service",
                "metadata": {"name": h.name, "namespace": self.namespace,
                             "labels": {SOURCE_LABEL: "true",
                                        "app.kubernetes.io/managed-by": "faastui"}},
                "spec": {"template": {
                    "metadata": {"annotations": {ENTRY_ANNOTATION: h.entry, INITIAL_SCALE: None}},
                    "spec": {"containers": [container], "timeoutSeconds": timeout}}}}

    async def _deploy(self, h: HandlerSource, meta: dict | None = None) -> Function:
        await asyncio.to_thread(self._apis)  # the namespace comes from the kubeconfig
        body = self._service(h, meta or {})
        try:
            current = await self._ksvc(h.name)
        except FunctionNotFound:
            current = None
        if current is None:
            result = await self._custom(f"create the Knative service {h.name}",
                                        "create_namespaced_custom_object", _drop_none(body))
        elif (current["metadata"].get("labels") or {}).get(SOURCE_LABEL) != "true":
            raise Conflict(f"a Knative service {h.name!r} exists that faastui did not deploy",
                           hint="pick another --name, or delete it with kubectl")
        else:  # only what faastui owns; scale annotations and the rest stay
            body["metadata"] = {"labels": body["metadata"]["labels"],
                                "resourceVersion": current["metadata"]["resourceVersion"]}
            result = await self._patch(h.name, {"metadata": body["metadata"],
                                                "spec": body["spec"]})
        await self._wait_ready(h.name, int(result["metadata"].get("generation") or 0))
        return await self.describe(h.name)

    async def remove(self, fn: str) -> None:
        try:
            await self._custom(f"delete the Knative service {fn}",
                               "delete_namespaced_custom_object", fn)
        except NotFound:
            await self._ksvc(fn)  # the right error, with a did-you-mean
            raise
        self._calls.pop(fn, None)


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _package_files(package: str | Path | bytes) -> dict[str, str]:
    """The .py, function.yaml and requirements.txt at the top of a function folder or zip
    (a zip's single top folder is looked into)."""
    def wanted(name: str) -> bool:
        return name.endswith(".py") or name in ("function.yaml", "requirements.txt")

    if not isinstance(package, bytes):
        path = Path(package)
        if path.is_dir():
            return {p.name: p.read_text(errors="replace") for p in path.iterdir()
                    if p.is_file() and wanted(p.name)}
        if not zipfile.is_zipfile(path):
            raise InvalidRequest(f"{path} is neither a function folder nor a zip")
        package = path.read_bytes()
    try:
        archive = zipfile.ZipFile(io.BytesIO(package))
    except zipfile.BadZipFile:
        raise InvalidRequest("the package is not a zip archive") from None
    names = [n for n in archive.namelist() if not n.endswith("/")]
    tops = {n.split("/")[0] for n in names}
    prefix = f"{tops.pop()}/" if len(tops) == 1 and all("/" in n for n in names) else ""
    return {n[len(prefix):]: archive.read(n).decode("utf-8", "replace") for n in names
            if n.startswith(prefix) and "/" not in n[len(prefix):] and wanted(n[len(prefix):])}
