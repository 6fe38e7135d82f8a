"""`faastui bench FN --requests N -c C`: how fast is this function, from here.

Sends N calls with C in flight through the same ``Backend.invoke`` the other
commands use (``faastui.benchmark``, which the dashboard's ``b`` runs too), then
prints latency percentiles (client wall time), a histogram, throughput, errors and
the cold/prewarm/warm split.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from ..output import Format, emit, message
from ._common import NamespaceOpt, call, complete_function, complete_node
from .actions import read_payload

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None)


@app.command("bench")
def bench(fn: str = typer.Argument(..., help="Function name.", autocompletion=complete_function),
          n: int = typer.Option(100, "--requests", min=1,
                                help="Number of calls (-n is the namespace, as everywhere)."),
          c: int = typer.Option(4, "-c", "--concurrency", min=1, max=1024, help="Calls in flight."),
          data: Optional[str] = typer.Option(None, "--data", "-d", help="JSON payload or @FILE."),
          raw: bool = typer.Option(False, "--raw", help="Send --data as text, not JSON."),
          node: Optional[str] = typer.Option(None, "--node", help="Run on this node.",
                                             autocompletion=complete_node),
          output: Format = typer.Option(Format.table, "--output", "-o", help="table, json or yaml."),
          namespace: Optional[str] = NamespaceOpt):
    """A load generator: latency percentiles, histogram, throughput, errors, cold/warm split."""
    from ..benchmark import histogram, run

    payload = read_payload(data, raw) if data is not None else None
    result = call(lambda b: run(b, fn, n, c, payload, node))
    report = result.report()
    if output in (Format.json, Format.yaml):
        emit(report, output)
    else:
        lat = report["latency_ms"]
        out = sys.stdout
        out.write(f"{fn}: {report['calls']} calls, concurrency {result.concurrency}, "
                  f"{report['wall_s']:.2f} s, {report['throughput_per_s']:.1f} calls/s, "
                  f"{report['errors']} errors\n")
        out.write("latency ms  " + "  ".join(f"{k} {v:.2f}" for k, v in lat.items()) + "\n")
        out.write("containers  " + "  ".join(f"{s} {v['count']} (p50 {v['p50_ms']:.2f} ms)"
                                             for s, v in report["by_state"].items()) + "\n")
        for line in histogram([lat for lat, _ in result.latencies]):
            out.write(line + "\n")
        for f in report["failures"]:
            message(f"failure: {f}")
    if report["errors"]:
        raise typer.Exit(1)
