"""APIs hosted inside the engine daemon: what ``faastui serve NAME`` over the embedded engine
asks for, so the served API is one hop from the workers instead of two.

Routes (added to the engine's ``/faastui/v1`` API by ``add_routes``)::

    POST   /faastui/v1/serve       {"api", "host", "port", "token", "context", "settings",
                                    "owner_pid"} -> 201 {"id", "api", "port"}
    GET    /faastui/v1/serve/{id}  ?since=N -> {"id", "api", "port", "notes": [...], "next"},
                                   and "closed": <why> once the engine closed it
    DELETE /faastui/v1/serve/{id}  -> {"closed": id} once calls in flight finished

The API itself is the face's (``faastui.serve``): the engine loads it by the name in
``HOST_TARGET`` when the first one is opened, so ``backends`` keeps no import of
``faastui`` and an engine without it says Unsupported (``faastui serve`` then runs the API
in its own process, as it does for other backends). The API gets an ``InProcessBackend``:
Backend methods only, answered by this engine without the HTTP hop.

An API lives as long as the ``faastui serve`` process that opened it: that process polls
its notes (lines it prints) every half second and closes it on SIGINT/SIGTERM; the engine
closes it itself when the owner's pid is gone or it has not polled for ``ORPHAN_S``
seconds, and closes all of them when the engine stops.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import time

from ..errors import BackendError, InvalidRequest, NotFound, Unsupported
from .control import pid_alive
from .httpserver import Request, Router, json_response
from .inprocess import InProcessBackend

__all__ = ["Hosting", "add_routes", "HOST_TARGET", "close_hosted", "ENGINE_STOPPED"]

#: module:function of the faces' side (faastui/serve/hosted.py), loaded by name
HOST_TARGET = "faastui.serve.hosted:open_api"
ORPHAN_S = 15.0
ENGINE_STOPPED = "the engine stopped"
WATCH_S = 1.0
MAX_NOTES = 500


def _owner_alive(pid: int) -> bool:
    return pid <= 0 or pid_alive(pid)  # 0: not given, the poll timeout alone decides


class _Hosted:
    __slots__ = ("id", "api", "opened", "owner_pid", "seen", "notes", "dropped")

    def __init__(self, hosted_id: str, api: str, opened, owner_pid: int):
        self.id, self.api, self.opened, self.owner_pid = hosted_id, api, opened, owner_pid
        self.seen = time.monotonic()
        self.notes: list[str] = []
        self.dropped = 0  # notes dropped from the front (bounded)


class Hosting:
    """The APIs this engine hosts."""

    def __init__(self, engine, router: Router):
        self.engine = engine
        self.router = router
        self.hosted: dict[str, _Hosted] = {}
        self.closed: dict[str, tuple[_Hosted, str]] = {}  # the last ones closed, and why
        self._ids = itertools.count(1)
        self._watcher: asyncio.Task | None = None
        self._open = None

    def _opener(self):
        if self._open is None:
            module, _, func = HOST_TARGET.partition(":")
            try:
                self._open = getattr(importlib.import_module(module), func)
            except ImportError as exc:
                raise Unsupported(
                    f"this engine cannot host served APIs ({exc})", hint="faastui serve runs the API in its own process"
                ) from None
        return self._open

    async def open(self, spec: dict) -> dict:
        if not isinstance(spec.get("api"), str) or not isinstance(spec.get("port", 0), int):
            raise InvalidRequest("'api' (a name) and 'port' (a number) are required")
        hosted_id = f"{spec['api']}-{next(self._ids)}"
        entry = _Hosted(hosted_id, spec["api"], None, int(spec.get("owner_pid") or 0))
        entry.opened = await self._opener()(
            InProcessBackend(self.engine, self.router), spec, lambda text: self._note(entry, text)
        )
        self.hosted[hosted_id] = entry
        self.engine.event("serve", api=entry.api, id=hosted_id, port=entry.opened.port)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return {"id": hosted_id, "api": entry.api, "port": entry.opened.port}

    def _note(self, entry: _Hosted, text: str) -> None:
        entry.notes.append(text)
        if len(entry.notes) > MAX_NOTES:
            del entry.notes[0]
            entry.dropped += 1

    def get(self, hosted_id: str, since: int = 0) -> dict:
        entry, why = self.hosted.get(hosted_id), None
        if entry is None:
            entry, why = self.closed.get(hosted_id, (None, None))
            if entry is None:
                raise NotFound(f"no served API {hosted_id!r} in this engine")
        entry.seen = time.monotonic()
        start = max(0, since - entry.dropped)
        out = {
            "id": entry.id,
            "api": entry.api,
            "port": entry.opened.port,
            "notes": entry.notes[start:],
            "next": entry.dropped + len(entry.notes),
        }
        if why is not None:
            out["closed"] = why
        return out

    async def close(self, hosted_id: str, why: str = "closed") -> None:
        entry = self.hosted.pop(hosted_id, None)
        if entry is None:
            raise NotFound(f"no served API {hosted_id!r} in this engine")
        try:
            await entry.opened.stop()
        finally:
            self.closed[hosted_id] = (entry, why)
            while len(self.closed) > 32:
                del self.closed[next(iter(self.closed))]
            self.engine.event("serve", api=entry.api, id=hosted_id, closed=why)

    async def close_all(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        for hosted_id in list(self.hosted):
            try:
                await self.close(hosted_id, ENGINE_STOPPED)
            except BackendError:
                pass

    async def _watch(self) -> None:
        while self.hosted:
            await asyncio.sleep(WATCH_S)
            now = time.monotonic()
            for entry in list(self.hosted.values()):
                if not _owner_alive(entry.owner_pid) or now - entry.seen > ORPHAN_S:
                    try:
                        await self.close(entry.id, "its faastui serve process is gone")
                    except Exception as exc:  # keep watching the others; say what happened
                        self.engine.event("error", error=f"closing {entry.id}: {exc!r}")


def add_routes(router: Router, engine) -> Hosting:
    """The three hosting routes on ``router`` (the engine's, with auth as it has)."""
    hosting = Hosting(engine, router)
    engine.hosting = hosting
    base = "/faastui/v1/serve"

    def guarded(fn):
        async def route(req: Request):
            try:
                return await fn(req)
            except BackendError as exc:
                return json_response(exc.to_dict(), exc.http_status)

        return route

    async def open_route(req: Request):
        try:
            spec = req.json()
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        if not isinstance(spec, dict):
            raise InvalidRequest("the request body must be a JSON object")
        return json_response(await hosting.open(spec), 201)

    async def get_route(req: Request):
        since = req.query.get("since", "0")
        return json_response(hosting.get(req.params["id"], int(since) if since.isdigit() else 0))

    async def close_route(req: Request):
        await hosting.close(req.params["id"])
        return json_response({"closed": req.params["id"]})

    router.add("POST", base, guarded(open_route))
    router.add("GET", base + "/{id}", guarded(get_route))
    router.add("DELETE", base + "/{id}", guarded(close_route))
    return hosting


async def close_hosted(engine) -> None:
    """Close every API ``engine`` hosts (calls in flight finish); for the daemon's stop."""
    hosting = getattr(engine, "hosting", None)
    if hosting is not None:
        await hosting.close_all()
