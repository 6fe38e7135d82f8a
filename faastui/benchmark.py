"""A short load test of one function, for both faces: `faastui bench FN` and ``b`` in the
dashboard (as k9s benchmarks a service).

``run(backend, fn, calls=N, concurrency=C)`` sends N calls with C in flight through the
same ``Backend.invoke`` every other face uses, timing each on the client's clock (the
wall time a caller sees, network and queueing included). ``summarize`` makes the report
(percentiles, throughput, errors, the cold/prewarm/warm split); ``histogram`` the
latency histogram over log-spaced buckets, as text lines both faces print. No rich, no
textual, no typer.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backends.errors import InvalidRequest, Unreachable

__all__ = ["BenchRun", "run", "summarize", "histogram", "buckets", "MAX_CONCURRENCY"]

MAX_CONCURRENCY = 1024


@dataclass
class BenchRun:
    """What one bench measured: (ms, Invocation) per answered call, the failures' messages,
    the wall time of the whole run."""

    function: str
    calls: int
    concurrency: int
    latencies: list[tuple[float, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def done(self) -> int:
        return len(self.latencies) + len(self.failures)

    def report(self) -> dict:
        return summarize(self.latencies, self.wall_s, self.failures)


def check(calls: int, concurrency: int) -> None:
    """Raises: InvalidRequest for a count or a concurrency out of range."""
    if calls < 1:
        raise InvalidRequest(f"a bench needs at least one call, not {calls}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidRequest(f"concurrency must be 1..{MAX_CONCURRENCY}, not {concurrency}")


async def run(
    backend,
    fn: str,
    calls: int = 100,
    concurrency: int = 4,
    payload: Any = None,
    node: str | None = None,
    progress: Callable[[BenchRun], None] | None = None,
) -> BenchRun:
    """Send ``calls`` calls of ``fn``, ``concurrency`` at a time; ``progress(run)`` after each.

    A failed call (an error answer, or a BackendError other than Unreachable) is a data
    point; an unreachable backend ends the run. Raises: FunctionNotFound (checked first,
    with ``describe``), InvalidRequest, Unreachable.
    """
    check(calls, concurrency)
    await backend.describe(fn)  # fail fast on an unknown function
    result = BenchRun(fn, calls, min(concurrency, calls))
    todo = iter(range(calls))

    async def worker():
        for _ in todo:
            t0 = time.perf_counter()
            try:
                inv = await backend.invoke(fn, payload, node=node)
            except Unreachable:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed call is a data point
                text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                result.failures.append(text)
            else:
                result.latencies.append(((time.perf_counter() - t0) * 1000, inv))
            if progress is not None:
                progress(result)

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(result.concurrency)))
    finally:
        result.wall_s = time.perf_counter() - t0
    return result


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def _r(v: float) -> float:
    return round(v, 3)


def summarize(latencies: list[tuple[float, Any]], wall_s: float, failures: list[str]) -> dict:
    """The bench report as data: ``latencies`` are (ms, Invocation) pairs."""
    ms = sorted(lat for lat, _ in latencies)
    by_state: dict[str, list[float]] = {}
    errors = len(failures)
    for lat, inv in latencies:
        by_state.setdefault(inv.container_state or "?", []).append(lat)
        if inv.status != "ok":
            errors += 1
    total = len(latencies) + len(failures)
    return {
        "calls": total,
        "ok": total - errors,
        "errors": errors,
        "wall_s": round(wall_s, 4),
        "throughput_per_s": round(total / wall_s, 1) if wall_s else 0.0,
        "latency_ms": {
            "min": _r(ms[0] if ms else 0),
            "p50": _r(_pct(ms, 50)),
            "p90": _r(_pct(ms, 90)),
            "p95": _r(_pct(ms, 95)),
            "p99": _r(_pct(ms, 99)),
            "max": _r(ms[-1] if ms else 0),
            "mean": _r(statistics.fmean(ms) if ms else 0),
        },
        "by_state": {s: {"count": len(v), "p50_ms": _r(statistics.median(v))} for s, v in sorted(by_state.items())},
        "histogram": [{"from_ms": _r(lo), "to_ms": _r(hi), "count": n} for lo, hi, n in buckets(ms)],
        "failures": sorted(set(failures))[:5],
    }


def buckets(values: list[float], n: int = 10) -> list[tuple[float, float, int]]:
    """(from ms, to ms, count) over ``n`` log-spaced buckets from the least to the greatest."""
    if not values:
        return []
    lo, hi = max(min(values), 1e-3), max(values)
    if hi <= lo * 1.0001:
        return [(lo, hi, len(values))]
    edges = [lo * (hi / lo) ** (i / n) for i in range(n + 1)]
    counts = [0] * n
    scale = math.log(hi / lo)
    for v in values:
        counts[min(n - 1, max(0, int(math.log(max(v, lo) / lo) / scale * n)))] += 1
    return [(edges[i], edges[i + 1], c) for i, c in enumerate(counts)]


def histogram(values: list[float], n: int = 10, width: int = 40, bar: str = "#") -> list[str]:
    """The latency histogram as text: a line per bucket, ``from ms  ####  count``."""
    rows = buckets(values, n)
    top = max((c for _, _, c in rows), default=0)
    return [
        f"{lo:9.2f} ms  {bar * (max(1 if c else 0, round(c / top * width)) if top else 0):<{width}} {c}"
        for lo, _, c in rows
    ]
