"""LocalBackend: the Backend that talks to the embedded engine daemon over HTTP.

It speaks the engine's ``/faastui/v1`` API over a small stdlib HTTP/1.1 client
(``transport.py``; httpx was too slow to import for one-shot commands) and maps every
transport and HTTP error into the ``BackendError`` tree at this boundary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..base import Backend, Capability, HttpRequest
from ..errors import InvalidRequest, NotFound, Unreachable, Unsupported, error_from_status
from ..model import (DispatchResult, DispatchStep, Function, FusionGroup, Invocation, LogLine, Node,
                     Secret, Snapshot)
from ..payload import encode_payload

__all__ = ["LocalBackend", "read_engine_info", "encode_payload"]

UNREACHABLE_HINT = "is the engine running? try `faastui up`"


def read_engine_info(state_dir: Path) -> dict | None:
    """The running engine's ``engine.json`` in ``state_dir``, or None."""
    try:
        return json.loads((Path(state_dir) / "engine.json").read_text())
    except (OSError, ValueError):
        return None


class LocalBackend(Backend):
    name = "local"
    capabilities = (Capability.INVOKE | Capability.INVOKE_ASYNC | Capability.PREWARM
                    | Capability.DISPATCH | Capability.FUSE | Capability.SCALE | Capability.DEPLOY
                    | Capability.DEPLOY_SOURCE | Capability.QUEUES | Capability.LOGS
                    | Capability.NODE_TARGET | Capability.HTTP_REQUEST | Capability.SECRETS)

    def __init__(self, url: str | None = None, *, token: str | None = None,
                 state_dir: str | Path | None = None, timeout: float = 330.0, **_ignored):
        self._missing_engine: str | None = None
        if url is None and state_dir is not None:
            info = read_engine_info(Path(state_dir)) or {}
            url = info.get("url")
            if url is None:  # no engine there: say so rather than guess a port
                self._missing_engine = f"no engine is running on {state_dir}"
            if token is None and info.get("auth"):
                try:
                    token = (Path(state_dir) / "token").read_text().strip()
                except OSError:
                    token = None
        self.url = (url or "http://127.0.0.1:8080").rstrip("/")
        self.token = token
        self.timeout = timeout
        self._client = None

    # ---- transport --------------------------------------------------------------------
    def _http(self):
        if self._missing_engine:
            raise Unreachable(self._missing_engine, hint=UNREACHABLE_HINT)
        if self._client is None:
            # a stdlib asyncio HTTP/1.1 client: httpx costs ~0.25 s of import, which a
            # one-shot `faastui invoke` cannot afford (bench/cli.py measures both)
            from .transport import HttpTransport

            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._client = HttpTransport(self.url, headers=headers, timeout=self.timeout,
                                         connect_timeout=5.0)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def _request(self, method: str, path: str, *, json_body: Any = None,
                       content: bytes | None = None, content_type: str | None = None,
                       params: dict | None = None) -> Any:
        from .transport import ConnectError, TransportError

        if json_body is not None:
            content, content_type = json.dumps(json_body).encode(), "application/json"
        try:
            resp = await self._http().request(method, path, content=content or b"",
                                              content_type=content_type, params=params)
        except ConnectError:
            raise Unreachable(f"the engine at {self.url} does not answer",
                              hint=UNREACHABLE_HINT) from None
        except TimeoutError:
            raise Unreachable(f"the engine at {self.url} timed out", hint=UNREACHABLE_HINT) from None
        except TransportError as exc:
            raise Unreachable(f"the engine at {self.url}: {exc}", hint=UNREACHABLE_HINT) from None
        try:
            data = json.loads(resp.content) if resp.content else None
        except ValueError:
            data = resp.content.decode("utf-8", "replace")
        if resp.status_code >= 400:
            raise error_from_status(resp.status_code, data)
        return data

    # ---- reads ----------------------------------------------------------------------
    async def snapshot(self) -> Snapshot:
        return Snapshot.from_dict(await self._request("GET", "/faastui/v1/snapshot"))

    async def nodes(self) -> list[Node]:
        return [Node.from_dict(n) for n in await self._request("GET", "/faastui/v1/nodes")]

    async def functions(self) -> list[Function]:
        return [Function.from_dict(f) for f in await self._request("GET", "/faastui/v1/functions")]

    async def describe(self, fn: str) -> Function:
        return Function.from_dict(await self._request("GET", f"/faastui/v1/functions/{fn}"))

    async def fusion_groups(self) -> list[FusionGroup]:
        return [FusionGroup.from_dict(g) for g in await self._request("GET", "/faastui/v1/fusion")]

    async def call_graph(self) -> list[tuple[str, str, int]]:
        data = await self._request("GET", "/faastui/v1/callgraph")
        return [(e["caller"], e["callee"], int(e["calls"])) for e in data]

    async def logs(self, fn: str, tail: int = 100) -> list[str]:
        data = await self._request("GET", f"/faastui/v1/logs/{fn}", params={"tail": tail})
        return list(data.get("lines", []))

    async def log_lines(self, fn: str, tail: int = 100, *, since: float | None = None,
                        instance: str | None = None) -> list[LogLine]:
        return (await self._log_page(fn, tail=tail, since=since, instance=instance))[0]

    async def _log_page(self, fn: str, **params) -> tuple[list[LogLine], str]:
        params = {k: v for k, v in params.items() if v is not None}
        data = await self._request("GET", f"/faastui/v1/logs/{fn}", params=params)
        return [LogLine.from_dict(e) for e in data.get("entries", [])], data.get("cursor") or "0:0"

    async def follow_logs(self, fn: str, tail: int = 10, *, since: float | None = None,
                          instance: str | None = None, interval: float | None = None):
        """The last ``tail`` lines, then what the engine's log cursor says came after them
        (polled every ``interval`` s, 0.5 by default): no line twice, none missed, also
        across a log rotation."""
        import asyncio

        lines, cursor = await self._log_page(fn, tail=tail, since=since, instance=instance)
        for line in lines:
            yield line
        while True:
            await asyncio.sleep(interval or 0.5)
            lines, cursor = await self._log_page(fn, after=cursor, since=since, instance=instance)
            for line in lines:
                yield line

    # ---- secrets: the engine's /system/secrets (OpenFaaS's shapes) --------------------------
    async def secrets(self) -> list[Secret]:
        data = await self._request("GET", "/system/secrets")
        return sorted((Secret.from_dict(d) for d in data or []), key=lambda s: s.name)

    async def create_secret(self, name: str, value: bytes, *, update: bool = False) -> Secret:
        from ..secrets import check_name, wire_value

        body = {"name": check_name(name), **wire_value(value)}
        await self._request("PUT" if update else "POST", "/system/secrets", json_body=body)
        return Secret(name, "local")

    async def remove_secret(self, name: str) -> None:
        await self._request("DELETE", "/system/secrets", json_body={"name": name})

    async def info(self) -> dict:
        return await self._request("GET", "/faastui/v1/info")

    async def version(self) -> str:
        return f"faastui engine {(await self.info()).get('version', '?')}"

    async def invocations(self, limit: int = 50) -> list[Invocation]:
        data = await self._request("GET", "/faastui/v1/invocations", params={"limit": limit})
        return [Invocation.from_dict(d) for d in data]

    async def events(self, since: float = 0.0) -> list[dict]:
        return await self._request("GET", "/faastui/v1/events", params={"since": since})

    # ---- actions --------------------------------------------------------------------
    async def invoke(self, fn: str, payload: Any, node: str | None = None, *,
                     request: HttpRequest | None = None) -> Invocation:
        body, ctype, params = _call(payload, request)
        if node:
            params["node"] = node
        data = await self._request("POST", f"/faastui/v1/invoke/{fn}", content=body,
                                   content_type=ctype, params=params or None)
        return Invocation.from_dict(data)

    async def invoke_async(self, fn: str, payload: Any, *, request: HttpRequest | None = None) -> str:
        body, ctype, params = _call(payload, request)
        data = await self._request("POST", f"/faastui/v1/async/{fn}", content=body, content_type=ctype,
                                   params=params or None)
        return data["call_id"]

    async def result(self, call_id: str, wait: float = 0.0) -> Invocation:
        data = await self._request("GET", f"/faastui/v1/results/{call_id}",
                                   params={"wait": wait} if wait else None)
        return Invocation.from_dict(data)

    async def prewarm(self, fn: str, node: str | None, count: int = 1) -> list[Invocation]:
        data = await self._request("POST", "/faastui/v1/prewarm",
                                   json_body={"function": fn, "node": node, "count": count})
        return [Invocation.from_dict(d) for d in data]

    async def dispatch(self, input: Any, steps: list[DispatchStep], mode: str = "chain") -> DispatchResult:
        if not steps:
            raise InvalidRequest("a dispatch needs at least one step")
        data = await self._request("POST", "/faastui/v1/dispatch", json_body={
            "input": input, "mode": mode,
            "steps": [{"node": s.node, "function": s.function} for s in steps]})
        return DispatchResult.from_dict(data)

    async def fuse(self, functions: list[str], name: str | None = None) -> FusionGroup:
        data = await self._request("POST", "/faastui/v1/fuse",
                                   json_body={"functions": list(functions), "name": name})
        return FusionGroup.from_dict(data)

    async def unfuse(self, group: str) -> list[str]:
        data = await self._request("POST", "/faastui/v1/unfuse", json_body={"group": group})
        return list(data["functions"])

    async def scale(self, fn: str, replicas: int) -> Function:
        data = await self._request("POST", "/faastui/v1/scale",
                                   json_body={"function": fn, "replicas": replicas})
        return Function.from_dict(data)

    async def deploy(self, package: str | Path | bytes, *, name: str | None = None) -> Function:
        """A folder, a zip, or one function of an OpenFaaS stack file (``name`` picks it),
        in any format ``backends.formats`` reads; checked here before it is uploaded."""
        if isinstance(package, (str, Path)):
            from ..formats import upload  # deferred: only a deploy reads packages

            data, params = upload(Path(package), name)
        else:
            data, params = package, ({"name": name} if name else {})
        resp = await self._request("POST", "/faastui/v1/deploy", content=data,
                                   content_type="application/zip", params=params or None)
        return Function.from_dict(resp)

    async def deploy_source(self, source: str, *, name: str | None = None,
                            requirements: list[str] | None = None) -> Function:
        body = {"handler": source, "requirements": requirements or []}
        if name:
            body["id"] = name
        return Function.from_dict(await self._request("POST", "/faastui/v1/deploy", json_body=body))

    async def remove(self, fn: str) -> None:
        await self._request("DELETE", f"/faastui/v1/functions/{fn}")

    async def shutdown(self) -> None:
        await self._request("POST", "/faastui/v1/shutdown")

    # ---- a served API hosted by the engine (hosting.py) ------------------------------------
    async def host_api(self, spec: dict) -> dict:
        """Ask the engine to host a served API (``faastui serve``). Returns: {"id", "port"}.

        Raises: Unsupported when the engine is not on this machine or cannot host one (the
        caller then serves the API itself); the API's own errors (a port in use ...).
        """
        from urllib.parse import urlsplit

        host = urlsplit(self.url).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
            raise Unsupported(f"the engine at {self.url} is not on this machine")
        try:
            return await self._request("POST", "/faastui/v1/serve", json_body=spec)
        except NotFound:  # an engine from before hosting
            raise Unsupported("this engine cannot host served APIs") from None

    async def hosted_api(self, hosted_id: str, since: int = 0) -> dict:
        """A hosted API's notes from the ``since``-th on. Raises: NotFound once it is closed."""
        return await self._request("GET", f"/faastui/v1/serve/{hosted_id}",
                                   params={"since": since})

    async def unhost_api(self, hosted_id: str) -> None:
        """Close a hosted API (its calls in flight finish first)."""
        await self._request("DELETE", f"/faastui/v1/serve/{hosted_id}")


def _call(payload: Any, request: HttpRequest | None) -> tuple[bytes, str | None, dict]:
    """(body, content type, query parameters) of a /faastui/v1 call: the function's method,
    path, query and headers travel as parameters, its body as the request body."""
    body, ctype = encode_payload(payload)
    if payload is None:
        ctype = None  # no body, no content type (as curl and faas-cli send it)
    params: dict = {}
    if request is not None:
        headers = dict(request.headers)
        for key in [k for k in headers if k.lower() == "content-type"]:
            ctype = headers.pop(key)
        params = {"method": request.method, "path": request.path}
        if request.query:
            params["query"] = request.query
        if headers:
            params["headers"] = json.dumps(headers)
    return body, ctype, params

