"""``faastui serve fusionizer``: the Nuclio Fusionizer's task API (default port 8000), over any
backend that deploys and invokes (fusing tasks needs one that fuses: local, nuclio).

Routes and texts as the Fusionizer's (COMPAT.md section 3), every answer text/plain::

    PUT    /{task}  multipart field zip_file (a task zip: function.yaml, the handler, local
                    modules) -> 200 "Successfully deployed Task '<task>'"
    DELETE /{task}  -> 200 "Successfully deleted Task '<task>'"
    GET    /{task}  -> 200 "Task '<task>':\\nCurrently deployed with other Tasks: <group>\\n
                    Status: <state>", the group as ['taska', 'taskb'], or None when alone
    POST   /{task}  optional JSON object -> 200 the task's answer as text (``str()`` of what
                    it returned: 8, not "8")

An unknown task is 422 "No Task '<task>' could be found"; other failures are 422 with the
reason (503 when the backend does not answer). A call reaches the task with the headers
``Task-Name`` and ``Fusionizer-Server-Address`` (``--address``, default the host the client
reached this server at), so a task calls another as ``http://{address}:8000/<other>``: in
its own group that call runs in-process; otherwise it comes back through this server (on
a port other than 8000, the engine's tasks are told it in ``Fusionizer-Server-Port``).

Fusion setups (``fusion_setup.py``): ``--schedule FILE`` follows the Fusionizer's static
optimizer file; ``--optimize [--every S]`` runs faastui's optimizer (``backends/fusionizer``)
on the backend's call graph every S seconds instead.

Fixed from the Fusionizer: a regroup deletes the old groups before the new ones are
deployed, about 10 s of failed calls (here the new group answers first and calls in flight
finish: no call fails); a setup deletes the tasks it does not name (here they run alone);
group names are the tasks' names run together, so two setups can collide (here the name
carries a digest of its members); deleting a fused task takes its group down (here the
others stay fused, or run alone); a body that is not a JSON object or a PUT without
``zip_file`` gets FastAPI's JSON (here one line of text, like every other answer).
"""

from __future__ import annotations

import asyncio
import json

from backends.base import Capability, HttpRequest
from backends.errors import BackendError, FunctionNotFound, InvalidRequest, Unreachable, Unsupported
from backends.fusionizer import optimize_every
from backends.model import Function

from . import fusion_setup
from .http import HttpApi, Request, Response, Router
from .multipart import BadForm, parse_form

__all__ = ["FusionizerApi", "UPSTREAM_PORT", "DEFAULT_EVERY_S"]

UPSTREAM_PORT = 8000  # what tasks write into their URLs
DEFAULT_EVERY_S = 30.0
SCHEDULE_POLL_S = 1.0  # how often a waiting setup looks for its tasks (besides each PUT)
TEXT = "text/plain; charset=utf-8"


def _text(body: str, status: int = 200) -> Response:
    return Response(status, body, TEXT)


def _not_found(task: str) -> Response:
    return _text(f"No Task '{task}' could be found", 422)


def _failed(exc: BackendError) -> Response:
    """A backend's failure: 422 with the reason (503 when it does not answer)."""
    return _text(exc.message, 503 if isinstance(exc, Unreachable) else 422)


def answer_text(result) -> str:
    """What the task answered, as the text the Fusionizer sends back."""
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    return json.dumps(result)


class FusionizerApi(HttpApi):
    name = "fusionizer"
    needs = Capability.INVOKE | Capability.DEPLOY | Capability.HTTP_REQUEST

    def __init__(self, backend, options):
        super().__init__(backend, options)
        settings = options.settings
        self.schedule = [fusion_setup.Entry.from_json(e) for e in settings.get("schedule") or []]
        self.optimize = bool(settings.get("optimize"))
        self.every = float(settings.get("every") or DEFAULT_EVERY_S)
        self.address = settings.get("address") or None
        self.port = 0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()

    # ---- life --------------------------------------------------------------------------------
    async def start(self) -> int:
        if (self.schedule or self.optimize) and Capability.FUSE not in self.backend.capabilities:
            raise Unsupported(
                f"the {self.backend.name} backend cannot fuse tasks, which "
                f"--{'schedule' if self.schedule else 'optimize'} needs",
                hint="serve over a context whose backend fuses (local, nuclio)",
            )
        if self.optimize:
            try:
                await self.backend.call_graph()  # what the optimizer reads
            except Unsupported as exc:
                raise Unsupported(
                    f"--optimize needs the calls between tasks: {exc.message}",
                    hint="--schedule FILE sets the groups instead",
                ) from None
        self.port = await super().start()
        if self.schedule:
            self._spawn(self._follow_schedule())
        if self.optimize:
            self._spawn(self._optimize_rounds())
        return self.port

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await super().stop()

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # a strong reference until it ends
        task.add_done_callback(self._tasks.discard)

    # ---- routes ------------------------------------------------------------------------------
    def unauthorized(self) -> Response:
        return _text("Missing or wrong bearer token", 401)

    def routes(self, router: Router) -> None:
        for method in ("PUT", "DELETE", "GET", "POST"):
            router.add(method, "/", self.no_task)
        router.add("PUT", "/{task}", self.deploy)
        router.add("DELETE", "/{task}", self.delete)
        router.add("GET", "/{task}", self.get)
        router.add("POST", "/{task}", self.invoke)
        for method in ("PATCH", "OPTIONS", "HEAD"):
            router.add(method, "/{task}", self.not_allowed)

    async def no_task(self, req: Request) -> Response:
        return _text("Not Found: name a Task, e.g. /taska", 404)

    async def not_allowed(self, req: Request) -> Response:
        return _text("Method Not Allowed: a Task takes PUT, DELETE, GET and POST", 405)

    async def deploy(self, req: Request) -> Response:
        task = req.params["task"]
        try:
            part = parse_form(req.headers.get("content-type", ""), req.body).get("zip_file")
        except BadForm as exc:
            return _text(f"Field 'zip_file' is required: {exc}", 422)
        if part is None:
            return _text(
                "Field 'zip_file' is required: upload the task's zip as "
                'multipart/form-data (curl -F "zip_file=@task.zip")',
                422,
            )
        if not part.data:
            return _text("Field 'zip_file' is empty: upload the task's zip", 422)
        try:
            await self.backend.deploy(part.data, name=task)
        except BackendError as exc:
            return _text(f"Failed to deploy Task '{task}': {exc.message}", 503 if isinstance(exc, Unreachable) else 422)
        self._wake.set()  # a setup may have waited for this task
        return _text(f"Successfully deployed Task '{task}'")

    async def delete(self, req: Request) -> Response:
        task = req.params["task"]
        try:
            fn = await self.backend.describe(task)
            if fn.fusion_group:  # the others stay fused (or run alone): a regroup without it
                await self._leave_group(task, fn.fusion_group)
            await self.backend.remove(task)
        except FunctionNotFound:
            return _not_found(task)
        except BackendError as exc:
            return _failed(exc)
        return _text(f"Successfully deleted Task '{task}'")

    async def _leave_group(self, task: str, group: str) -> None:
        members = next((g.functions for g in await self.backend.fusion_groups() if g.name == group), [])
        rest = [m for m in members if m != task]
        await self.backend.unfuse(group)
        if len(rest) >= 2:
            await self.backend.fuse(rest, fusion_setup.group_name(rest))

    async def get(self, req: Request) -> Response:
        task = req.params["task"]
        try:
            fn = await self.backend.describe(task)
            group = None
            if fn.fusion_group:
                group = next(
                    (list(g.functions) for g in await self.backend.fusion_groups() if g.name == fn.fusion_group), None
                )
        except FunctionNotFound:
            return _not_found(task)
        except BackendError as exc:
            return _failed(exc)
        shown = str(group) if group and len(group) > 1 else "None"
        return _text(f"Task '{task}':\nCurrently deployed with other Tasks: {shown}\nStatus: {self.status(fn)}")

    async def invoke(self, req: Request) -> Response:
        task = req.params["task"]
        payload: object = b""
        if req.body.strip():
            try:
                payload = json.loads(req.body)
            except (ValueError, UnicodeDecodeError) as exc:
                return _text(f"The request body is not valid JSON: {exc}", 422)
            if not isinstance(payload, dict):
                return _text(
                    f"The request body must be a JSON object of the Task's arguments, not {type(payload).__name__}", 422
                )
        try:
            inv = await self.backend.invoke(task, payload, request=self.task_request(task, req))
        except FunctionNotFound:
            return _not_found(task)
        except BackendError as exc:
            return _failed(exc)
        if inv.status != "ok":
            return _text(f"Failed to invoke Task '{task}': {inv.error or inv.status}", 422)
        return _text(answer_text(inv.result))

    # ---- what a task gets and what GET says --------------------------------------------------
    def server_address(self, req: Request) -> str:
        """``--address``, else the host the client reached this server at (no port)."""
        if self.address:
            return self.address
        host = req.headers.get("host", "").strip()
        if host.startswith("["):
            return host[: host.index("]") + 1] if "]" in host else host
        if host:
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        fallback = self.options.host
        return "127.0.0.1" if fallback in ("0.0.0.0", "::", "") else self.options.display_host

    def task_request(self, task: str, req: Request) -> HttpRequest:
        headers = {
            "Content-Type": "application/json",
            "Task-Name": task,
            "Fusionizer-Server-Address": self.server_address(req),
        }
        if self.port and self.port != UPSTREAM_PORT:
            headers["Fusionizer-Server-Port"] = str(self.port)
        return HttpRequest("POST", "/", "", headers)

    def status(self, fn: Function) -> str:
        """The state of what serves the task: the platform's own word where it has one
        (Nuclio's ``ready``, ``building`` ...), else ready when it can take a call now."""
        said = fn.labels.get("faastui.io/state")
        if said:
            return said
        knative = fn.labels.get("knative/ready")
        if knative is not None:
            return "ready" if knative == "True" else "not ready"
        if self.backend.name == "local" or fn.available_replicas > 0:
            return "ready"
        return "scaled to zero" if not fn.replicas else "not ready"

    # ---- setups ------------------------------------------------------------------------------
    async def _follow_schedule(self) -> None:
        """Form each entry's groups at its time, once all its tasks are deployed."""
        loop = asyncio.get_running_loop()
        started, applied, said = loop.time(), -1, ""
        while True:
            now = loop.time() - started
            due = max((i for i, e in enumerate(self.schedule) if e.at <= now), default=-1)
            if due > applied:
                entry = self.schedule[due]
                try:
                    deployed = {f.name for f in await self.backend.functions()}
                    missing = sorted(entry.tasks - deployed)
                    if missing:
                        text = f"the setup at {entry.at:g} s waits for {', '.join(missing)} to be deployed"
                    else:
                        steps = await fusion_setup.regroup(self.backend, list(entry.groups))
                        applied = due
                        text = f"applied the setup at {entry.at:g} s: {[list(g) for g in entry.groups]}" + (
                            f" ({'; '.join(map(str, steps))})" if steps else " (already in place)"
                        )
                except BackendError as exc:
                    text = f"the setup at {entry.at:g} s failed: {exc.message}; trying again"
                if text != said:
                    self.note(text)
                    said = text
            if applied == len(self.schedule) - 1:
                return
            upcoming = self.schedule[applied + 1 :] if due <= applied else []
            timeout = SCHEDULE_POLL_S if due > applied else upcoming[0].at - now
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, timeout))
            except TimeoutError:
                pass

    async def _optimize_rounds(self) -> None:
        async def on_round(n, plan):
            if plan.done:
                self.note(f"optimizer round {n}: {'; '.join(map(str, plan.done))}")

        async def on_error(n, exc):
            self.note(f"optimizer round {n} failed: {exc.message}")

        try:
            await optimize_every(
                self.backend, self.every, apply=True, on_round=on_round, on_error=on_error, max_failures=10
            )
        except (BackendError, InvalidRequest) as exc:
            self.note(f"the optimizer stopped: {exc.message}")
