"""The Kubernetes API boundary of the Knative adapter, on the shared connection and view of
``backends.kube``: the reads and writes of ksvcs, pods and nodes, each one bounded request
with its errors mapped in one place (``backends/kube/connect.py``), and the view the
snapshot reads (nodes, every pod for node usage, this namespace's ksvcs, events).

The ``kubernetes`` client is imported on the first call (it costs ~0.4 s that commands on
other backends must not pay) and every call runs in ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import json

from ..errors import AuthError, FunctionNotFound, NotFound, did_you_mean
from ..kube.connect import Connection, path
from ..kube.records import PodMapping
from ..kube.view import KubeView
from .objects import GROUP, PLURAL, SERVICE_LABEL, VERSION


def _not_installed() -> NotFound:
    return NotFound(f"Knative Serving is not installed: the API serves no {PLURAL}.{GROUP}",
                    hint="install Knative Serving, or pick another kube context")


class KubeAccess:
    """The Kubernetes side of KnativeBackend (a mixin: KnativeBackend.__init__ sets
    ``options`` (KubeOptions), ``namespace``, ``_conn``, ``_view`` and ``_view_options``)."""

    # ---- the connection ----------------------------------------------------------------------
    @property
    def server(self) -> str:
        return self._conn.server

    def _load(self) -> None:
        """Load the kubeconfig (in a worker thread) and settle the namespace."""
        self._conn.load()
        self.namespace = self.namespace or self._conn.namespace or "default"

    async def _ready(self) -> Connection:
        if not self._conn.server or not self.namespace:
            await asyncio.to_thread(self._load)
        return self._conn

    async def _api(self, method: str, url: str, what: str, **kwargs) -> dict:
        conn = await self._ready()
        return await asyncio.to_thread(conn.json, method, url, what, **kwargs)

    def _ksvc_path(self, *name: str) -> str:
        return path(f"/apis/{GROUP}/{VERSION}/namespaces", self.namespace, PLURAL, *name)

    # ---- the view the snapshot reads -----------------------------------------------------------
    async def view(self) -> KubeView:
        await self._ready()
        if self._view is None:
            self._view = KubeView(
                self.options, namespace=None,  # every pod: what the nodes carry
                mappings=(PodMapping(SERVICE_LABEL, namespace=self.namespace),),
                extra={"ksvcs": (self._ksvc_path(), f"{PLURAL}.{GROUP}")},
                connection=self._conn, **self._view_options)
        return self._view

    # ---- ksvcs, pods, nodes -----------------------------------------------------------------------
    async def _ksvcs(self) -> list[dict]:
        await self._ready()
        try:
            data = await self._api("GET", self._ksvc_path(), "list Knative services")
        except NotFound:
            raise _not_installed() from None
        return sorted(data.get("items") or [], key=lambda o: o["metadata"]["name"])

    async def _ksvc(self, fn: str) -> dict:
        await self._ready()
        try:
            return await self._api("GET", self._ksvc_path(fn), f"read the Knative service {fn}")
        except NotFound as exc:
            if getattr(exc, "details", {}).get("name") != fn:
                raise _not_installed() from None
            known = [o["metadata"]["name"] for o in await self._ksvcs()]
            raise FunctionNotFound(f"function {fn!r} not found in namespace {self.namespace}",
                                   hint=did_you_mean(fn, known)
                                   or "list them with `faastui functions`") from None

    async def _pods(self, selector: str) -> list[dict]:
        await self._ready()
        data = await self._api("GET", path("/api/v1/namespaces", self.namespace, "pods"),
                               "list pods", query={"labelSelector": selector} if selector else None)
        return data.get("items") or []

    async def _all_pods(self, errors: list[str]) -> list[dict]:
        """Pods of every namespace, else (forbidden) this namespace's."""
        try:
            return (await self._api("GET", "/api/v1/pods", "list pods in all namespaces")
                    ).get("items") or []
        except AuthError as exc:
            if exc.http_status != 403:
                raise
            errors.append(f"nodes: pods counted in namespace {self.namespace} only "
                          "(listing all namespaces is forbidden)")
            return await self._pods("")

    async def _node_objects(self) -> list[dict]:
        return (await self._api("GET", "/api/v1/nodes", "list nodes")).get("items") or []

    async def _pod_log(self, name: str, container: str, tail: int,
                       query: dict | None = None) -> str:
        """A pod's last ``tail`` lines; ``query`` instead asks what it says (``podlogs.query``)."""
        conn = await self._ready()
        data = await asyncio.to_thread(
            conn.request, "GET", path("/api/v1/namespaces", self.namespace, "pods", name, "log"),
            f"read the logs of pod {name}",
            query=query or {"container": container, "tailLines": str(tail)})
        return data.decode("utf-8", "replace")

    # ---- writes ---------------------------------------------------------------------------------
    async def _create(self, body: dict) -> dict:
        name = (body.get("metadata") or {}).get("name", "")
        await self._ready()
        return await self._api("POST", self._ksvc_path(), f"create the Knative service {name}",
                               body=body)

    async def _patch(self, fn: str, patch: dict) -> dict:
        """A JSON merge patch (what custom resources take)."""
        await self._ready()
        return await self._api("PATCH", self._ksvc_path(fn), f"update the Knative service {fn}",
                               body=json.dumps(patch).encode(),
                               content_type="application/merge-patch+json")

    async def _delete(self, fn: str) -> dict:
        await self._ready()
        return await self._api("DELETE", self._ksvc_path(fn), f"delete the Knative service {fn}")
