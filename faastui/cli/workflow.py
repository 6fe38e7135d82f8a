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

Heavy imports (redis, rich, the workflow package) are deferred into the
commands so ``faastui --help`` stays fast.
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
from ._common import IntervalOpt, OutputOpt, WatchOpt, call, current_context, handle_errors, usage_error

__all__ = ["app", "scale_running_workflow"]

app = typer.Typer(rich_markup_mode=None, help="Run and watch the queue workflow "
                  "(emitter -> workers -> collector over Redis, the seed workflow's protocol).")

ROLES = ("emitter", "collector", "worker")
CLUSTER_BACKENDS = ("knative", "nuclio", "openfaas")


# ---- where the run is ----------------------------------------------------------------------
def _record_path(ctx_name: str) -> Path:
    from ..locations import state_dir

    return state_dir() / f"workflow-{ctx_name}.json"


def _read_record(ctx_name: str) -> dict:
    try:
        return json.loads(_record_path(ctx_name).read_text())
    except (OSError, ValueError):
        return {}


def _redis_url(explicit: str | None = None) -> str:
    """The workflow's Redis: --redis-url, a live background run's, the context's, the
    engine's (local), else the last run's on this context."""
    if explicit:
        return explicit
    ctx = current_context()
    record = _read_record(ctx.name)
    if record.get("redis_url") and _alive(int(record.get("pid") or 0)):
        return record["redis_url"]  # a background run of this context, started elsewhere
    if ctx.redis_url:
        return ctx.redis_url

    async def ask(b):
        info = getattr(b, "info", None)
        if info is None:
            return None
        return (await info()).get("redis_url")

    url = call(ask) if ctx.backend == "local" else record.get("redis_url")  # the last run's
    if not url:
        raise usage_error("this context has no Redis URL for the workflow",
                          hint="pass --redis-url redis://HOST:PORT (a Redis the cluster reaches), "
                               "or faastui context add NAME --redis-url ...")
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
        self.emitted = self.progress.add_task("emitted", total=tasks or None, info="")
        self.collected = self.progress.add_task("collected", total=tasks or None, info="")
        self.progress.start()

    def update(self, s) -> None:
        if not self.enabled:
            return
        qos = "-" if s.qos is None else f"{s.qos * 100:.1f}%"
        self.progress.update(self.emitted, completed=s.enqueued_total, info=f"queue {s.queue}")
        self.progress.update(self.collected, completed=s.completed,
                             info=f"workers {s.workers}/{s.desired}  QoS {qos}")

    def close(self) -> None:
        if self.enabled:
            self.progress.stop()


# ---- run / start ---------------------------------------------------------------------------
TasksOpt = typer.Option(None, "--tasks", min=0,  # -n is the namespace everywhere
                        help="Tasks to emit (default: one pass of --phases, else 1000; "
                             "0 with --serve).")
WorkersOpt = typer.Option(4, "--workers", "-k", min=1, max=32, help="Workers to start with (1..32).")
PhasesOpt = typer.Option(None, "--phases", "-p", help="Workload phases YAML (see demo/phases.yaml), "
                         "or 'seed' for the seed's four phases at --rate (default 5/s = 300/min).")
AutoscaleOpt = typer.Option(None, "--autoscale", "-a", help="reactive, target or rl.")
RateOpt = typer.Option(None, "--rate", min=0, help="Tasks/s (0: as fast as possible); with "
                       "--phases seed the base rate (the seed's 300/min is --rate 5).")
DurationOpt = typer.Option(None, "--duration-ms", min=0, help="Work per task in ms (overrides "
                           "the file; default 0, or the seed's image tasks with --phases seed).")
PhaseDurationOpt = typer.Option(None, "--phase-duration", min=0.1,
                                help="Seconds per phase of --phases seed (default 60).")
BatchOpt = typer.Option(50, "--batch", min=1, max=1000, help="Most tasks a worker takes per round trip.")
ProcessesOpt = typer.Option(False, "--processes", help="Run the loops as local processes, not functions.")
TimeoutOpt = typer.Option(0.0, "--timeout", min=0, help="Give up after S seconds (0: never).")
SeedOpt = typer.Option(None, "--seed", help="Seed of the arrivals and task sizes.")
ServeOpt = typer.Option(False, "--serve", help="Keep serving input_queue after the run's own tasks "
                        "(the seed's phase_config messages and tasks) until TERMINATE or stop.")
RedisOpt = typer.Option(None, "--redis-url", envvar="FAASTUI_REDIS_URL",
                        help="The Redis the loops use (on a cluster: one the cluster reaches); "
                             "default: the context's, or the engine's.")
RedisWaitOpt = typer.Option(300.0, "--redis-wait", min=0,
                            help="Seconds to wait for a Redis that went away before the run "
                                 "ends (exit 4); it resumes if Redis is back in time.")
ImageOpt = typer.Option(None, "--worker-image", help="OpenFaaS: the image the workflow's "
                        "functions run (OpenFaaS builds nothing from source).")


def _workload(phases: Optional[str], rate: Optional[float], duration_ms: Optional[float],
              phase_duration: Optional[float], seed: Optional[int]):
    from backends.workflow.phases import WorkloadError, load_workload, seed_workload, steady

    if phase_duration is not None and phases != "seed":
        raise usage_error("--phase-duration goes with --phases seed")
    try:
        if phases == "seed":
            w = seed_workload((rate if rate is not None else 5.0) * 60.0, phase_duration)
        elif phases:
            w = load_workload(phases)
        else:
            w = steady(rate or 0.0)
    except WorkloadError as exc:
        raise usage_error(str(exc)) from None
    if duration_ms is not None:
        w.task_duration_ms = duration_ms
        w.duration_dist = "constant"
        for p in w.phases:
            p.task_duration_ms = None
            p.duration_dist = None
    if seed is not None:
        w.seed = seed
    return w


def _default_tasks(tasks: Optional[int], phases: Optional[str], workload, serve: bool) -> int:
    if tasks is not None:
        return tasks
    if phases:
        return int(round(workload.expected_count(0.0, workload.cycle_s)))
    return 0 if serve else 1000


@app.command("run")
def run_cmd(tasks: Optional[int] = TasksOpt, workers: int = WorkersOpt,
            phases: Optional[str] = PhasesOpt, autoscale: Optional[str] = AutoscaleOpt,
            rate: Optional[float] = RateOpt, duration_ms: Optional[float] = DurationOpt,
            phase_duration: Optional[float] = PhaseDurationOpt, batch: int = BatchOpt,
            processes: bool = ProcessesOpt, timeout: float = TimeoutOpt,
            seed: Optional[int] = SeedOpt, serve: bool = ServeOpt,
            redis_url: Optional[str] = RedisOpt, worker_image: Optional[str] = ImageOpt,
            redis_wait: float = RedisWaitOpt,
            no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
            run_id: str = typer.Option("", "--run-id", hidden=True),
            output: Format = OutputOpt):
    """Run the workflow in the foreground until every task is collected; print a summary."""
    from backends.workflow.controller import RunConfig, WorkflowController
    from backends.workflow.policies import POLICY_NAMES, make_policy

    if autoscale is not None and autoscale not in POLICY_NAMES[1:]:
        raise usage_error(f"unknown policy {autoscale!r}", hint="use reactive, target or rl")
    workload = _workload(phases, rate, duration_ms, phase_duration, seed)
    n_tasks = _default_tasks(tasks, phases, workload, serve)
    if n_tasks == 0 and not serve:
        raise usage_error("a run without --serve needs tasks", hint="--tasks N, or --serve")
    policy = make_policy(autoscale) if autoscale else None
    launcher, url = _launcher(processes, redis_url, worker_image)
    config = RunConfig(tasks=n_tasks, workers=workers, workload=workload, policy=policy,
                       batch=batch, serve=serve, run_id=run_id, redis_wait_s=redis_wait)
    progress = _Progress(n_tasks, enabled=not no_progress and output in (Format.table, Format.wide))
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
    if summary.lost or summary.state not in ("done", "terminated"):
        raise typer.Exit(1)


def _launcher(processes: bool, redis_url: Optional[str], worker_image: Optional[str]):
    """The launcher for this context, and the Redis URL its loops use."""
    from backends.base import Capability

    ctx = current_context()
    url = _redis_url(redis_url)
    if processes:
        from backends.workflow.launchers import ProcessLauncher

        return ProcessLauncher(url), url
    backend = ctx.build_backend()
    if ctx.backend in CLUSTER_BACKENDS:
        from backends.workflow.launchers import ClusterLauncher

        if ctx.backend == "openfaas" and not worker_image:
            raise usage_error("OpenFaaS builds nothing from source: the workflow needs an image",
                              hint="--worker-image IMAGE (the worker, emitter and collector "
                                   "handlers with faastui's workflow package)")
        if not redis_url and not ctx.redis_url:
            raise usage_error(f"the workflow on {ctx.backend} needs a Redis the cluster reaches",
                              hint="--redis-url redis://HOST:PORT")
        with handle_errors():
            return ClusterLauncher(ctx.build_backend, url, image=worker_image), url
    if not backend.supports(Capability.INVOKE_ASYNC):
        raise usage_error(f"the {backend.name} backend cannot start long-running functions",
                          hint="use --processes")
    _ensure_functions()
    from backends.workflow.launchers import EngineLauncher

    with handle_errors():
        return EngineLauncher(ctx.build_backend), url


@app.command("start")
def start_cmd(tasks: Optional[int] = TasksOpt, workers: int = WorkersOpt,
              phases: Optional[str] = PhasesOpt, autoscale: Optional[str] = AutoscaleOpt,
              rate: Optional[float] = RateOpt, duration_ms: Optional[float] = DurationOpt,
              phase_duration: Optional[float] = PhaseDurationOpt, batch: int = BatchOpt,
              processes: bool = ProcessesOpt, timeout: float = TimeoutOpt,
              seed: Optional[int] = SeedOpt, serve: bool = ServeOpt,
              redis_url: Optional[str] = RedisOpt, worker_image: Optional[str] = ImageOpt,
              redis_wait: float = RedisWaitOpt,
              wait: float = typer.Option(60.0, "--wait", min=1,
                                         help="Seconds to wait for the run to come up."),
              output: Format = OutputOpt):
    """Start the workflow in the background and return; `workflow status|stop` and
    `scale worker` work on it from any shell."""
    import uuid

    from backends.workflow.policies import POLICY_NAMES
    from backends.workflow.status import StatusReader

    from ..locations import state_dir

    if autoscale is not None and autoscale not in POLICY_NAMES[1:]:
        raise usage_error(f"unknown policy {autoscale!r}", hint="use reactive, target or rl")
    workload = _workload(phases, rate, duration_ms, phase_duration, seed)  # usage errors now
    if _default_tasks(tasks, phases, workload, serve) == 0 and not serve:
        raise usage_error("a run without --serve needs tasks", hint="--tasks N, or --serve")
    ctx = current_context()
    url = _redis_url(redis_url)
    with handle_errors(), StatusReader(url) as reader:
        if reader.read().alive:
            raise usage_error("a workflow is already running on this Redis",
                              hint="faastui workflow stop")
    run_id = uuid.uuid4().hex[:8]
    args = ["workflow", "run", "--workers", str(workers), "--batch", str(batch), "--run-id", run_id,
            "--redis-wait", str(redis_wait), "--no-progress", "-o", "json"]
    for flag, value in (("--tasks", tasks), ("--phases", phases), ("--autoscale", autoscale),
                        ("--rate", rate), ("--duration-ms", duration_ms),
                        ("--phase-duration", phase_duration), ("--timeout", timeout or None),
                        ("--seed", seed), ("--worker-image", worker_image)):
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
        proc = subprocess.Popen([sys.executable, "-m", "faastui", "--context", ctx.name, *args],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
    record = {"run_id": run_id, "pid": proc.pid, "redis_url": url, "log": str(log_path),
              "context": ctx.name, "started_at": time.time()}
    _record_path(ctx.name).write_text(json.dumps(record))
    deadline = time.monotonic() + wait
    with handle_errors(), StatusReader(url) as reader:
        while True:
            s = reader.read()
            if s.run_id == run_id and s.state == "running" and s.workers >= 1:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(_tail(log_path))
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                print(f"error: the workflow did not start (exit {proc.returncode})", file=sys.stderr)
                if tail:
                    print(tail, file=sys.stderr)
                raise typer.Exit(1)
            time.sleep(0.05)
    if output in (Format.json, Format.yaml):
        emit(dict(record, redis_url=_masked(url)), output)
    else:
        print(run_id)
        message(f"workflow {run_id} started (pid {proc.pid}); log: {log_path}")


def _masked(url: str) -> str:
    """``url`` with its password (if any) shown as ***."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def _tail(path: Path, lines: int = 8) -> list[str]:
    try:
        return path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return []


def _print_summary(d: dict) -> None:
    rows = [("run", d["run_id"]), ("state", d["state"]), ("policy", d["policy"]),
            ("completed", f"{d['completed']}/{d['tasks']}"), ("lost", d["lost"]),
            ("duplicates", f"{d['duplicates']} (dropped by the collector: {d['duplicates_dropped']})"),
            ("QoS", f"{d['qos'] * 100:.2f}% of deadlines met"),
            ("mean workers", f"{d['mean_workers']:.2f}"),
            ("duration", f"{d['duration_s']:.2f} s ({d['throughput']:.0f} tasks/s)"),
            ("requeued", f"{d['requeued']} task(s) of {d['reaped_workers']} dead worker(s)"),
            ("scale-downs", f"{d['acks']} ACKed, {d['external_scale_downs']} asked by others"),
            ("scale events", len(d["scale_events"]))]
    width = max(len(k) for k, _ in rows) + 2
    for k, v in rows:
        print(f"{k + ':':<{width}}{v}")
    sys.stdout.flush()


# ---- status / stop / scale ----------------------------------------------------------------
@app.command("status")
def status_cmd(output: Format = OutputOpt, watch: bool = WatchOpt, interval: float = IntervalOpt,
               redis_url: Optional[str] = RedisOpt):
    """The current (or last) run: progress, pool, QoS."""
    from backends.workflow.status import StatusReader

    url = _redis_url(redis_url)
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
    serve = "  serving input_queue" if s.serve else ""
    state = s.state if s.alive or s.state != "running" else "running (its controller is gone)"
    print(f"run {s.run_id or '-'}  {state}  policy {s.policy or '-'}  {s.elapsed_s:.1f} s{serve}")
    print(f"tasks     enqueued {s.enqueued_total}/{s.tasks}  collected {s.completed}  "
          f"queue {s.queue}  results {s.results}")
    print(f"workers   {s.workers} running, {s.stopping} stopping, target {s.desired}, "
          f"mean {s.mean_workers:.2f}")
    print(f"QoS       {qos}  requeued {s.requeued}  dead workers {s.reaped_workers}  "
          f"duplicates dropped {s.duplicates_dropped}")
    sys.stdout.flush()


@app.command("stop")
def stop_cmd(redis_url: Optional[str] = RedisOpt,
             wait: float = typer.Option(20.0, "--wait", min=0,
                                        help="Seconds to wait for a background run to end.")):
    """Stop the running workflow: every loop ends after its current round."""
    from backends.workflow.status import request_stop

    url = _redis_url(redis_url)
    with handle_errors():
        running = request_stop(url)
    record = _read_record(current_context().name)
    pid = int(record.get("pid") or 0)
    if pid and record.get("redis_url") == url:
        deadline = time.monotonic() + wait
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    message("stopping the workflow" if running else "no workflow is running; nothing to stop")


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is ours
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def scale_running_workflow(replicas: str, output: Format) -> bool:
    """`faastui scale worker N|+K|-K` while a workflow runs on this context: set the
    pool's target (the controller starts or SYNs workers). False if no run is going."""
    from backends.errors import BackendError
    from backends.workflow.status import StatusReader, request_scale

    try:
        url = _redis_url()
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

