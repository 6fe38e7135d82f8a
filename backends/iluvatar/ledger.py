"""What the Ilúvatar adapter remembers itself, since a worker lists no containers and keeps
no call history: the calls this client made, the containers they and its prewarms
imply (placements), and QoS over them (a Ledger, which IluvatarBackend holds).
"""

from __future__ import annotations

import collections
import dataclasses
import math
import time

from ..model import Function, Invocation, Placement, QoSStat

QOS_WINDOW_S = 60.0


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


class Ledger:
    """Client-side bookkeeping of IluvatarBackend: ``history`` (the latest calls, oldest
    first) and ``containers`` (fqdn -> Counter of prewarm/warm) on the node ``node_name``."""

    def __init__(self, node_name: str, *, keep: int = 1000):
        self.node_name = node_name
        self.history: collections.deque[Invocation] = collections.deque(maxlen=keep)
        self.containers: dict[str, collections.Counter] = {}

    def record(self, inv: Invocation) -> None:
        self.history.append(inv)
        counts = self.containers.setdefault(inv.function, collections.Counter())
        if inv.container_state == "prewarm":
            counts["prewarm"] = max(0, counts["prewarm"] - 1)
            counts["warm"] += 1
        elif inv.container_state == "cold":
            counts["warm"] += 1
        elif inv.container_state == "warm" and not counts["warm"]:
            counts["warm"] = 1

    def placements(self, functions: list[Function]) -> list[Placement]:
        out = []
        for fqdn in sorted({f.name for f in functions} | set(self.containers)):
            counts = self.containers.get(fqdn, collections.Counter())
            states = [s for s in ("prewarm", "warm") if counts[s] > 0]
            for state in states or ["cold"]:
                out.append(
                    Placement(function=fqdn, node=self.node_name, state=state, count=counts[state] if states else 0)
                )
        return out

    def qos(self) -> list[QoSStat]:
        since = time.time() - QOS_WINDOW_S
        calls: dict[str, list[Invocation]] = collections.defaultdict(list)
        for inv in self.history:
            if inv.ended_at >= since and inv.status != "pending":
                calls[inv.function].append(inv)
        out = []
        for fqdn, invs in sorted(calls.items()):
            latencies = sorted((i.ended_at - i.started_at) * 1000 if i.started_at else i.duration_ms for i in invs)
            out.append(
                QoSStat(
                    subject=fqdn,
                    window_s=QOS_WINDOW_S,
                    count=len(invs),
                    errors=sum(i.status != "ok" for i in invs),
                    p50_ms=_percentile(latencies, 0.50),
                    p95_ms=_percentile(latencies, 0.95),
                    p99_ms=_percentile(latencies, 0.99),
                    cold_ratio=sum(i.container_state == "cold" for i in invs) / len(invs),
                )
            )
        return out

    async def invocations(self, limit: int = 50) -> list[Invocation]:
        """This client's latest calls, newest first (results left out)."""
        latest = list(self.history)[-limit:] if limit > 0 else []
        return [dataclasses.replace(inv, result=None) for inv in reversed(latest)]
