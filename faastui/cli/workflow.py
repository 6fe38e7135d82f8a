"""`faastui workflow run|status|stop`: the producer/worker/collector workflow.

``run`` starts the emitter, the collector and K workers as long-running
functions on the current context's backend (async invocations), keeps the
pool at its target (``--autoscale POLICY``, or ``faastui scale worker N`` /
the dashboard's ``s`` from elsewhere), shows progress bars on stderr, waits
until every task is collected and prints a summary (``-o json``: one object).
``--processes`` runs the loops as local processes instead (no engine needed
when the context names a Redis URL). ``status`` and ``stop`` work from any
terminal: the run's state lives in Redis.

Heavy imports (redis, rich, the workflow package) are deferred into the
commands so ``faastui --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..output import Format, emit, message
from ._common import IntervalOpt, OutputOpt, WatchOpt, call, handle_errors, usage_error

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None, help="Run and watch the queue workflow "
                  "(emitter -> workers -> collector over Redis).")

ROLES = ("emitter", "collector", "worker")


def _redis_url() -> str:
    """The workflow's Redis: the context's redis_url, else the engine's own."""
    from ._common import current_context

    ctx = current_context()
    if ctx.redis_url:
        return ctx.redis_url

    async def ask(b):
        info = getattr(b, "info", None)
        if info is None:
            return None
        return (await info()).get("redis_url")

    url = call(ask)
    if not url:
        raise usage_error("this context has no Redis URL for the workflow",
                          hint="faastui context add NAME --redis-url redis://...")
    return url


def _ensure_functions() -> None:
    """Deploy the emitter, collector and worker from functions/ if the backend lacks them."""
    from backends.errors import NotFound

    from ..locations import functions_dir

    async def ensure(b):
        for role in ROLES:
            try:
                await b.describe(role)
            except NotFound:
                await b.deploy(str(functions_dir() / role))
                message(f"deployed {role}")
    call(ensure)


class _Progress:
    """Two bars on stderr (emitted, collected) and a line of pool/QoS figures."""

    def __init__(self, tasks: int, enabled: bool):
        self.enabled = enabled
        if not enabled:
            return
        from rich.console import Console  # deferred: ~0.1 s
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description:>9}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[info]}"),
                                 console=Console(stderr=True), transient=False)
        self.emitted = self.progress.add_task("emitted", total=tasks, info="")
        self.collected = self.progress.add_task("collected", total=tasks, info="")
        self.progress.start()

    def update(self, s) -> None:
        if not self.enabled:
            return
        qos = "-" if s.qos is None else f"{s.qos * 100:.1f}%"
        self.progress.update(self.emitted, completed=s.emitted,
                             info=f"queue {s.queue}")
        self.progress.update(self.collected, completed=s.completed,
                             info=f"workers {s.workers}/{s.desired}  QoS {qos}")

    def close(self) -> None:
        if self.enabled:
            self.progress.stop()


@app.command("run")
def run_cmd(tasks: int = typer.Option(1000, "--tasks", "-n", min=1, help="Tasks to emit."),
            workers: int = typer.Option(4, "--workers", "-k", min=1, max=32,
                                        help="Workers to start with (1..32)."),
            phases: Optional[Path] = typer.Option(None, "--phases", "-p",
                                                  help="Workload phases YAML (see demo/phases.yaml)."),
            autoscale: Optional[str] = typer.Option(None, "--autoscale", "-a",
                                                    help="reactive, target or rl."),
            rate: float = typer.Option(0.0, "--rate", min=0,
                                       help="Tasks/s without --phases (0: as fast as possible)."),
            duration_ms: Optional[float] = typer.Option(None, "--duration-ms", min=0,
                                                        help="Mean work per task (overrides the file)."),
            batch: int = typer.Option(50, "--batch", min=1, max=1000,
                                      help="Most tasks a worker takes per round trip."),
            processes: bool = typer.Option(False, "--processes",
                                           help="Run the loops as local processes, not functions."),
            timeout: float = typer.Option(0.0, "--timeout", min=0, help="Give up after S seconds (0: never)."),
            seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the arrivals."),
            no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
            output: Format = OutputOpt):
    """Run the workflow until every task is collected; print a summary."""
    from backends.workflow.controller import RunConfig, WorkflowController
    from backends.workflow.phases import WorkloadError, load_workload, steady
    from backends.workflow.policies import POLICY_NAMES, make_policy

    if autoscale is not None and autoscale not in POLICY_NAMES[1:]:
        raise usage_error(f"unknown policy {autoscale!r}", hint="use reactive, target or rl")
    try:
        workload = load_workload(phases) if phases else steady(rate)
    except WorkloadError as exc:
        raise usage_error(str(exc)) from None
    if duration_ms is not None:
        workload.task_duration_ms = duration_ms
        for p in workload.phases:
            p.task_duration_ms = None
    if seed is not None:
        workload.seed = seed
    policy = make_policy(autoscale) if autoscale else None
    url = _redis_url()
    if processes:
        from backends.workflow.launchers import ProcessLauncher

        launcher = ProcessLauncher(url)
    else:
        from backends.base import Capability

        from ._common import current_context

        ctx = current_context()
        backend = ctx.build_backend()
        if not backend.supports(Capability.INVOKE_ASYNC):
            raise usage_error(f"the {backend.name} backend cannot start long-running functions",
                              hint="use --processes")
        _ensure_functions()
        from backends.workflow.launchers import EngineLauncher

        with handle_errors():
            launcher = EngineLauncher(ctx.build_backend)
    config = RunConfig(tasks=tasks, workers=workers, workload=workload, policy=policy, batch=batch)
    progress = _Progress(tasks, enabled=not no_progress and output in (Format.table, Format.wide))
    with handle_errors():
        controller = WorkflowController(url, launcher, config, on_tick=progress.update)
        try:
            summary = controller.run(timeout_s=timeout or None)
        finally:
            progress.close()
            controller.close()
    data = summary.to_dict()
    if output in (Format.json, Format.yaml):
        emit(data, output)
    else:
        _print_summary(data)
    if summary.lost or summary.state != "done":
        raise typer.Exit(1)


def _print_summary(d: dict) -> None:
    rows = [("run", d["run_id"]), ("state", d["state"]), ("policy", d["policy"]),
            ("completed", f"{d['completed']}/{d['tasks']}"), ("lost", d["lost"]),
            ("duplicates", f"{d['duplicates']} (dropped by the collector: {d['duplicates_dropped']})"),
            ("QoS", f"{d['qos'] * 100:.2f}% of deadlines met"),
            ("mean workers", f"{d['mean_workers']:.2f}"),
            ("duration", f"{d['duration_s']:.2f} s ({d['throughput']:.0f} tasks/s)"),
            ("requeued", f"{d['requeued']} task(s) of {d['reaped_workers']} dead worker(s)"),
            ("scale-downs", f"{d['acks']} ACKed"), ("scale events", len(d["scale_events"]))]
    width = max(len(k) for k, _ in rows) + 2
    for k, v in rows:
        print(f"{k + ':':<{width}}{v}")
    sys.stdout.flush()


@app.command("status")
def status_cmd(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt):
    """The current (or last) run: progress, pool, QoS."""
    import time

    from backends.workflow.controller import StatusReader

    url = _redis_url()
    with handle_errors(), StatusReader(url) as reader:
        while True:
            s = reader.read()
            if output in (Format.json, Format.yaml):
                emit(s.to_dict(), output)
            else:
                _print_status(s)
            if not watch:
                break
            time.sleep(interval)


def _print_status(s) -> None:
    qos = "-" if s.qos is None else f"{s.qos * 100:.2f}%"
    print(f"run {s.run_id or '-'}  {s.state}  policy {s.policy or '-'}  {s.elapsed_s:.1f} s")
    print(f"tasks     emitted {s.emitted}/{s.tasks}  collected {s.completed}  queue {s.queue}  "
          f"results {s.results}")
    print(f"workers   {s.workers} running, {s.stopping} stopping, target {s.desired}, "
          f"mean {s.mean_workers:.2f}")
    print(f"QoS       {qos}  requeued {s.requeued}  dead workers {s.reaped_workers}  "
          f"duplicates dropped {s.duplicates_dropped}")
    sys.stdout.flush()


@app.command("stop")
def stop_cmd():
    """Stop the running workflow: every loop ends after its current round."""
    from backends.workflow.controller import request_stop

    url = _redis_url()
    with handle_errors():
        running = request_stop(url)
    message("stopping the workflow" if running else "no workflow was running; stop flag set")
