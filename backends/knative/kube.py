"""The Kubernetes API boundary of the Knative adapter: a client built from a kubeconfig on
first use, every call run through ``_run`` (so API and connection errors become
BackendErrors in one place), and the reads of ksvcs, pods and nodes.

The ``kubernetes`` client is synchronous and slow to import (~0.4 s), so it is
imported on the first call and every call runs in ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import json

from ..errors import (AuthError, BackendError, Conflict, FunctionNotFound, InvalidRequest, NotFound,
                      Unreachable, did_you_mean)
from .objects import GROUP, PLURAL, VERSION

_TIMEOUT = (5, 30)  # seconds: connect and read timeouts of one API request
_UNREACHABLE_HINT = ("check the kubeconfig's server and that the cluster is up "
                     "(kubectl cluster-info)")


def _not_installed() -> NotFound:
    return NotFound(f"Knative Serving is not installed: the API serves no {PLURAL}.{GROUP}",
                    hint="install Knative Serving, or pick another kube context")


class KubeAccess:
    """The Kubernetes side of KnativeBackend (a mixin: KnativeBackend.__init__ sets
    ``kubeconfig``, ``kube_context``, ``token``, ``namespace``, ``server``, ``_api`` and
    ``_lock``)."""

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

    # ---- writes --------------------------------------------------------------------------
    async def _patch(self, fn: str, patch: dict) -> dict:
        """A JSON merge patch (what the client sends for custom objects)."""
        return await self._custom(f"update the Knative service {fn}",
                                  "patch_namespaced_custom_object", fn, patch)

