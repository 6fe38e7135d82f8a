"""What ``workflow run`` and ``workflow start`` build a run from: their shared options,
the workload (``--phases``, ``--rate``, ...), the task count, and the launcher that
starts the loops on this context (local processes, the engine's long-running
functions, or one function per worker on a cluster), deploying the workflow's
functions first where the backend lacks them.
"""

from __future__ import annotations

from typing import Optional

import typer

from ..output import message
from ._common import call, current_context, handle_errors, usage_error
from ._workflow_where import workflow_redis_url

__all__ = ["ROLES", "CLUSTER_BACKENDS", "build_workload", "default_tasks", "launcher_for", "ensure_functions"]

ROLES = ("emitter", "collector", "worker")
CLUSTER_BACKENDS = ("knative", "nuclio", "openfaas")


TasksOpt = typer.Option(
    None,
    "--tasks",
    min=0,  # -n is the namespace everywhere
    help="Tasks to emit (default: one pass of --phases, else 1000; 0 with --serve).",
)
WorkersOpt = typer.Option(4, "--workers", "-k", min=1, max=32, help="Workers to start with (1..32).")
PhasesOpt = typer.Option(
    None,
    "--phases",
    "-p",
    help="Workload phases YAML (see demo/phases.yaml), "
    "or 'seed' for the seed's four phases at --rate (default 5/s = 300/min).",
)
AutoscaleOpt = typer.Option(None, "--autoscale", "-a", help="reactive, target or rl.")
RateOpt = typer.Option(
    None,
    "--rate",
    min=0,
    help="Tasks/s (0: as fast as possible); with --phases seed the base rate (the seed's 300/min is --rate 5).",
)
DurationOpt = typer.Option(
    None,
    "--duration-ms",
    min=0,
    help="Work per task in ms (overrides the file; default 0, or the seed's image tasks with --phases seed).",
)
PhaseDurationOpt = typer.Option(
    None, "--phase-duration", min=0.1, help="Seconds per phase of --phases seed (default 60)."
)
BatchOpt = typer.Option(50, "--batch", min=1, max=1000, help="Most tasks a worker takes per round trip.")
ProcessesOpt = typer.Option(False, "--processes", help="Run the loops as local processes, not functions.")
TimeoutOpt = typer.Option(0.0, "--timeout", min=0, help="Give up after S seconds (0: never).")
SeedOpt = typer.Option(None, "--seed", help="Seed of the arrivals and task sizes.")
ServeOpt = typer.Option(
    False,
    "--serve",
    help="Keep serving input_queue after the run's own tasks "
    "(the seed's phase_config messages and tasks) until TERMINATE or stop.",
)
RedisOpt = typer.Option(
    None,
    "--redis-url",
    envvar="FAASTUI_REDIS_URL",
    help="The Redis the loops use (on a cluster: one the cluster reaches); default: the context's, or the engine's.",
)
RedisWaitOpt = typer.Option(
    300.0,
    "--redis-wait",
    min=0,
    help="Seconds to wait for a Redis that went away before the run "
    "ends (exit 4); it resumes if Redis is back in time.",
)
LaunchTimeoutOpt = typer.Option(
    15.0,
    "--launch-timeout",
    min=1,
    help="Seconds a worker, the emitter or the collector may take to start before the run "
    "notes it and starts another (raise it on a cluster that pulls images).",
)
ImageOpt = typer.Option(
    None,
    "--worker-image",
    help="OpenFaaS: the image the workflow's functions run (OpenFaaS builds nothing from source).",
)


def build_workload(
    phases: Optional[str],
    rate: Optional[float],
    duration_ms: Optional[float],
    phase_duration: Optional[float],
    seed: Optional[int],
):
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


def default_tasks(tasks: Optional[int], phases: Optional[str], workload, serve: bool) -> int:
    if tasks is not None:
        return tasks
    if phases:
        return int(round(workload.expected_count(0.0, workload.cycle_s)))
    return 0 if serve else 1000


def launcher_for(processes: bool, redis_url: Optional[str], worker_image: Optional[str]):
    """The launcher for this context, and the Redis URL its loops use."""
    from backends.base import Capability

    ctx = current_context()
    url = workflow_redis_url(redis_url)
    if processes:
        from backends.workflow.launchers import ProcessLauncher

        return ProcessLauncher(url), url
    backend = ctx.build_backend()
    if ctx.backend in CLUSTER_BACKENDS:
        from backends.workflow.launchers import ClusterLauncher

        if ctx.backend == "openfaas" and not worker_image:
            raise usage_error(
                "OpenFaaS builds nothing from source: the workflow needs an image",
                hint="--worker-image IMAGE (the worker, emitter and collector "
                "handlers with faastui's workflow package)",
            )
        if not redis_url and not ctx.redis_url:
            raise usage_error(
                f"the workflow on {ctx.backend} needs a Redis the cluster reaches", hint="--redis-url redis://HOST:PORT"
            )
        with handle_errors():
            return ClusterLauncher(ctx.build_backend, url, image=worker_image), url
    if not backend.supports(Capability.INVOKE_ASYNC):
        raise usage_error(f"the {backend.name} backend cannot start long-running functions", hint="use --processes")
    ensure_functions()
    from backends.workflow.launchers import EngineLauncher

    with handle_errors():
        return EngineLauncher(ctx.build_backend), url


def ensure_functions() -> None:
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
