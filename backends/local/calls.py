"""Calls beyond one synchronous invoke: the call outcome, async calls and dispatch.

``CallOutcome`` is what ``Engine.invoke`` returns: the ``Invocation`` fields
plus the raw output. ``CallsMixin`` gives the engine async calls (a call id,
the result kept in Redis until fetched or expired) and dispatch (a chain, each
output feeding the next step, or a fan-out).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from ..errors import BackendError, InvalidRequest, NotFound, Unreachable
from ..model import Invocation

__all__ = ["CallOutcome", "CallsMixin", "RESULT_TTL_S"]

RESULT_TTL_S = 3600


class CallOutcome:
    """One finished call: the Invocation fields plus the raw output."""

    __slots__ = ("call_id", "function", "node", "container_state", "cold_start_ms",
                 "duration_ms", "overhead_ms", "status", "error", "started_at", "ended_at",
                 "output", "content_type", "http_status", "headers")

    def __init__(self, call_id: str, function: str):
        self.call_id = call_id
        self.function = function
        self.node = ""
        self.container_state = ""
        self.cold_start_ms = 0.0
        self.duration_ms = 0.0
        self.overhead_ms = 0.0
        self.status = "ok"
        self.error: str | None = None
        self.started_at = 0.0
        self.ended_at = 0.0
        self.output = b""
        self.content_type = "application/octet-stream"
        self.http_status = 200
        self.headers: list | None = None  # answer headers the handler set

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def result_value(self):
        if not self.output:
            return None
        if "json" in self.content_type:
            try:
                return json.loads(self.output)
            except ValueError:
                pass
        return self.output.decode("utf-8", "replace")

    def invocation(self, with_result: bool = True) -> Invocation:
        return Invocation(
            call_id=self.call_id, function=self.function, node=self.node,
            container_state=self.container_state, cold_start_ms=round(self.cold_start_ms, 3),
            duration_ms=round(self.duration_ms, 3), overhead_ms=round(self.overhead_ms, 3),
            status=self.status, result=self.result_value() if self.ok and with_result else None,
            error=self.error, started_at=self.started_at, ended_at=self.ended_at)


class CallsMixin:
    """Async calls and dispatch; mixed into ``Engine`` (uses its invoke, resolve, node)."""

    # ---- async calls --------------------------------------------------------------------
    async def invoke_async(self, fn: str, body: bytes, headers: dict | None = None) -> str:
        spec = self.resolve(fn)
        call_id = uuid.uuid4().hex
        await self._store(call_id, {"call_id": call_id, "function": spec.name,
                                    "status": "pending", "started_at": time.time()})
        fut = asyncio.get_running_loop().create_future()
        self.pending[call_id] = fut

        async def run():
            try:
                out = await self.invoke(spec.name, body, headers=headers, call_id=call_id)
                record = out.invocation().to_dict()
            except BackendError as exc:
                record = {"call_id": call_id, "function": spec.name, "status": "error",
                          "error": str(exc), "ended_at": time.time()}
            try:
                await self._store(call_id, record)
            finally:
                self.pending.pop(call_id, None)
                if not fut.done():
                    fut.set_result(record)

        self._spawn(run())
        return call_id

    async def _store(self, call_id: str, record: dict) -> None:
        if self.redis is None:
            raise Unreachable("async calls need Redis, and the engine has none")
        try:
            await self.redis.set(f"faastui:call:{call_id}", json.dumps(record, default=str),
                                 ex=RESULT_TTL_S)
        except Exception as exc:  # redis errors
            raise Unreachable(f"Redis: {exc}") from None

    async def result(self, call_id: str, wait: float = 0.0, keep: bool = False) -> dict:
        fut = self.pending.get(call_id)
        if fut is not None and wait > 0:
            try:
                await asyncio.wait_for(asyncio.shield(fut), wait)
            except asyncio.TimeoutError:
                pass
        if self.redis is None:
            raise Unreachable("async calls need Redis, and the engine has none")
        key = f"faastui:call:{call_id}"
        try:
            raw = await self.redis.get(key)
        except Exception as exc:
            raise Unreachable(f"Redis: {exc}") from None
        if raw is None:
            raise NotFound(f"no result for call {call_id!r}",
                           hint="it was fetched already, expired, or never existed")
        record = json.loads(raw)
        if record.get("status") != "pending" and not keep:
            await self.redis.delete(key)
        return record

    # ---- dispatch ------------------------------------------------------------------------
    async def dispatch(self, data: bytes, steps: list[tuple[str | None, str]],
                       mode: str = "chain") -> list[CallOutcome]:
        if not steps:
            raise InvalidRequest("a dispatch needs at least one step")
        if mode not in ("chain", "fanout"):
            raise InvalidRequest(f"unknown dispatch mode {mode!r}; use chain or fanout")
        for node, fn in steps:  # check the whole plan before running any of it
            self.resolve(fn)
            if node:
                self.node(node)
        if mode == "fanout":
            return list(await asyncio.gather(*(self.invoke(fn, data, node=node or None)
                                               for node, fn in steps)))
        outcomes = []
        for node, fn in steps:
            out = await self.invoke(fn, data, node=node or None)
            outcomes.append(out)
            if not out.ok:
                break
            data = out.output
        return outcomes
