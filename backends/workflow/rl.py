"""The ``rl`` autoscaling policy: tabular Q-learning over a small state space.

State (each bucketed): offered load per worker (arrival rate x service time /
workers), queue length per worker, the pool size, and the recent QoS.
Actions: -1, 0, +1 worker, every ``interval_s`` (0.25 s). Reward per decision:
``-WORKER_COST x workers - MISS_COST x deadlines missed - QUEUE_COST x queue``
(the queue term matters: misses are only seen when tasks complete, so without
it a starved pool looks cheap).

The agent is trained in the simulator (``train()``, or ``python -m
backends.workflow.rl``) on the four-phase workload with random seeds and
scaled rates, and the learned table ships as ``rl_table.py`` (a Python dict,
so it is packaged like code). States the training never visited fall back to a
plain rule (load > 0.85 or a queue -> +1, load < 0.45 -> -1).
"""

from __future__ import annotations

import bisect
import copy
import random

from .policies import Observation, Policy

__all__ = ["RLPolicy", "train", "state_of", "ACTIONS"]

ACTIONS = (-1, 0, 1)
LOAD_BINS = (0.3, 0.45, 0.6, 0.75, 0.85, 1.0, 1.2)
QUEUE_BINS = (0.25, 0.75, 1.5, 3.0)
WORKER_BINS = (2, 4, 6, 9, 13, 19, 26)
WORKER_COST = 0.05
MISS_COST = 2.0
QUEUE_COST = 0.05  # per waiting task: misses show only at completion, a backlog at once


def state_of(obs: Observation) -> str:
    n = max(1, obs.workers)
    load = obs.arrival_rate * obs.service_time_s / n
    q = obs.queue_len / n
    qos = 0 if obs.recent_qos is None or obs.recent_qos >= 0.99 else (1 if obs.recent_qos >= 0.9 else 2)
    return (f"{bisect.bisect(LOAD_BINS, load)}.{bisect.bisect(QUEUE_BINS, q)}."
            f"{bisect.bisect(WORKER_BINS, n - 1)}.{qos}")


def _fallback(obs: Observation) -> int:
    n = max(1, obs.workers)
    load = obs.arrival_rate * obs.service_time_s / n
    if load > 0.85 or obs.queue_len > n:
        return 1
    if load < 0.45:
        return -1
    return 0


class RLPolicy(Policy):
    """Greedy over a Q table (or epsilon-greedy and learning when ``training``)."""
    name = "rl"
    interval_s = 0.25

    def __init__(self, table: dict[str, list[float]] | None = None, *, training: bool = False,
                 epsilon: float = 0.1, alpha: float = 0.1, gamma: float = 0.95, seed: int = 0):
        self.q: dict[str, list[float]] = table if table is not None else {}
        self.training = training
        self.epsilon, self.alpha, self.gamma = epsilon, alpha, gamma
        self.rng = random.Random(seed)
        self._prev: tuple[str, int] | None = None
        self._reward = 0.0

    @classmethod
    def load(cls, table=None) -> "RLPolicy":
        """The shipped table (``rl_table.TABLE``), or ``table`` (a dict)."""
        if table is None:
            from .rl_table import TABLE

            table = copy.deepcopy(TABLE["q"])
        return cls(table)

    def reset(self) -> None:
        self._prev = None
        self._reward = 0.0

    # the simulator calls this with the interval's outcome before decide()
    def learn(self, obs: Observation, info: dict) -> None:
        self._reward = (-WORKER_COST * info["workers"] - MISS_COST * info["missed"]
                        - QUEUE_COST * info["queue"])

    def decide(self, obs: Observation) -> int:
        s = state_of(obs)
        row = self.q.get(s)
        if self.training:
            if row is None:
                row = self.q[s] = [0.0, 0.0, 0.0]
            if self._prev is not None:
                ps, pa = self._prev
                prow = self.q[ps]
                prow[pa] += self.alpha * (self._reward + self.gamma * max(row) - prow[pa])
            if self.rng.random() < self.epsilon:
                a = self.rng.randrange(3)
            else:
                a = max(range(3), key=lambda i: (row[i], i == 1))
            self._prev = (s, a)
            step = ACTIONS[a]
        elif row is None or row == [0.0, 0.0, 0.0]:
            step = _fallback(obs)
        else:
            step = ACTIONS[max(range(3), key=lambda i: (row[i], i == 1))]
        return max(1, obs.workers) + step


def train(episodes: int = 300, seed: int = 0, workload=None, log=None) -> RLPolicy:
    """Q-learning in the simulator. Returns the trained (training=False) policy."""
    from .phases import load_workload
    from .simulator import simulate

    if workload is None:
        from pathlib import Path

        workload = load_workload(Path(__file__).resolve().parents[2] / "demo" / "phases.yaml")
    agent = RLPolicy(training=True, seed=seed)
    rng = random.Random(seed)
    for ep in range(episodes):
        w = copy.deepcopy(workload)
        scale = rng.uniform(0.6, 1.4)
        for p in w.phases:
            for f in ("rate", "min_rate", "max_rate", "burst_rate", "from_rate", "to_rate"):
                setattr(p, f, getattr(p, f) * scale)
        agent.epsilon = max(0.02, 0.3 * (1 - ep / (0.8 * episodes)))
        res = simulate(w, agent, workers=rng.randint(1, 16), seed=rng.randrange(1 << 30),
                       learn=agent.learn)
        if log is not None and (ep % 25 == 0 or ep == episodes - 1):
            log(f"episode {ep}: qos {res.qos:.4f} mean workers {res.mean_workers:.2f} "
                f"states {len(agent.q)}")
    agent.training = False
    return agent


def write_table(agent: RLPolicy, path) -> None:
    import json

    q = {s: [round(v, 4) for v in row] for s, row in sorted(agent.q.items())}
    text = ('"""The shipped Q table of the ``rl`` policy (generated by '
            '``python -m backends.workflow.rl``; do not edit)."""\n\n'
            f"TABLE = {json.dumps({'actions': list(ACTIONS), 'q': q}, indent=0)}\n")
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    trained = train(n, log=lambda m: print(m, file=sys.stderr))
    write_table(trained, Path(__file__).with_name("rl_table.py"))
    print(f"wrote {len(trained.q)} states", file=sys.stderr)
