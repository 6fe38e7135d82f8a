"""The Nuclio dashboard's REST API as one client: the HTTP connection (auth from the token),
the headers every call names (namespace, project), errors mapped to BackendErrors, and the
reads and writes of function objects that the backend (``nuclio.py``) and its fusion groups
(``nuclio_fusion.py``) both use. It knows the wire, not the model.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

from .errors import AuthError, BackendError, Conflict, FunctionNotFound, error_from_status
from .payload import send

__all__ = ["NuclioClient", "HINT", "FAILED", "one_line", "function_path"]

HINT = (
    "check the dashboard URL and that it is up (it listens on :8070, e.g. "
    "`kubectl -n nuclio port-forward svc/nuclio-dashboard 8070:8070`)"
)
FAILED = ("error", "unhealthy")


def one_line(text: str, *, last: bool = False, limit: int = 300) -> str:
    """The first (or, for a traceback, the last) non-blank line of ``text``."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return (lines[-1 if last else 0] if lines else "")[:limit]


def function_path(fn: str, *rest: str) -> str:
    return "/".join(["/api/functions", quote(fn, safe="")] + [quote(r, safe="") for r in rest])


class NuclioClient:
    """One dashboard at ``url`` in ``namespace`` (and ``project``). ``not_found(fn)`` makes
    the error for an unknown function (the backend's, with a did-you-mean)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        namespace: str,
        project: str,
        timeout: float,
        deploy_timeout: float,
        not_found,
    ):
        self.url = url
        self.token = token
        self.namespace = namespace
        self.project = project
        self.timeout = timeout
        self.deploy_timeout = deploy_timeout
        self.not_found = not_found
        self._client = None

    def http(self):
        if self._client is None:
            import httpx  # deferred: only commands that talk to a dashboard pay for it

            auth, headers = None, {}
            if self.token:
                user, sep, password = self.token.partition(":")
                if sep:
                    auth = (user, password)
                else:
                    headers["Authorization"] = f"Bearer {self.token}"
            self._client = httpx.AsyncClient(
                base_url=self.url, auth=auth, headers=headers, timeout=httpx.Timeout(self.timeout + 10, connect=5.0)
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def headers(self, project: bool = False, **extra: str) -> dict[str, str]:
        headers = {"x-nuclio-function-namespace": self.namespace, **extra}
        if project and self.project:
            headers["x-nuclio-project-name"] = self.project
        return headers

    async def request(self, method: str, path: str, **kwargs):
        return await send(self.http(), method, path, where=f"the Nuclio dashboard at {self.url}", hint=HINT, **kwargs)

    async def send(self, method: str, path: str, *, fn: str | None = None, **kwargs):
        """One dashboard call; an error answer becomes the matching BackendError."""
        resp = await self.request(method, path, **kwargs)
        if resp.status_code >= 400:
            await self.raise_for(resp, fn)
        return resp

    async def raise_for(self, resp, fn: str | None) -> None:
        try:
            body: Any = resp.json()
        except ValueError:
            body = None
        message = one_line(body.get("error") or "") if isinstance(body, dict) else ""
        if resp.status_code == 404 and fn and isinstance(body, dict):
            raise await self.not_found(fn)
        if resp.status_code in (401, 403):
            raise AuthError(
                f"the Nuclio dashboard refused the credentials: {message or resp.status_code}",
                hint="set the context's token: 'user:password' (basic) or a bearer token",
            )
        if resp.status_code == 412:
            raise Conflict(
                message or "precondition failed", hint="wait until the function is ready or failed, then try again"
            )
        raise error_from_status(resp.status_code, {"error": message} if message else one_line(resp.text))

    # ---- function objects ---------------------------------------------------------------------
    async def raw(self, fn: str) -> dict | None:
        """The dashboard's ``{metadata, spec, status}`` of ``fn``, or None if there is none."""
        resp = await self.request("GET", function_path(fn), headers=self.headers())
        if resp.status_code == 404 and "json" in resp.headers.get("content-type", ""):
            return None
        if resp.status_code >= 400:
            await self.raise_for(resp, fn)
        return resp.json()

    async def listing(self) -> list[dict]:
        """Every function of the project, group functions included, sorted by name."""
        resp = await self.send("GET", "/api/functions", headers=self.headers(project=True))
        data = resp.json() or {}
        return [data[k] for k in sorted(data)] if isinstance(data, dict) else []

    async def create(self, body: dict) -> None:
        await self.send("POST", "/api/functions", json=body, headers=self.headers(project=True))

    async def update(self, fn: str, body: dict) -> None:
        await self.send("PUT", function_path(fn), fn=fn, json=body, headers=self.headers(project=True))

    async def delete(self, fn: str) -> None:
        """Raises: FunctionNotFound, Conflict (it is being deployed)."""
        await self.send(
            "DELETE",
            "/api/functions",
            headers=self.headers(),
            json={"metadata": {"name": fn, "namespace": self.namespace}},
        )

    async def wait_ready(self, fn: str, what: str) -> dict:
        """Poll until ``fn`` is ready (its object); raise with its message when it failed or
        took longer than ``deploy_timeout``."""
        deadline = time.monotonic() + self.deploy_timeout
        delay = 0.05
        while True:
            data = await self.raw(fn)
            if data is None:
                raise FunctionNotFound(f"function {fn!r} disappeared during its {what}")
            status = data.get("status") or {}
            state = status.get("state", "")
            if state == "ready":
                return data
            if state in FAILED:
                reason = one_line(status.get("message") or "", last=True) or state
                raise BackendError(
                    f"{what} of {fn!r} failed: {reason}", hint="fix the handler (or its requirements) and deploy again"
                )
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"function {fn!r} is still {state or 'pending'} after {self.deploy_timeout:g}s",
                    hint="Nuclio goes on; see `faastui functions`, or give the backend a longer deploy_timeout",
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)
