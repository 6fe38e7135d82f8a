"""`faastui bench FN -n N -c C`: how fast is this function, from here.

Sends N calls with C in flight through the same ``Backend.invoke`` the other
commands use, then prints latency percentiles (client wall time), a
histogram, throughput, errors and the cold/prewarm/warm split.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from typing import Any, Optional

import typer

from ..output import Format, emit, message
from ._common import call, complete_function, complete_node
from .actions import read_payload

__all__ = ["app", "summarize", "histogram"]

app = typer.Typer(rich_markup_mode=None)


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


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
        "calls": total, "ok": total - errors, "errors": errors,
        "wall_s": round(wall_s, 4), "throughput_per_s": round(total / wall_s, 1) if wall_s else 0.0,
        "latency_ms": {"min": _r(ms[0] if ms else 0), "p50": _r(_pct(ms, 50)), "p90": _r(_pct(ms, 90)),
                       "p95": _r(_pct(ms, 95)), "p99": _r(_pct(ms, 99)), "max": _r(ms[-1] if ms else 0),
                       "mean": _r(statistics.fmean(ms) if ms else 0)},
        "by_state": {s: {"count": len(v), "p50_ms": _r(statistics.median(v))} for s, v in sorted(by_state.items())},
        "failures": sorted(set(failures))[:5],
    }


def _r(v: float) -> float:
    return round(v, 3)


def histogram(values: list[float], buckets: int = 10, width: int = 40) -> list[str]:
    """Text histogram lines over log-spaced buckets."""
    if not values:
        return []
    lo, hi = max(min(values), 1e-3), max(values)
    if hi <= lo * 1.0001:
        return [f"{lo:9.2f} ms  {'#' * width} {len(values)}"]
    edges = [lo * (hi / lo) ** (i / buckets) for i in range(buckets + 1)]
    counts = [0] * buckets
    for v in values:
        i = min(buckets - 1, max(0, int(math.log(max(v, lo) / lo) / math.log(hi / lo) * buckets)))
        counts[i] += 1
    top = max(counts)
    return [f"{edges[i]:9.2f} ms  {'#' * max(1 if c else 0, round(c / top * width)):<{width}} {c}"
            for i, c in enumerate(counts)]


@app.command("bench")
def bench(fn: str = typer.Argument(..., help="Function name.", autocompletion=complete_function),
          n: int = typer.Option(100, "-n", "--requests", min=1, help="Number of calls."),
          c: int = typer.Option(4, "-c", "--concurrency", min=1, max=1024, help="Calls in flight."),
          data: Optional[str] = typer.Option(None, "--data", "-d", help="JSON payload or @FILE."),
          node: Optional[str] = typer.Option(None, "--node", help="Run on this node.",
                                             autocompletion=complete_node),
          output: Format = typer.Option(Format.table, "--output", "-o", help="table, json or yaml.")):
    """A load generator: latency percentiles, histogram, throughput, errors, cold/warm split."""
    payload = read_payload(data) if data is not None else None

    async def run(b):
        import asyncio

        from backends.errors import Unreachable

        latencies: list[tuple[float, Any]] = []
        failures: list[str] = []
        todo = iter(range(n))
        await b.describe(fn)  # fail fast on an unknown function

        async def worker():
            for _ in todo:
                t0 = time.perf_counter()
                try:
                    inv = await b.invoke(fn, payload, node=node)
                except Unreachable:
                    raise
                except Exception as exc:  # noqa: BLE001 - a failed call is a data point
                    failures.append(str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
                    continue
                latencies.append(((time.perf_counter() - t0) * 1000, inv))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(c, n))))
        return latencies, time.perf_counter() - t0, failures

    latencies, wall, failures = call(run)
    report = summarize(latencies, wall, failures)
    if output in (Format.json, Format.yaml):
        emit(report, output)
    else:
        lat = report["latency_ms"]
        out = sys.stdout
        out.write(f"{fn}: {report['calls']} calls, concurrency {min(c, n)}, {report['wall_s']:.2f} s, "
                  f"{report['throughput_per_s']:.1f} calls/s, {report['errors']} errors\n")
        out.write("latency ms  " + "  ".join(f"{k} {v:.2f}" for k, v in lat.items()) + "\n")
        out.write("containers  " + "  ".join(f"{s} {v['count']} (p50 {v['p50_ms']:.2f} ms)"
                                             for s, v in report["by_state"].items()) + "\n")
        for line in histogram([lat for lat, _ in latencies]):
            out.write(line + "\n")
        for f in report["failures"]:
            message(f"failure: {f}")
    if report["errors"]:
        raise typer.Exit(1)
