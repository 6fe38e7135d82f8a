"""`faastui optimize-fusion`: regroup fusion groups from the observed call graph.

A dry run by default: it prints the target groups and the steps (unfuse, fuse)
that would get there. ``--apply`` runs the steps through the same
``Backend.unfuse``/``Backend.fuse`` as `faastui unfuse`/`faastui fuse` and prints
what was done. The planning itself is ``backends.fusionizer``.
"""

from __future__ import annotations

from typing import Optional

import typer

from ..output import Format, emit, message, no_color, stdout_console
from ._common import OutputOpt, call, usage_error

__all__ = ["app", "plan_tables"]

app = typer.Typer(rich_markup_mode=None)


def plan_tables(plan) -> list:
    """Rich tables of a Plan: the target groups, then the steps (or the steps done)."""
    from rich import box  # deferred: only table output pays for rich
    from rich.table import Table

    def table(title: str, headers: list[str]) -> Table:
        t = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False,
                  header_style="bold" if not no_color() else None, show_edge=False)
        for h in headers:
            t.add_column(h, no_wrap=h != "REASON")
        return t

    groups = table("target groups", ["GROUP", "FUNCTIONS", "MEMORY MB", "STATUS", "REASON"])
    for g in plan.groups:
        groups.add_row(g.name, ",".join(g.functions), f"{g.memory_mb:g}", g.status, g.reason)
    steps = plan.done if plan.applied else plan.steps
    done = table("done" if plan.applied else "steps", ["STEP", "GROUP", "FUNCTIONS", "REASON"])
    for s in steps:
        done.add_row(s.action, s.group, ",".join(s.functions), s.reason)
    return [groups, done] if steps else [groups]


@app.command("optimize-fusion")
def optimize_fusion(
        apply: bool = typer.Option(False, "--apply", help="Carry the plan out (default: dry run)."),
        min_calls: int = typer.Option(10, "--min-calls", help="Fuse along edges with at least N calls."),
        min_share: float = typer.Option(0.6, "--min-share",
                                        help="Only edges carrying at least this share of the callee's calls."),
        max_size: int = typer.Option(4, "--max-size", help="At most N functions per group."),
        max_memory: Optional[float] = typer.Option(
            None, "--max-memory", help="At most this many MB per group (default: the largest node)."),
        unfuse_idle: bool = typer.Option(False, "--unfuse-idle",
                                         help="Also split groups whose members no longer call each other."),
        output: Format = OutputOpt):
    """Plan fusion groups from the call graph (dry run); --apply regroups."""
    if min_calls < 1:
        raise usage_error("--min-calls must be at least 1")
    if not 0.0 < min_share <= 1.0:
        raise usage_error("--min-share must be above 0 and at most 1", hint="e.g. --min-share 0.8")
    if max_size < 2:
        raise usage_error("--max-size must be at least 2")
    knobs = {"min_calls": min_calls, "min_share": min_share, "max_size": max_size,
             "unfuse_idle": unfuse_idle}
    if max_memory is not None:
        knobs["max_memory_mb"] = max_memory

    async def run(b):
        from backends.fusionizer import optimize  # deferred: only this command plans

        return await optimize(b, apply=apply, **knobs)

    plan = call(run)
    if output in (Format.json, Format.yaml):
        emit(plan, output)
    else:
        console = stdout_console()
        for t in plan_tables(plan):
            console.print(t)
    for note in plan.skipped:
        message(f"skipped {note}")
    if plan.empty:
        message("nothing to change: the fusion groups already fit the call graph")
    elif apply:
        message(f"applied {len(plan.done)} step(s)")
    else:
        message(f"dry run: {len(plan.steps)} step(s); run again with --apply to carry them out")
