"""Autoscaling policies on the four-phase workload (demo/phases.yaml).

    .venv/bin/python bench/autoscale.py [--seeds 5] [--real-seconds 20] [--no-real]

Simulated (the discrete-event simulator, same workload, launch delay 0.3 s):
each policy's QoS (share of deadlines met) and mean workers over ``--seeds``
seeds, next to the smallest fixed pool that reaches 99% on every seed.
Then one short real run per policy (real processes, a private redis-server):
the first ``--real-seconds`` of the workload with its rates scaled down
(``--real-scale``) so this 2-core machine can serve it.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backends.workflow.phases import load_workload  # noqa: E402
from backends.workflow.policies import FixedPolicy, ReactivePolicy, TargetPolicy  # noqa: E402
from backends.workflow.rl import RLPolicy  # noqa: E402
from backends.workflow.simulator import simulate  # noqa: E402


def simulated(workload, seeds: int) -> None:
    fixed_n = None
    for n in range(1, 33):
        if all(simulate(workload, FixedPolicy(n), workers=n, seed=s).qos >= 0.99 for s in range(seeds)):
            fixed_n = n
            break
    rows = []
    policies = [("fixed", lambda: FixedPolicy(fixed_n or 32)), ("reactive", ReactivePolicy),
                ("target", TargetPolicy), ("rl", RLPolicy.load)]
    for name, make in policies:
        res = [simulate(workload, make(), workers=fixed_n if name == "fixed" else 4, seed=s)
               for s in range(seeds)]
        rows.append((name, statistics.mean(r.qos for r in res), min(r.qos for r in res),
                     statistics.mean(r.mean_workers for r in res), max(r.max_workers for r in res)))
    print(f"simulated: {workload.cycle_s:.0f} s four-phase workload, {seeds} seeds, "
          f"~{workload.expected_count(0, workload.cycle_s):.0f} tasks of "
          f"{workload.task_duration_ms:g} ms each")
    print(f"  smallest fixed pool with QoS >= 99% on every seed: {fixed_n}")
    print(f"  {'policy':<10}{'QoS mean':>10}{'QoS min':>10}{'mean workers':>14}{'peak':>6}")
    for name, q, qmin, mw, peak in rows:
        label = f"fixed({fixed_n})" if name == "fixed" else name
        print(f"  {label:<10}{q * 100:>9.2f}%{qmin * 100:>9.2f}%{mw:>14.2f}{peak:>6}")
    best = [r for r in rows if r[0] in ("target", "rl") and r[2] >= 0.99 and r[3] < (fixed_n or 99)]
    print("  goal (rl or target >= 99% with fewer mean workers than the fixed pool): "
          + ("met by " + ", ".join(r[0] for r in best) if best else "NOT met"))


def real(workload, seconds: float, scale: float) -> None:
    from backends.local.redis_server import RedisServer
    from backends.workflow.controller import RunConfig, WorkflowController
    from backends.workflow.launchers import ProcessLauncher

    w = copy.deepcopy(workload)
    for p in w.phases:  # the first `seconds` of each phase, rates scaled
        p.duration_s = max(1.0, p.duration_s * seconds / workload.cycle_s)
        for f in ("rate", "min_rate", "max_rate", "burst_rate", "from_rate", "to_rate"):
            setattr(p, f, getattr(p, f) * scale)
        if p.type == "burst":
            p.burst_every_s = max(1.0, p.burst_every_s * seconds / workload.cycle_s * 2)
            p.burst_length_s = min(p.burst_length_s, p.burst_every_s / 2)
    tasks = int(w.expected_count(0, w.cycle_s))
    print(f"real: {w.cycle_s:.0f} s of the four phases at {scale:g}x rate, {tasks} tasks, "
          f"real worker processes")
    print(f"  {'policy':<10}{'QoS':>9}{'mean workers':>14}{'lost':>6}{'dups':>6}{'scale events':>14}")
    for name, policy, start in [("fixed(8)", FixedPolicy(8), 8), ("reactive", ReactivePolicy(), 2),
                                ("target", TargetPolicy(), 2), ("rl", RLPolicy.load(), 2)]:
        with RedisServer(Path(tempfile.mkdtemp(prefix="bench-as-"))) as srv:
            launcher = ProcessLauncher(srv.url)
            ctl = WorkflowController(srv.url, launcher, RunConfig(
                tasks=tasks, workers=start, workload=w, policy=policy, batch=1, tick_s=0.05))
            s = ctl.run(timeout_s=seconds * 4 + 30)
            ctl.close()
        print(f"  {name:<10}{s.qos * 100:>8.2f}%{s.mean_workers:>14.2f}{s.lost:>6}{s.duplicates:>6}"
              f"{len(s.scale_events):>14}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--real-seconds", type=float, default=20.0)
    ap.add_argument("--real-scale", type=float, default=0.5)
    ap.add_argument("--no-real", action="store_true")
    args = ap.parse_args()
    workload = load_workload(ROOT / "demo" / "phases.yaml")
    simulated(workload, args.seeds)
    if not args.no_real:
        real(workload, args.real_seconds, args.real_scale)


if __name__ == "__main__":
    main()
