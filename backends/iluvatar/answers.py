"""How an Ilúvatar worker's answers read in faastui's terms: an InvokeResponse as an
Invocation (the worker's ``duration_us``, this client's overhead on top, a cold call's
start-up), the worker's refusals as errors of the BackendError tree (not registered ->
FunctionNotFound, not enough memory -> CapacityExceeded), and ``health`` + ``status`` as the
worker's Node. Pure translation: no calls are made here (those are ``protocol.py``'s)."""

from __future__ import annotations

import json

from ..errors import BackendError, CapacityExceeded, FunctionNotFound
from ..model import Invocation, Node
from .protocol import _error_text, container_state, messages

__all__ = ["invocation", "node_from", "not_registered", "refusal"]


def not_registered(address: str, fqdn: str) -> FunctionNotFound:
    """The error for ``fqdn`` not being registered on the worker at ``address``."""
    return FunctionNotFound(
        f"function {fqdn!r} is not registered on the Ilúvatar worker at {address}",
        hint="list them with `faastui functions`",
    )


def refusal(address: str, fqdn: str, message: str) -> BackendError | None:
    """The error for a worker's refusal message, or None for an invocation failure."""
    low = message.lower()
    if "not registered" in low:
        return not_registered(address, fqdn)
    if "memory" in low and ("not enough" in low or "insufficient" in low):
        return CapacityExceeded(
            f"the Ilúvatar worker at {address} has not enough memory for {fqdn}: {message}",
            hint="wait for calls to finish or free containers",
        )
    return None


def invocation(
    resp, *, call_id: str, fqdn: str, node: str, address: str, rtt_ms: float | None, started: float, ended: float
) -> Invocation:
    """The Invocation for an InvokeResponse ``resp`` from the worker at ``address`` (shown as
    ``node``); raises the refusal's error when the worker refused the call."""
    state = container_state(resp.container_state)
    duration_ms = resp.duration_us / 1000.0
    overhead_ms = max(0.0, rtt_ms - duration_ms) if rtt_ms is not None else 0.0
    common = dict(
        call_id=call_id,
        function=fqdn,
        node=node,
        container_state=state,
        duration_ms=duration_ms,
        overhead_ms=overhead_ms,
        cold_start_ms=overhead_ms if state == "cold" else 0.0,
        started_at=started,
        ended_at=ended,
    )
    if not resp.success:
        message = _error_text(resp.json_result)
        error = refusal(address, fqdn, message)
        if error is not None:
            raise error
        return Invocation(status="error", error=message, **common)
    try:
        result = json.loads(resp.json_result) if resp.json_result else None
    except ValueError:  # the worker hands back a function's error as plain text
        return Invocation(status="error", error=resp.json_result.strip(), **common)
    return Invocation(status="ok", result=result, **common)


def node_from(health, status, *, name: str, address: str, containers: int) -> Node:
    """The worker as a Node, from its HealthResponse and current (2025) StatusResponse.

    That status tells percentages, not sizes: memory in use (``used_mem_pct``) and CPU
    utilisation (``cpu_util``) go into labels, and cpus / memory_mb stay 0 (unknown).
    """
    healthy = health.status == messages().RpcHealthStatus.Value("HEALTHY")
    labels = {
        "kind": "iluvatar-worker",
        "cpu_queue_len": str(status.cpu_queue_len),
        "gpu_queue_len": str(status.gpu_queue_len),
        "running": str(status.num_running_funcs),
        "used_mem_pct": f"{status.used_mem_pct:.1f}",
        "cpu_util": f"{status.cpu_util:.1f}",
        "cpu_load_avg": f"{status.cpu_load_avg:.2f}",
    }
    if status.worker_name:
        labels["worker_name"] = status.worker_name
    return Node(name=name, address=address, ready=healthy, labels=labels, containers=containers)
