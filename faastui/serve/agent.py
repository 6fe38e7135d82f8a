"""``faastui serve agent``: the radical faas agent's REST API, over any backend that deploys
handler source (local, knative, nuclio).

Routes, texts and status codes as the agent's (COMPAT.md section 4)::

    GET  /health     -> {"status": "healthy", "platform", "workflow": "local"}
    POST /deploy     {"id"?, "handler", "requirements"?} -> {"id", "image", "status":
                     "deployed", "platform", "endpoint"}; 400 {"error": "handler field is
                     required"} or the reason the source is refused; 500 {"error":
                     "deployment failed: ..."}
    POST /invoke     {"id", "payload"?} -> {"result", "status": "success", "execution_time"
                     (seconds), "platform"}; 400 {"error": "id field is required"}, 404 an
                     unknown id, 500 {"error": "function invocation failed: ..."}
    GET  /functions  -> {"functions": [{"id", "image", "ready", "state", "platform"}]}
    POST /delete     {"id"} -> {"status": "deleted", "platform", "function_id"}

The handler is called the agent's way: ``handle(req)`` gets the payload itself, a dict for a
JSON object, a str for a string (faastui's own ``handle(req)`` gets the body text, so the
source is deployed with a few lines added that decode it first: ``with_agent_entry``).
Other entry signatures the engine knows (``main(args)``, ``handler(context, event)`` ...)
deploy unchanged.

Fixed from the agent: it wires only Knative whatever its settings say (here: the context's
backend, whichever it is); it wraps a result twice (``{"result": {"result": "Hello"}}``;
here ``result`` is the handler's return value, a JSON value or text); it answers 500 for
an unknown function (here 404) and for a body that is not a JSON object (here 400, and for
source that does not compile, with the line). ``/functions`` lists every function of the
backend (the agent lists those it labelled).
"""

from __future__ import annotations

import json
import re
import time
import uuid

from backends.agent import prepare
from backends.base import Capability
from backends.errors import BackendError, FunctionNotFound, InvalidRequest, NotFound
from backends.model import Function

from .http import BadBody, HttpApi, Request, Response, Router, json_answer, json_object

__all__ = ["AgentApi", "with_agent_entry", "AGENT_ENTRY"]

#: appended to a source whose ``handle`` takes one argument: ``handle`` then gets the decoded
#: JSON payload (the body is always JSON text: this API sends it so)
AGENT_ENTRY = """

# ---- added by faastui serve agent: handle(req) gets the payload itself, as the agent's does
def _faastui_agent_entry(inner):
    def handle(req):
        import json as _json
        if isinstance(req, (bytes, bytearray)):
            req = bytes(req).decode("utf-8", "replace")
        if isinstance(req, str):
            try:
                req = _json.loads(req) if req.strip() else {}
            except ValueError:
                pass  # not JSON (a call from elsewhere): the text as it came
        return inner(req)
    handle.__doc__, handle.__wrapped__ = inner.__doc__, inner
    return handle


if getattr(getattr(handle, "__code__", None), "co_argcount", 0) == 1:
    handle = _faastui_agent_entry(handle)
"""
_DEFINES_HANDLE = re.compile(r"^(async\s+)?def handle\s*\(", re.M)


def with_agent_entry(source: str) -> str:
    """``source`` with AGENT_ENTRY appended when it defines ``handle`` (else unchanged)."""
    if not _DEFINES_HANDLE.search(source):
        return source
    return source.rstrip("\n") + "\n" + AGENT_ENTRY


def _requirements(value) -> list[str]:
    """requirements.txt text (or a list) -> one requirement a line, comments dropped."""
    if value is None:
        return []
    lines = value.splitlines() if isinstance(value, str) else value
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise InvalidRequest("requirements must be requirements.txt text (or a list of lines)")
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


def _error(text: str, status: int) -> Response:
    return json_answer({"error": text}, status)


def _takes_json(route):
    """A route that takes a JSON object body: ``route(self, data)``; a body that is not one,
    or a BadBody the route raises, is 400 with the reason."""

    async def handle(self, req: Request) -> Response:
        try:
            return await route(self, json_object(req))
        except BadBody as exc:
            return _error(str(exc), 400)

    handle.__name__, handle.__doc__ = route.__name__, route.__doc__
    return handle


def _id(data: dict) -> str:
    fid = data.get("id")
    if not fid:
        raise BadBody("id field is required")
    if not isinstance(fid, str):
        raise BadBody("id must be a string")
    return fid


class AgentApi(HttpApi):
    name = "agent"
    needs = Capability.DEPLOY_SOURCE | Capability.INVOKE | Capability.DEPLOY
    public = frozenset({"/health"})

    # ---- what the answers say about a function ------------------------------------------------
    def endpoint(self, fn: Function) -> str:
        """Where the function answers HTTP itself: Knative's URL, the engine's OpenFaaS route,
        else this server's /invoke."""
        url = fn.labels.get("knative/url")
        if url:
            return url
        base = getattr(self.backend, "url", None)
        if self.backend.name == "local" and base:
            return f"{base}/function/{fn.name}"
        return f"http://{self.options.display_host}:{self.port}/invoke"

    def ready(self, fn: Function) -> bool:
        """Can it take a call now: the platform says Ready (Knative), the embedded engine
        (it starts a container for a call), or a running replica."""
        said = fn.labels.get("knative/ready")
        if said is not None:
            return said == "True"
        return self.backend.name == "local" or fn.available_replicas > 0

    def describe_function(self, fn: Function) -> dict:
        ready = self.ready(fn)
        return {
            "id": fn.name,
            "image": fn.image or f"{fn.name}:latest",
            "ready": ready,
            "state": "ready" if ready else ("scaled to zero" if not fn.replicas else "not ready"),
            "platform": self.backend.name,
        }

    async def start(self) -> int:
        self.port = await super().start()
        return self.port

    # ---- routes ---------------------------------------------------------------------------
    def routes(self, router: Router) -> None:
        router.add("GET", "/health", self.health)
        router.add("POST", "/deploy", self.deploy)
        router.add("POST", "/invoke", self.invoke)
        router.add("GET", "/functions", self.functions)
        router.add("POST", "/delete", self.delete)

    async def health(self, req: Request) -> Response:
        return json_answer({"status": "healthy", "platform": self.backend.name, "workflow": "local"})

    @_takes_json
    async def deploy(self, data: dict) -> Response:
        source = data.get("handler")
        if not source:
            return _error("handler field is required", 400)
        fid = data.get("id") or f"func-{uuid.uuid4().hex[:8]}"
        try:
            if not isinstance(source, str):
                raise InvalidRequest("handler must be Python source text")
            if not isinstance(fid, str):
                raise InvalidRequest("id must be a string")
            reqs = _requirements(data.get("requirements"))
            checked = prepare(source, fid, reqs)  # name, size, compiles, requirements
        except InvalidRequest as exc:
            return _error(exc.message, 400)
        try:
            fn = await self.backend.deploy_source(
                with_agent_entry(checked.source), name=fid, requirements=list(checked.requirements)
            )
        except BackendError as exc:
            return _error(f"deployment failed: {exc.message}", 500)
        return json_answer(
            {
                "id": fid,
                "image": fn.image or f"{fid}:latest",
                "status": "deployed",
                "platform": self.backend.name,
                "endpoint": self.endpoint(fn),
            }
        )

    @_takes_json
    async def invoke(self, data: dict) -> Response:
        fid = _id(data)
        payload = data.get("payload", {})
        # JSON on the wire whatever the payload is, so the entry can give handle() the value
        body = payload if isinstance(payload, (dict, list)) else json.dumps(payload)
        t0 = time.perf_counter()
        try:
            inv = await self.backend.invoke(fid, body)
        except NotFound as exc:
            return _error(f"function invocation failed: {exc.message}", 404)
        except BackendError as exc:
            return _error(f"function invocation failed: {exc.message}", 500)
        took = time.perf_counter() - t0
        if inv.status != "ok":
            return _error(f"function invocation failed: {inv.error or inv.status}", 500)
        return json_answer(
            {"result": inv.result, "status": "success", "execution_time": took, "platform": self.backend.name}
        )

    async def functions(self, req: Request) -> Response:
        try:
            listed = await self.backend.functions()
        except BackendError as exc:
            return _error(f"function listing failed: {exc.message}", 500)
        return json_answer({"functions": [self.describe_function(f) for f in listed]})

    @_takes_json
    async def delete(self, data: dict) -> Response:
        fid = _id(data)
        try:
            await self.backend.remove(fid)
        except FunctionNotFound as exc:
            return _error(f"function deletion failed: {exc.message}", 404)
        except BackendError as exc:
            return _error(f"function deletion failed: {exc.message}", 500)
        return json_answer({"status": "deleted", "platform": self.backend.name, "function_id": fid})
