"""How faastui reaches a Kubernetes API server: where the settings come from, and one
bounded HTTP request at a time, with the answer's errors mapped into the BackendError tree.

Settings come, through the ``kubernetes`` client's own loaders, from a kubeconfig (a path,
else ``$KUBECONFIG``, else ``~/.kube/config``) and one of its contexts, or from the
in-cluster service account (``KUBERNETES_SERVICE_HOST``/``PORT``, the token and ca.crt
under ``/var/run/secrets/kubernetes.io/serviceaccount``). So every auth the client knows
works (tokens, client certificates, exec plugins, token refresh), and TLS is the client's.
Requests go through the client's urllib3 pool as raw HTTP: JSON is parsed here, never into
the client's model classes (20,000 of them would take seconds), and watch streams are read
line by line. Every request has a connect and a read timeout and no hidden retries.

The ``kubernetes`` package costs ~0.4 s to import, so it is imported on the first request
(in the calling thread), never at module import.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from ..errors import AuthError, BackendError, Conflict, InvalidRequest, NotFound, Unreachable, did_you_mean

__all__ = ["KubeOptions", "Connection", "Gone", "api_error", "UNREACHABLE_HINT", "path"]

UNREACHABLE_HINT = "check the kubeconfig's server and that the cluster is up (kubectl cluster-info)"
SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


class Gone(BackendError):
    """410: a watch's resourceVersion or a list's continue token is too old (re-list)."""

    http_status = 410
    kind = "gone"


@dataclass(frozen=True)
class KubeOptions:
    """Where the cluster is: a kubeconfig and context, or the in-cluster service account."""

    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    token: str | None = None  # replaces the kubeconfig user's bearer token
    service_account: str = SERVICE_ACCOUNT
    connect_timeout: float = 5.0
    timeout: float = 10.0  # read timeout of one request (a watch has its own)

    @property
    def kubeconfig_path(self) -> str:
        return str(Path(self.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config").expanduser())


def path(*parts: str) -> str:
    """``/api/v1/namespaces/{ns}/pods/{name}`` with each part quoted."""
    return "/".join(quote(p, safe="") if i else p for i, p in enumerate(parts))


def api_error(
    status: int, body: bytes | str | None, what: str, server: str, namespace: str | None = None
) -> BackendError:
    """An error answer (its body a Kubernetes Status) as a BackendError."""
    try:
        data = json.loads(body or "{}")
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    message = (
        data.get("message")
        or (body.decode("utf-8", "replace").strip()[:300] if isinstance(body, bytes) else str(body or ""))
        or f"HTTP {status}"
    )
    if status == 401:
        return AuthError(
            f"the Kubernetes API at {server} refused the credentials (401 Unauthorized)",
            hint="check the token (faastui context add --token) or the kubeconfig user (kubectl auth whoami)",
        )
    if status == 403:
        where = f" in namespace {namespace}" if namespace else ""
        err = AuthError(
            f"forbidden to {what}: {message}", hint=f"the account needs RBAC rights for it{where} (kubectl auth can-i)"
        )
        err.http_status = 403
        return err
    if status == 404:
        err = NotFound(message)
        err.details = data.get("details") or {}  # type: ignore[attr-defined]
        return err
    if status == 409:
        err = Conflict(message, hint="it changed meanwhile; run the command again")
        err.reason = data.get("reason") or ""  # type: ignore[attr-defined]
        return err
    if status == 410:
        return Gone(message)
    if status in (400, 415, 422):
        return InvalidRequest(message)
    return BackendError(f"the Kubernetes API failed to {what}: {status} {message}")


class Connection:
    """One cluster's API server: settings loaded on first use, then bounded raw requests.

    Thread safe: the view's threads and the backend's ``asyncio.to_thread`` calls share it.
    """

    def __init__(self, options: KubeOptions):
        self.options = options
        self.server = ""
        self.namespace: str | None = None  # the context's (or the service account's)
        self._lock = threading.Lock()
        self._conf = None
        self._pool = None
        self._api_client = None
        self._auth: tuple[float, dict[str, str]] = (-1e18, {})  # (when computed, the headers)

    AUTH_TTL = 1.0  # s the auth headers are reused (see _headers)

    # ---- settings ---------------------------------------------------------------------------
    def load(self) -> None:
        """Load the settings (once). Raises InvalidRequest for a bad kubeconfig or context."""
        with self._lock:
            if self._pool is not None:
                return
            from kubernetes import client, config  # deferred: ~0.4 s, only kube users pay it

            conf = client.Configuration()
            opts = self.options
            try:
                if opts.in_cluster:
                    self._load_in_cluster(config, conf)
                else:
                    self._load_kubeconfig(config, conf)
            except config.ConfigException as exc:
                where = (
                    "the in-cluster service account" if opts.in_cluster else f"the kubeconfig {opts.kubeconfig_path}"
                )
                raise InvalidRequest(
                    f"cannot use {where}: {exc}",
                    hint="set $KUBECONFIG or the context's kube_context (kubectl config get-contexts)",
                ) from None
            if opts.token:  # the faastui context's token wins over the kubeconfig user's
                conf.api_key = {"BearerToken": f"Bearer {opts.token}"}
                conf.refresh_api_key_hook = None
            conf.retries = False  # one try: a refused connection is an answer
            self._conf = conf
            self.server = conf.host
            self._api_client = client.ApiClient(conf)
            self._pool = self._api_client.rest_client.pool_manager

    def _load_kubeconfig(self, config, conf) -> None:
        opts = self.options
        kubeconfig = opts.kubeconfig_path
        contexts, active = config.list_kube_config_contexts(kubeconfig)
        chosen = active
        if opts.context:
            chosen = next((c for c in contexts if c.get("name") == opts.context), None)
        if chosen is None:
            names = [c.get("name", "") for c in contexts]
            raise InvalidRequest(
                f"no kube context {opts.context!r} in {kubeconfig}",
                hint=did_you_mean(opts.context or "", names) or f"known: {', '.join(names)}",
            )
        config.load_kube_config(kubeconfig, opts.context, client_configuration=conf, persist_config=False)
        self.namespace = (chosen.get("context") or {}).get("namespace") or None

    def _load_in_cluster(self, config, conf) -> None:
        from kubernetes.config.incluster_config import InClusterConfigLoader

        folder = Path(self.options.service_account)
        InClusterConfigLoader(token_filename=str(folder / "token"), cert_filename=str(folder / "ca.crt")).load_and_set(
            conf
        )
        try:
            self.namespace = (folder / "namespace").read_text().strip() or None
        except OSError:
            self.namespace = None

    def _headers(self, content_type: str | None, accept: str = "application/json") -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": "faastui"}
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(self._auth_headers())
        return headers

    def _auth_headers(self) -> dict[str, str]:
        """The credentials' headers. The client's ``auth_settings()`` refreshes an expiring
        token (exec plugins, service account tokens), but costs ~0.25 ms a call (it resets
        the host, which re-reads the proxy settings from the environment), a third of a
        small request's CPU: so they are reused for ``AUTH_TTL`` s, and dropped after a 401."""
        at, headers = self._auth
        now = time.monotonic()
        if now - at < self.AUTH_TTL:
            return headers
        headers = {}
        for setting in self._conf.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        self._auth = (now, headers)
        return headers

    # ---- requests ---------------------------------------------------------------------------
    def open(
        self,
        method: str,
        url_path: str,
        *,
        query: dict | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | None = None,
        stream: bool = False,
        accept: str = "application/json",
    ):
        """One request; the urllib3 response (its body not read when ``stream``).

        Raises: Unreachable when the server does not answer within the timeouts.
        """
        import urllib3  # deferred with the kubernetes client (its dependency)

        self.load()
        url = self.server + url_path + ("?" + urlencode(query) if query else "")
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        read = self.options.timeout if timeout is None else timeout
        try:
            resp = self._pool.request(
                method,
                url,
                body=data,
                headers=self._headers(content_type if data else None, accept),
                timeout=urllib3.Timeout(connect=self.options.connect_timeout, read=read),
                retries=False,
                preload_content=not stream,
                redirect=False,
            )
            if resp.status == 401:  # refused: the next request asks the client afresh
                self._auth = (-1e18, {})
            return resp
        except urllib3.exceptions.NewConnectionError as exc:  # refused (a ConnectTimeoutError!)
            raise Unreachable(
                f"the Kubernetes API at {self.server} does not answer: {exc.args[-1] if exc.args else exc}",
                hint=UNREACHABLE_HINT,
            ) from None
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError) as exc:
            took = read if isinstance(exc, urllib3.exceptions.ReadTimeoutError) else self.options.connect_timeout
            raise Unreachable(
                f"the Kubernetes API at {self.server} did not answer within {took:g} s", hint=UNREACHABLE_HINT
            ) from None
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise Unreachable(
                f"the Kubernetes API at {self.server} does not answer: {reason}", hint=UNREACHABLE_HINT
            ) from None

    def request(
        self,
        method: str,
        url_path: str,
        what: str,
        *,
        query: dict | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> bytes:
        """One request; its body. Raises the BackendError for an error answer."""
        resp = self.open(method, url_path, query=query, body=body, content_type=content_type, timeout=timeout)
        if resp.status >= 400:
            raise api_error(resp.status, resp.data, what, self.server, self.namespace)
        return resp.data

    def fetch(self, url_path: str, what: str, *, accept: str, timeout: float | None = None) -> tuple[bytes, str]:
        """One GET asking for ``accept`` (e.g. a pod's metrics through the pod proxy, which
        passes the header on); its body and Content-Type. Raises as ``request`` does."""
        resp = self.open("GET", url_path, timeout=timeout, accept=accept)
        if resp.status >= 400:
            raise api_error(resp.status, resp.data, what, self.server, self.namespace)
        return resp.data, resp.headers.get("Content-Type", "")

    def json(self, method: str, url_path: str, what: str, **kwargs) -> dict:
        data = self.request(method, url_path, what, **kwargs)
        try:
            out = json.loads(data) if data else {}
        except ValueError:
            raise BackendError(f"the Kubernetes API answered {what} with something that is not JSON") from None
        return out if isinstance(out, dict) else {}

    def close(self) -> None:
        with self._lock:
            if self._api_client is not None:
                self._pool.clear()
                self._api_client, self._pool = None, None
