"""Train the ``rl`` policy through the gymnasium environment and write its table.

    python -m backends.workflow.training [--episodes 1500] [--seed 0] [--out PATH]

Tabular SARSA(lambda), as the seed's SARSA agent learns (a table over a bucketed
observation, epsilon-greedy, decaying epsilon, eligibility traces), against
``SimulatedWorkflowEnv``:
the seed's observation and its Discrete(3) actions, one step every
``RLPolicy.interval_s`` with an observation window of ``RLPolicy.window_s``.
Episodes are the seed's four phases with the base rate scaled at random
(0.6x..1.4x) and the phases shuffled half the time (the seed's ``--phase-shuffle``),
plus the demo's four phases (100 ms tasks), so the table is not tied to one load.

The reward is faastui's, not the seed's: it charges the pool's worker-seconds,
each missed deadline (``MISS_COST`` worker-seconds: the goal is 99.2% QoS at the
fewest workers) as soon as it is certain (the simulator knows when a waiting task
can no longer make it), and the waiting queue.
The result is written as JSON to ``data/rl_table.json`` (package data, read by
``rl.load_table``). Needs the ``rl`` extra (gymnasium).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from pathlib import Path

from .phases import Workload, load_workload, seed_workload
from .rl import ACTIONS, RLPolicy, shielded, state_of

__all__ = ["train", "evaluate", "write_table", "make_env", "MISS_COST", "WORKER_COST", "QUEUE_COST"]

WORKER_COST = 1.0  # per worker-second
MISS_COST = 60.0  # per missed deadline, in worker-seconds
QUEUE_COST = 0.2  # per waiting task per second, over the queue the pool can absorb


def reward(vec, delta: int, info: dict, step_s: float) -> float:
    workers, queue = float(vec[4]), float(vec[1])
    return -(
        WORKER_COST * workers * step_s + MISS_COST * info["missed"] + QUEUE_COST * max(0.0, queue - workers) * step_s
    )


def make_env(workload: Workload | None = None, *, workload_factory=None):
    """The training environment (steps and window of the shipped policy)."""
    from .gym_env import SimulatedWorkflowEnv  # deferred: gymnasium is an optional extra

    step = RLPolicy.interval_s
    return SimulatedWorkflowEnv(
        workload,
        workload_factory=workload_factory,
        step_duration=step,
        observation_window=RLPolicy.window_s,
        initial_workers=1,
        reward_fn=lambda v, d, info: reward(v, d, info, step),
    )


def _varied(demo: Workload):
    def factory(np_rng):
        rng = random.Random(int(np_rng.integers(0, 2**31)))
        if rng.random() < 0.2:
            return copy.deepcopy(demo)
        w = seed_workload(300.0 * rng.uniform(0.6, 1.4))
        if rng.random() < 0.5:
            rng.shuffle(w.phases)
        return w

    return factory


def train(
    episodes: int = 1500,
    seed: int = 0,
    *,
    alpha: float = 0.05,
    gamma: float = 0.98,
    trace_lambda: float = 0.8,
    epsilon: float = 0.1,
    log=None,
) -> RLPolicy:
    """SARSA(lambda) in the simulated environment (the seed trains SARSA with traces
    too). The shield's +1 is the action taken and learnt in overloaded states.
    Returns the greedy policy."""
    demo = load_workload(Path(__file__).resolve().parents[2] / "demo" / "phases.yaml")
    env = make_env(workload_factory=_varied(demo))
    policy = RLPolicy({})
    q = policy.q
    rng = random.Random(seed)

    def choose(state, vec, eps):
        q.setdefault(state, [0.0, 0.0, 0.0])
        if not shielded(vec) and rng.random() < eps:
            return rng.randrange(3)
        return policy.choose(state, vec)

    for ep in range(episodes):
        eps = max(0.01, epsilon * (1 - ep / (0.8 * episodes)))
        vec, _ = env.reset(seed=seed * 100_003 + ep)
        s = state_of(vec, None)
        a = choose(s, vec, eps)
        traces: dict[tuple[str, int], float] = {}
        done = False
        while not done:
            nvec, r, terminated, truncated, info = env.step(a)
            ns = state_of(nvec, vec)
            na = choose(ns, nvec, eps)
            delta = r + (0.0 if terminated else gamma * q[ns][na]) - q[s][a]
            traces[(s, a)] = 1.0  # replacing traces
            for key in list(traces):
                q[key[0]][key[1]] += alpha * delta * traces[key]
                traces[key] *= gamma * trace_lambda
                if traces[key] < 1e-3:
                    del traces[key]
            vec, s, a = nvec, ns, na
            done = terminated or truncated
        if log is not None and (ep % 100 == 0 or ep == episodes - 1):
            log(
                f"episode {ep}: final QoS {env.get_episode_final_qos():.4f} "
                f"mean workers {info['mean_workers']:.2f} states {len(q)}"
            )
    return policy


def evaluate(policy: RLPolicy, workload: Workload | None = None, seeds=range(1000, 1010)) -> dict:
    """QoS and mean workers of ``policy`` acting through the environment, per seed."""
    env = make_env(workload or seed_workload())
    out = []
    for sd in seeds:
        vec, _ = env.reset(seed=sd)
        policy.reset()
        done = False
        while not done:
            vec, _, terminated, truncated, info = env.step(policy.act(vec))
            done = terminated or truncated
        out.append((env.get_episode_final_qos(), info["mean_workers"]))
    return {"qos": [round(a, 4) for a, _ in out], "mean_workers": [round(b, 2) for _, b in out]}


def write_table(policy: RLPolicy, path: Path, meta: dict | None = None) -> None:
    q = {s: [round(v, 3) for v in row] for s, row in sorted(policy.q.items()) if any(row)}
    data = {
        "about": "The rl policy's Q table (generated by python -m backends.workflow.training; do not edit).",
        "actions": list(ACTIONS),
        "interval_s": RLPolicy.interval_s,
        "window_s": RLPolicy.window_s,
        "state": "rl.state_of",
        **(meta or {}),
        "q": q,
    }
    head = json.dumps({k: v for k, v in data.items() if k != "q"}, indent=1)[:-2]
    rows = ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in q.items())
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(head + ',\n "q": {\n' + rows + "\n }\n}\n")
    tmp.replace(path)  # never a half-written table


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("data") / "rl_table.json")
    args = ap.parse_args(argv)
    policy = train(args.episodes, args.seed, log=lambda m: print(m, file=sys.stderr))
    result = evaluate(policy)
    print(f"seed's four phases, 10 seeds: {result}", file=sys.stderr)
    write_table(policy, args.out, {"episodes": args.episodes, "training_seed": args.seed, "evaluation": result})
    print(f"wrote {len(policy.q)} states to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
