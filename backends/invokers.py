"""InvokersBackend: an OpenFaaS gateway with node-targeted prewarm and chained dispatch.

The Invokers gateway adds three routes to OpenFaaS: ``GET /nodes`` →
``[{"NodeName", "ClusterIP"}]``, ``POST /prewarm`` ``{"nodes": [{"node",
"function", "warm"}]}`` and ``POST /dispatch`` ``{"input", "steps": [{"node",
"function"}]}`` → ``{"output", "results": [{"output", "coldStartDuration",
"runningDuration", "startAt", "endAt"}]}`` (durations in integer nanoseconds,
times RFC 3339). A node-targeted call is a one-step dispatch; a fan-out is
one-step dispatches in parallel.

With a cluster (the kube options of ``backends.openfaas``) nodes come from the Kubernetes
API instead of ``/nodes``, and the invoker's prewarmed pods (``prewarm=true``,
``function=<name>-pod``, pinned to a node) show as ``prewarm`` on their node, beside the
function pods; prewarm itself still goes through the gateway's ``/prewarm``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .base import Capability
from .errors import InvalidRequest
from .kube.records import epoch as _epoch
from .model import DispatchResult, DispatchStep, Invocation, Node
from .openfaas import OpenFaaSBackend

__all__ = ["InvokersBackend", "invocation_from_step"]


def _value(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def invocation_from_step(step: DispatchStep, data: dict, index: int = 0) -> Invocation:
    """A model Invocation from one Invokers ``results`` entry."""
    cold_ns = int(data.get("coldStartDuration") or 0)
    run_ns = int(data.get("runningDuration") or 0)
    return Invocation(
        call_id=f"dispatch-{index}",
        function=step.function,
        node=step.node,
        container_state="cold" if cold_ns > 0 else "warm",
        cold_start_ms=cold_ns / 1e6,
        duration_ms=run_ns / 1e6,
        status="ok",
        result=_value(data.get("output")),
        started_at=_epoch(data.get("startAt")),
        ended_at=_epoch(data.get("endAt")),
    )


class InvokersBackend(OpenFaaSBackend):
    name = "invokers"
    capabilities = OpenFaaSBackend.capabilities | Capability.PREWARM | Capability.DISPATCH | Capability.NODE_TARGET

    async def nodes(self) -> list[Node]:
        if self.cluster is not None:
            return await self.cluster.nodes()
        data = await self._json("GET", "/nodes")
        return [Node(name=n.get("NodeName", ""), address=n.get("ClusterIP", "")) for n in data or []]

    async def prewarm(self, fn: str, node: str | None, count: int = 1) -> list[Invocation]:
        if count < 1:
            raise InvalidRequest("count must be >= 1")
        targets = [node] if node else [n.name for n in await self.nodes()]
        entries = [{"node": t, "function": fn, "warm": True} for t in targets for _ in range(count)]
        data = await self._json("POST", "/prewarm", json={"nodes": entries}) or {}
        results = data.get("results") if isinstance(data, dict) else None
        out = []
        for i, entry in enumerate(entries):
            got = results[i] if results and i < len(results) else {}
            out.append(
                Invocation(
                    call_id=f"prewarm-{i}",
                    function=fn,
                    node=entry["node"],
                    container_state="prewarm",
                    cold_start_ms=int(got.get("coldStartDuration") or 0) / 1e6,
                )
            )
        return out

    async def _dispatch_chain(self, input: Any, steps: list[DispatchStep]) -> DispatchResult:
        text = input if isinstance(input, str) else json.dumps(input)
        data = await self._json(
            "POST",
            "/dispatch",
            json={"input": text, "steps": [{"node": s.node, "function": s.function} for s in steps]},
        )
        results = data.get("results") or []
        return DispatchResult(
            output=_value(data.get("output")),
            mode="chain",
            steps=[invocation_from_step(s, r, i) for i, (s, r) in enumerate(zip(steps, results))],
        )

    async def dispatch(self, input: Any, steps: list[DispatchStep], mode: str = "chain") -> DispatchResult:
        if not steps:
            raise InvalidRequest("a dispatch needs at least one step")
        if mode == "chain":
            return await self._dispatch_chain(input, steps)
        if mode != "fanout":
            raise InvalidRequest(f"unknown dispatch mode {mode!r}; use chain or fanout")
        parts = await asyncio.gather(*(self._dispatch_chain(input, [s]) for s in steps))
        return DispatchResult(
            output=[p.output for p in parts], mode="fanout", steps=[p.steps[0] for p in parts if p.steps]
        )

    async def invoke(self, fn: str, payload: Any, node: str | None = None) -> Invocation:
        if not node:
            return await super().invoke(fn, payload)
        result = await self._dispatch_chain(payload if payload is not None else "", [DispatchStep(node, fn)])
        return result.steps[0]
