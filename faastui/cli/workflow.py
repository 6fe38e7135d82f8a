"""`faastui workflow run|start|status|stop`: the producer/worker/collector workflow.

``run`` starts the emitter, the collector and K workers as long-running
functions on the current context's backend (async invocations on the engine;
one function per worker, ``worker-1..N``, on a Knative or Nuclio context), keeps
the pool at its target (``--autoscale POLICY``, or ``faastui scale worker N`` /
the dashboard's ``s`` from elsewhere), shows progress bars on stderr, waits
until every task is collected and prints a summary (``-o json``: one object).
``start`` does the same in the background and returns: its controller is a
process of its own (``workflow-<context>.log`` in the state dir). ``--serve``
keeps a run going after its own tasks, serving whatever the seed's scripts push
(phase_config messages, tasks) until they send TERMINATE or ``workflow stop``.
``--processes`` runs the loops as local processes instead (no engine needed
when the context names a Redis URL). ``status`` and ``stop`` work from any
terminal: the run's state lives in Redis.

This module holds the commands; what a run is built from (options, workload,
launcher) is in ``_workflow_setup``, where a run is (its Redis, a background run's
record) in ``_workflow_where``, and how it is shown (progress, summary, status) in
``_workflow_show``. Heavy imports (redis, rich, the workflow package) are deferred
into the commands so ``faastui --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from ..output import Format, emit, message
from ._common import IntervalOpt, OutputOpt, WatchOpt, current_context, handle_errors, usage_error
from ._workflow_setup import (
    AutoscaleOpt,
    BatchOpt,
    DurationOpt,
    ImageOpt,
    LaunchTimeoutOpt,
    PhaseDurationOpt,
    PhasesOpt,
    ProcessesOpt,
    RateOpt,
    RedisOpt,
    RedisWaitOpt,
    SeedOpt,
    ServeOpt,
    TasksOpt,
    TimeoutOpt,
    WorkersOpt,
    build_workload,
    default_tasks,
    launcher_for,
)
from ._workflow_show import ProgressBars, log_tail, masked, print_status, print_summary
from ._workflow_where import pid_alive, read_record, record_path, workflow_redis_url

__all__ = ["app", "scale_running_workflow"]

app = typer.Typer(
    rich_markup_mode=None,
    help="Run and watch the queue workflow (emitter -> workers -> collector over Redis, the seed workflow's protocol).",
)


# ---- run / start ---------------------------------------------------------------------------
@app.command("run")
def run_cmd(
    tasks: Optional[int] = TasksOpt,
    workers: int = WorkersOpt,
    phases: Optional[str] = PhasesOpt,
    autoscale: Optional[str] = AutoscaleOpt,
    rate: Optional[float] = RateOpt,
    duration_ms: Optional[float] = DurationOpt,
    phase_duration: Optional[float] = PhaseDurationOpt,
    batch: int = BatchOpt,
    processes: bool = ProcessesOpt,
    timeout: float = TimeoutOpt,
    seed: Optional[int] = SeedOpt,
    serve: bool = ServeOpt,
    redis_url: Optional[str] = RedisOpt,
    worker_image: Optional[str] = ImageOpt,
    redis_wait: float = RedisWaitOpt,
    launch_timeout: float = LaunchTimeoutOpt,
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    run_id: str = typer.Option("", "--run-id", hidden=True),
    output: Format = OutputOpt,
):
    """Run the workflow in the foreground until every task is collected; print a summary."""
    from backends.workflow.controller import RunConfig, WorkflowController
    from backends.workflow.policies import POLICY_NAMES, make_policy

    if autoscale is not None and autoscale not in POLICY_NAMES[1:]:
        raise usage_error(f"unknown policy {autoscale!r}", hint="use reactive, target or rl")
    workload = build_workload(phases, rate, duration_ms, phase_duration, seed)
    n_tasks = default_tasks(tasks, phases, workload, serve)
    if n_tasks == 0 and not serve:
        raise usage_error("a run without --serve needs tasks", hint="--tasks N, or --serve")
    policy = make_policy(autoscale) if autoscale else None
    launcher, url = launcher_for(processes, redis_url, worker_image)
    config = RunConfig(
        tasks=n_tasks,
        workers=workers,
        workload=workload,
        policy=policy,
        batch=batch,
        serve=serve,
        run_id=run_id,
        redis_wait_s=redis_wait,
        launch_timeout_s=launch_timeout,
    )
    progress = ProgressBars(n_tasks, enabled=not no_progress and output in (Format.table, Format.wide))
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
        print_summary(data)
    if summary.lost or summary.state not in ("done", "terminated"):
        raise typer.Exit(1)


@app.command("start")
def start_cmd(
    tasks: Optional[int] = TasksOpt,
    workers: int = WorkersOpt,
    phases: Optional[str] = PhasesOpt,
    autoscale: Optional[str] = AutoscaleOpt,
    rate: Optional[float] = RateOpt,
    duration_ms: Optional[float] = DurationOpt,
    phase_duration: Optional[float] = PhaseDurationOpt,
    batch: int = BatchOpt,
    processes: bool = ProcessesOpt,
    timeout: float = TimeoutOpt,
    seed: Optional[int] = SeedOpt,
    serve: bool = ServeOpt,
    redis_url: Optional[str] = RedisOpt,
    worker_image: Optional[str] = ImageOpt,
    redis_wait: float = RedisWaitOpt,
    launch_timeout: float = LaunchTimeoutOpt,
    wait: float = typer.Option(60.0, "--wait", min=1, help="Seconds to wait for the run to come up."),
    output: Format = OutputOpt,
):
    """Start the workflow in the background and return; `workflow status|stop` and
    `scale worker` work on it from any shell."""
    import uuid

    from backends.workflow.policies import POLICY_NAMES
    from backends.workflow.status import StatusReader

    from ..locations import state_dir

    if autoscale is not None and autoscale not in POLICY_NAMES[1:]:
        raise usage_error(f"unknown policy {autoscale!r}", hint="use reactive, target or rl")
    workload = build_workload(phases, rate, duration_ms, phase_duration, seed)  # usage errors now
    if default_tasks(tasks, phases, workload, serve) == 0 and not serve:
        raise usage_error("a run without --serve needs tasks", hint="--tasks N, or --serve")
    ctx = current_context()
    url = workflow_redis_url(redis_url)
    with handle_errors(), StatusReader(url) as reader:
        if reader.read().alive:
            raise usage_error("a workflow is already running on this Redis", hint="faastui workflow stop")
    run_id = uuid.uuid4().hex[:8]
    args = [
        "workflow",
        "run",
        "--workers",
        str(workers),
        "--batch",
        str(batch),
        "--run-id",
        run_id,
        "--redis-wait",
        str(redis_wait),
        "--launch-timeout",
        str(launch_timeout),
        "--no-progress",
        "-o",
        "json",
    ]
    for flag, value in (
        ("--tasks", tasks),
        ("--phases", phases),
        ("--autoscale", autoscale),
        ("--rate", rate),
        ("--duration-ms", duration_ms),
        ("--phase-duration", phase_duration),
        ("--timeout", timeout or None),
        ("--seed", seed),
        ("--worker-image", worker_image),
    ):
        if value is not None:
            args += [flag, str(value)]
    args += ["--serve"] if serve else []
    args += ["--processes"] if processes else []
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = folder / f"workflow-{ctx.name}.log"
    env = dict(os.environ, FAASTUI_REDIS_URL=url)  # not in argv: a URL may hold a password
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "faastui", "--context", ctx.name, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    record = {
        "run_id": run_id,
        "pid": proc.pid,
        "redis_url": url,
        "log": str(log_path),
        "context": ctx.name,
        "started_at": time.time(),
    }
    record_path(ctx.name).write_text(json.dumps(record))
    deadline = time.monotonic() + wait
    with handle_errors(), StatusReader(url) as reader:
        while True:
            s = reader.read()
            if s.run_id == run_id and s.state == "running" and s.workers >= 1:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_tail(log_path))
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                print(f"error: the workflow did not start (exit {proc.returncode})", file=sys.stderr)
                if tail:
                    print(tail, file=sys.stderr)
                raise typer.Exit(1)
            time.sleep(0.05)
    if output in (Format.json, Format.yaml):
        emit(dict(record, redis_url=masked(url)), output)
    else:
        print(run_id)
        message(f"workflow {run_id} started (pid {proc.pid}); log: {log_path}")


# ---- status / stop / scale ----------------------------------------------------------------
@app.command("status")
def status_cmd(
    output: Format = OutputOpt,
    watch: bool = WatchOpt,
    interval: float = IntervalOpt,
    redis_url: Optional[str] = RedisOpt,
):
    """The current (or last) run: progress, pool, QoS."""
    from backends.workflow.status import StatusReader

    url = workflow_redis_url(redis_url)
    with handle_errors(), StatusReader(url) as reader:
        while True:
            s = reader.read()
            if output in (Format.json, Format.yaml):
                emit(s.to_dict(), output)
            else:
                print_status(s)
            if not watch:
                break
            time.sleep(interval)


@app.command("stop")
def stop_cmd(
    redis_url: Optional[str] = RedisOpt,
    wait: float = typer.Option(20.0, "--wait", min=0, help="Seconds to wait for a background run to end."),
):
    """Stop the running workflow: every loop ends after its current round."""
    from backends.workflow.status import request_stop

    url = workflow_redis_url(redis_url)
    with handle_errors():
        running = request_stop(url)
    record = read_record(current_context().name)
    pid = int(record.get("pid") or 0)
    if pid and record.get("redis_url") == url:
        deadline = time.monotonic() + wait
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    message("stopping the workflow" if running else "no workflow is running; nothing to stop")


def scale_running_workflow(replicas: str, output: Format) -> bool:
    """`faastui scale worker N|+K|-K` while a workflow runs on this context: set the
    pool's target (the controller starts or SYNs workers). False if no run is going."""
    from backends.errors import BackendError
    from backends.workflow.status import StatusReader, request_scale

    try:
        url = workflow_redis_url()
    except typer.Exit:
        return False
    try:
        with StatusReader(url) as reader:
            if not reader.read().alive:
                return False
    except BackendError:
        return False
    with handle_errors():
        emit(request_scale(url, replicas), output)
    return True
