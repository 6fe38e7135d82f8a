"""Autoscaling on the seed's four phases at its base rate (300 tasks/min), simulated and
real, next to the figures the seed published.

    .venv/bin/python bench/autoscale.py [--seeds 10] [--no-real] [--phase-duration 60]
                                        [--launcher engine|processes] [--policies ...]

The workload is the seed's (``seed.phase_configs``): steady x0.3, steady x1.5,
oscillation 0.5-1.5 (one cycle), oscillation 0.3-1.7 (four cycles), 60 s each,
exactly its 1,140 tasks, its image_processing tasks (gamma, mean 1.5 s; deadline 2x
the processing time), with the sine realised. Every policy starts from one worker,
as the seed's environment does.

Simulated: the discrete-event simulator over ``--seeds`` seeds: the pooled QoS (share
of all tasks that met their deadline), the worst seed, the mean workers, and the
smallest fixed pool that reaches 99.2% on every seed (shown as ``fixed(N)``).
Real: one run per policy on a private embedded engine (``--launcher engine``: the
emitter, collector and workers are its functions, a real redis-server) or as local
processes; the workers sleep each task's processing time, as the seed's do, so 20
of them fit on 2 cores. Four policies x 4 minutes: about 17 minutes.

Goal (issue 11): at least 99.2% QoS with fewer mean workers than 14.78 (the seed's
SARSA), in the simulator and on the engine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backends.workflow.phases import seed_workload  # noqa: E402
from backends.workflow.policies import FixedPolicy, make_policy  # noqa: E402
from backends.workflow.seed import published  # noqa: E402
from backends.workflow.simulator import simulate  # noqa: E402

GOAL_QOS, GOAL_WORKERS = 0.992, 14.78


def published_lines() -> list[str]:
    return [
        f"  {'seed ' + p['policy']:<22}{p['qos'] * 100:>8.2f}%{'':>10}{p['mean_workers']:>14.2f}   (published)"
        for p in published()
    ]


def goal(rows) -> str:
    met = [name for name, qos, workers in rows if qos >= GOAL_QOS and workers < GOAL_WORKERS]
    return f"  goal (>= {GOAL_QOS * 100:.1f}% QoS with < {GOAL_WORKERS} mean workers): " + (
        "met by " + ", ".join(met) if met else "NOT met"
    )


def smallest_fixed(workload, seeds) -> int:
    for n in range(1, 33):
        if all(simulate(workload, FixedPolicy(n), workers=n, seed=s).qos >= GOAL_QOS for s in seeds):
            return n
    return 32


def simulated(workload, seeds: int, names: list[str]) -> int:
    seeds_ = range(seeds)
    fixed_n = smallest_fixed(workload, seeds_)
    print(
        f"simulated: the seed's four phases, {workload.cycle_s:.0f} s, "
        f"{int(workload.expected_count(0, workload.cycle_s))} tasks, {seeds} seeds"
    )
    print(f"  {'policy':<22}{'QoS':>9}{'worst':>10}{'mean workers':>14}{'peak':>6}")
    rows = []
    for name in names:
        t0 = time.perf_counter()
        if name == "fixed":
            label, runs = (
                f"fixed({fixed_n})",
                [simulate(workload, FixedPolicy(fixed_n), workers=fixed_n, seed=s) for s in seeds_],
            )
        else:
            label, runs = name, [simulate(workload, make_policy(name), workers=1, seed=s) for s in seeds_]
        qos = sum(r.met for r in runs) / sum(r.tasks for r in runs)
        workers = statistics.mean(r.mean_workers for r in runs)
        rows.append((label, qos, workers))
        print(
            f"  {label:<22}{qos * 100:>8.2f}%{min(r.qos for r in runs) * 100:>9.2f}%"
            f"{workers:>14.2f}{max(r.max_workers for r in runs):>6}"
            f"   ({(time.perf_counter() - t0) / seeds * 1000:.0f} ms a run)"
        )
    for line in published_lines():
        print(line)
    print(goal(rows))
    return fixed_n


def _engine(tmp: Path):
    """A private engine with one node big enough for 34 loops; (handle, launcher factory, url)."""
    import asyncio

    from backends.local.client import LocalBackend
    from backends.local.control import start_engine
    from backends.workflow.launchers import EngineLauncher

    cluster = tmp / "cluster.yaml"
    cluster.write_text(
        "keep_alive_s: 600\nnodes:\n  - name: bench\n    cpus: 2\n    memory_mb: 16384\n    max_containers: 48\n"
    )
    info = start_engine(tmp / "state", port=0, cluster=cluster, functions_dir=ROOT / "functions")

    async def setup():
        async with LocalBackend(info["url"]) as b:
            for role in ("emitter", "collector", "worker"):
                await b.deploy(str(ROOT / "functions" / role))
            return (await b.info())["redis_url"]

    url = asyncio.run(setup())
    return info, (lambda: EngineLauncher(lambda: LocalBackend(info["url"]))), url


def real(workload, names: list[str], fixed_n: int, launcher_kind: str) -> None:
    from backends.workflow.controller import RunConfig, WorkflowController

    tmp = Path(tempfile.mkdtemp(prefix="bench-as-"))
    engine = srv = None
    if launcher_kind == "engine":
        engine, make_launcher, url = _engine(tmp)
    else:
        from backends.local.redis_server import RedisServer
        from backends.workflow.launchers import ProcessLauncher

        srv = RedisServer(tmp / "redis").__enter__()
        url = srv.url
        make_launcher = lambda: ProcessLauncher(url)  # noqa: E731
    tasks = int(workload.expected_count(0, workload.cycle_s))
    print(
        f"real ({'the embedded engine' if engine else 'local processes'}, a real redis-server): "
        f"the seed's four phases, {workload.cycle_s:.0f} s, {tasks} tasks, one run each"
    )
    print(f"  {'policy':<22}{'QoS':>9}{'mean workers':>14}{'lost':>6}{'dups':>6}{'ACKs':>6}{'scale events':>14}")
    rows = []
    try:
        for name in names:
            policy = FixedPolicy(fixed_n) if name == "fixed" else make_policy(name)
            label = f"fixed({fixed_n})" if name == "fixed" else name
            ctl = WorkflowController(
                url,
                make_launcher(),
                RunConfig(
                    tasks=tasks,
                    workers=fixed_n if name == "fixed" else 1,
                    workload=workload,
                    policy=policy,
                    batch=1,
                    tick_s=0.05,
                ),
            )
            s = ctl.run(timeout_s=workload.cycle_s * 2 + 60)
            ctl.close()
            rows.append((label, s.qos, s.mean_workers))
            print(
                f"  {label:<22}{s.qos * 100:>8.2f}%{s.mean_workers:>14.2f}{s.lost:>6}"
                f"{s.duplicates:>6}{s.acks:>6}{len(s.scale_events):>14}",
                flush=True,
            )
    finally:
        if engine is not None:
            from backends.local.control import stop_engine

            stop_engine(tmp / "state")
            engine["process"].wait(10)
        if srv is not None:
            srv.__exit__(None, None, None)
    for line in published_lines():
        print(line)
    print(goal(rows) + "  (measured under load: the lead reruns it quietly)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--no-real", action="store_true", help="Simulated only (seconds, not minutes).")
    ap.add_argument(
        "--phase-duration",
        type=float,
        default=60.0,
        help="Seconds per phase (the seed's 60; shorter for a quick look).",
    )
    ap.add_argument("--launcher", choices=("engine", "processes"), default="engine")
    ap.add_argument("--policies", default="fixed,reactive,target,rl")
    args = ap.parse_args()
    names = [n.strip() for n in args.policies.split(",") if n.strip()]
    workload = seed_workload(300.0, args.phase_duration, seed=7)
    fixed_n = simulated(workload, args.seeds, names)
    if not args.no_real:
        print()
        real(workload, names, fixed_n, args.launcher)


if __name__ == "__main__":
    main()
