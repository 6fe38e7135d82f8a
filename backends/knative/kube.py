"""The Kubernetes API boundary of the Knative adapter (``KnativeApi``, held by
KnativeBackend), on the shared connection and view of ``backends.kube``: the reads and
writes of ksvcs, pods and nodes, each one bounded request with its errors mapped in one
place (``backends/kube/connect.py``), and the view the snapshot reads (nodes, every pod
for node usage, this namespace's ksvcs, events).

The ``kubernetes`` client is imported on the first call (it costs ~0.4 s that commands on
other backends must not pay) and every call runs in ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import json

from ..errors import AuthError, FunctionNotFound, NotFound, did_you_mean
from ..kube.connect import Connection, KubeOptions, path
from ..kube.records import PodMapping
from ..kube.view import KubeView
from .objects import GROUP, PLURAL, SERVICE_LABEL, VERSION

#: knative/serving pkg/networking: AutoscalingQueueMetricsPort, where queue-proxy serves the
#: Stat the autoscaler scrapes (UserQueueMetricsPort 9091 has no in-flight count)
QUEUE_METRICS_PORT = 9090


def _not_installed() -> NotFound:
    return NotFound(
        f"Knative Serving is not installed: the API serves no {PLURAL}.{GROUP}",
        hint="install Knative Serving, or pick another kube context",
    )


class KnativeApi:
    """The Kubernetes side of KnativeBackend: the connection made from ``options``
    (KubeOptions), the namespace it works in (None: the kubeconfig context's, settled on
    the first call, else ``default``), and the view (``view_options`` for KubeView)."""

    def __init__(self, options: KubeOptions, *, namespace: str | None, view_options: dict):
        self.options = options
        self.namespace = namespace
        self.conn = Connection(options)
        self.view_options = view_options
        self.started_view: KubeView | None = None  # the view, once ``view()`` started it

    async def aclose(self) -> None:
        if self.started_view is not None:
            view, self.started_view = self.started_view, None
            await asyncio.to_thread(view.close)  # closes the shared connection too
        else:
            await asyncio.to_thread(self.conn.close)

    # ---- the connection ----------------------------------------------------------------------
    @property
    def server(self) -> str:
        return self.conn.server

    def _load(self) -> None:
        """Load the kubeconfig (in a worker thread) and settle the namespace."""
        self.conn.load()
        self.namespace = self.namespace or self.conn.namespace or "default"

    async def ready(self) -> Connection:
        if not self.conn.server or not self.namespace:
            await asyncio.to_thread(self._load)
        return self.conn

    async def api(self, method: str, url: str, what: str, **kwargs) -> dict:
        conn = await self.ready()
        return await asyncio.to_thread(conn.json, method, url, what, **kwargs)

    def ksvc_path(self, *name: str) -> str:
        return path(f"/apis/{GROUP}/{VERSION}/namespaces", self.namespace, PLURAL, *name)

    # ---- the view the snapshot reads -----------------------------------------------------------
    async def view(self) -> KubeView:
        await self.ready()
        if self.started_view is None:
            self.started_view = KubeView(
                self.options,
                namespace=None,  # every pod: what the nodes carry
                # a ready pod is ``busy`` while its queue-proxy's autoscaling stats (port 9090,
                # protobuf Stat.average_concurrent_requests over the last second) say it
                # served: backends/kube/gauges.py has the sources
                mappings=(
                    PodMapping(
                        SERVICE_LABEL,
                        namespace=self.namespace,
                        metrics_port=QUEUE_METRICS_PORT,
                        metrics_gauge="queue-proxy",
                    ),
                ),
                extra={"ksvcs": (self.ksvc_path(), f"{PLURAL}.{GROUP}")},
                connection=self.conn,
                **self.view_options,
            )
        return self.started_view

    # ---- ksvcs, pods, nodes -----------------------------------------------------------------------
    async def ksvcs(self) -> list[dict]:
        await self.ready()
        try:
            data = await self.api("GET", self.ksvc_path(), "list Knative services")
        except NotFound:
            raise _not_installed() from None
        return sorted(data.get("items") or [], key=lambda o: o["metadata"]["name"])

    async def ksvc(self, fn: str) -> dict:
        await self.ready()
        try:
            return await self.api("GET", self.ksvc_path(fn), f"read the Knative service {fn}")
        except NotFound as exc:
            if getattr(exc, "details", {}).get("name") != fn:
                raise _not_installed() from None
            known = [o["metadata"]["name"] for o in await self.ksvcs()]
            raise FunctionNotFound(
                f"function {fn!r} not found in namespace {self.namespace}",
                hint=did_you_mean(fn, known) or "list them with `faastui functions`",
            ) from None

    async def pods(self, selector: str) -> list[dict]:
        await self.ready()
        data = await self.api(
            "GET",
            path("/api/v1/namespaces", self.namespace, "pods"),
            "list pods",
            query={"labelSelector": selector} if selector else None,
        )
        return data.get("items") or []

    async def all_pods(self, errors: list[str]) -> list[dict]:
        """Pods of every namespace, else (forbidden) this namespace's."""
        try:
            return (await self.api("GET", "/api/v1/pods", "list pods in all namespaces")).get("items") or []
        except AuthError as exc:
            if exc.http_status != 403:
                raise
            errors.append(
                f"nodes: pods counted in namespace {self.namespace} only (listing all namespaces is forbidden)"
            )
            return await self.pods("")

    async def node_objects(self) -> list[dict]:
        return (await self.api("GET", "/api/v1/nodes", "list nodes")).get("items") or []

    async def pod_log(self, name: str, container: str, tail: int, query: dict | None = None) -> str:
        """A pod's last ``tail`` lines; ``query`` instead asks what it says (``podlogs.query``)."""
        conn = await self.ready()
        data = await asyncio.to_thread(
            conn.request,
            "GET",
            path("/api/v1/namespaces", self.namespace, "pods", name, "log"),
            f"read the logs of pod {name}",
            query=query or {"container": container, "tailLines": str(tail)},
        )
        return data.decode("utf-8", "replace")

    # ---- writes ---------------------------------------------------------------------------------
    async def create(self, body: dict) -> dict:
        name = (body.get("metadata") or {}).get("name", "")
        await self.ready()
        return await self.api("POST", self.ksvc_path(), f"create the Knative service {name}", body=body)

    async def patch(self, fn: str, patch: dict) -> dict:
        """A JSON merge patch (what custom resources take)."""
        await self.ready()
        return await self.api(
            "PATCH",
            self.ksvc_path(fn),
            f"update the Knative service {fn}",
            body=json.dumps(patch).encode(),
            content_type="application/merge-patch+json",
        )

    async def delete(self, fn: str) -> dict:
        await self.ready()
        return await self.api("DELETE", self.ksvc_path(fn), f"delete the Knative service {fn}")
