"""`faastui optimize-fusion`: regroup fusion groups from the observed call graph.

A dry run by default: it prints the target groups and the steps (unfuse, fuse)
that would get there. ``--apply`` runs the steps through the same
``Backend.unfuse``/``Backend.fuse`` as `faastui unfuse`/`faastui fuse` and prints
what was done. ``--every SECONDS`` keeps going (``backends.fusionizer.optimize_every``):
a round every SECONDS, the first judged on all calls so far, each later one on
the calls since the round before, until ``--rounds`` are done or Ctrl-C. Each
round prints a one-line summary (stdout for tables, stderr for json/yaml) and,
when it changes something, the tables; ``-o json`` prints one JSON object per
round per line (JSON Lines, with a ``round`` key), ``-o yaml`` one document per
round. The planning itself is ``backends.fusionizer``.
"""

from __future__ import annotations

from typing import Optional

import typer

from ..output import Format, dump, emit, message, no_color, stdout_console
from ._common import NamespaceOpt, OutputOpt, call, current_context, handle_errors, usage_error

__all__ = ["app", "plan_tables"]

app = typer.Typer(rich_markup_mode=None)


def plan_tables(plan) -> list:
    """Rich tables of a Plan: the target groups, then the steps (or the steps done)."""
    from rich import box  # deferred: only table output pays for rich
    from rich.table import Table

    def table(title: str, headers: list[str]) -> Table:
        t = Table(
            box=box.SIMPLE_HEAD,
            title=title,
            title_justify="left",
            pad_edge=False,
            header_style="bold" if not no_color() else None,
            show_edge=False,
        )
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


def _round_line(round_no: int, plan, since: Optional[int]) -> str:
    """One line for a round of ``--every``: what it judged and what it did."""
    judged = "all calls so far" if since is None else f"calls since round {since}"
    if plan.empty:
        did = "nothing to change"
    elif plan.applied:
        did = f"applied {len(plan.done)} step(s): " + "; ".join(map(str, plan.done))
    else:
        did = f"dry run, {len(plan.steps)} step(s): " + "; ".join(map(str, plan.steps))
    kept = sum(g.status == "keep" for g in plan.groups)
    extra = "".join(
        [f", {kept} group(s) kept" if kept else "", f", {len(plan.skipped)} edge(s) skipped" if plan.skipped else ""]
    )
    return f"round {round_no} ({judged}): {did}{extra}"


def _every(every: float, rounds: Optional[int], apply: bool, knobs: dict, output: Format) -> None:
    """``--every``: rounds until ``rounds`` are done or Ctrl-C (exit 0)."""
    import asyncio  # deferred, as in _common.call
    import json
    import sys

    from backends.fusionizer import optimize_every  # deferred: only this command plans

    shown, last = 0, None  # rounds shown; the last good round (the next window starts there)
    console = stdout_console() if output in (Format.table, Format.wide) else None

    def on_round(round_no: int, plan) -> None:
        nonlocal shown, last
        line = _round_line(round_no, plan, last)
        shown, last = shown + 1, round_no
        doc = {"round": round_no, **plan.to_dict()}
        if output == Format.json:  # JSON Lines: one object per round, ready for a pipe
            sys.stdout.write(json.dumps(doc, default=str) + "\n")
        elif output == Format.yaml:
            sys.stdout.write("---\n" + dump(doc, output))
        sys.stdout.flush()
        if console is None:
            message(line)
        else:
            console.print(line, markup=False, highlight=False)
            for t in plan_tables(plan) if plan.steps else []:
                console.print(t)
        if plan.steps:  # the notes repeat every round; show them when it acts
            for note in plan.skipped:
                message(f"skipped {note}")

    def on_error(round_no: int, exc) -> None:
        message(f"round {round_no} failed: {exc.message} (trying again in {every:g}s)")

    async def main():
        backend = current_context().build_backend()
        try:
            await optimize_every(backend, every, rounds, apply=apply, on_round=on_round, on_error=on_error, **knobs)
        finally:
            await backend.aclose()

    with handle_errors():
        try:
            asyncio.run(main())
        except KeyboardInterrupt:  # Ctrl-C is how a run without --rounds ends
            message(f"stopped after {shown} round{'' if shown == 1 else 's'}")


@app.command("optimize-fusion")
def optimize_fusion(
    apply: bool = typer.Option(False, "--apply", help="Carry the plan out (default: dry run)."),
    min_calls: int = typer.Option(10, "--min-calls", help="Fuse along edges with at least N calls."),
    min_share: float = typer.Option(
        0.6, "--min-share", help="Only edges carrying at least this share of the callee's calls."
    ),
    max_size: int = typer.Option(4, "--max-size", help="At most N functions per group."),
    max_memory: Optional[float] = typer.Option(
        None, "--max-memory", help="At most this many MB per group (default: the largest node)."
    ),
    unfuse_idle: bool = typer.Option(
        False,
        "--unfuse-idle",
        help="Also split groups whose members no longer call each other (with --every: in the last window).",
    ),
    every: Optional[float] = typer.Option(
        None,
        "--every",
        metavar="SECONDS",
        help="Keep optimizing: a round every SECONDS, each judged on the calls since the "
        "round before (the first on all calls so far); until --rounds or Ctrl-C. "
        "-o json prints one JSON object per round per line.",
    ),
    rounds: Optional[int] = typer.Option(None, "--rounds", metavar="N", help="With --every: stop after N rounds."),
    output: Format = OutputOpt,
    namespace: Optional[str] = NamespaceOpt,
):
    """Plan fusion groups from the call graph (dry run); --apply regroups; --every repeats.

    With --every, each round judges only the calls made since the round before, so
    an edge that has gone quiet stops counting and new traffic is fused as it comes.
    """
    if min_calls < 1:
        raise usage_error("--min-calls must be at least 1")
    if not 0.0 < min_share <= 1.0:
        raise usage_error("--min-share must be above 0 and at most 1", hint="e.g. --min-share 0.8")
    if max_size < 2:
        raise usage_error("--max-size must be at least 2")
    if every is not None and not every > 0:
        raise usage_error("--every must be above 0 seconds", hint="e.g. --every 30")
    if rounds is not None and rounds < 1:
        raise usage_error("--rounds must be at least 1")
    if rounds is not None and every is None:
        raise usage_error("--rounds needs --every", hint="e.g. --every 30 --rounds 10")
    from ..actions import Optimize

    spec = Optimize(
        apply=apply,
        min_calls=min_calls,
        min_share=min_share,
        max_size=max_size,
        max_memory_mb=max_memory,
        unfuse_idle=unfuse_idle,
    )
    if output == Format.name:
        raise usage_error("a fusion plan has no names; use -o json or yaml")
    if every is not None:  # a loop of rounds, not one action: the same knobs, round after round
        return _every(every, rounds, apply, spec.knobs(), output)
    plan = call(spec.run)
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
