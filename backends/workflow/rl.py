"""The ``rl`` autoscaling policy: a tabular agent over the seed's observation.

State: the seed environment's observation vector (``Observation.vector()``),
bucketed into what decides a pool's size: the work in the system per worker
(Little's law: arrival rate x mean completion time / workers), the queue per
worker, its change since the last decision, the pool size and the recent QoS.
Actions: the seed's Discrete(3), -1, 0, +1 worker, every ``interval_s`` (0.25 s:
one worker at a time cannot follow the seed's jumps from 90 to 450 tasks/min at
its 10 s steps), with a shield: whenever the work per worker is over
``SHIELD_LOAD`` or more tasks wait than there are workers, the action is +1
whatever the table says (the table learns everything else).

The table is package data (``data/rl_table.json``, read with importlib.resources),
learnt through the gymnasium environment by ``training.py`` (``python -m
backends.workflow.training``). States the training never visited fall back to a
plain rule (work per worker > 0.85 or a queue -> +1, < 0.45 -> -1).
"""

from __future__ import annotations

import bisect
import json
from importlib import resources

from .observation import ACTIONS, Observation, Policy

__all__ = [
    "RLPolicy",
    "state_of",
    "ACTIONS",
    "TABLE_RESOURCE",
    "load_table",
    "fallback_action",
    "shielded",
    "SHIELD_LOAD",
]

TABLE_RESOURCE = "data/rl_table.json"
LOAD_BINS = (0.3, 0.45, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.4)
QUEUE_BINS = (0.05, 0.3, 0.75, 1.5, 3.0)
WORKER_BINS = (2, 4, 6, 9, 13, 19, 26)
SHIELD_LOAD = 0.8


def state_of(vector, previous=None) -> str:
    """The bucketed state of a seed observation vector (``previous``: the one before)."""
    v = [float(x) for x in vector]
    n = max(1.0, v[4])
    load = v[7] * v[5] / n
    q = v[1] / n
    qos = v[8]
    qb = 0 if qos >= 0.995 else (1 if qos >= 0.95 else 2)
    trend = 1
    if previous is not None:
        d = (v[7] - float(previous[7])) / max(1.0, float(previous[7]))
        trend = 0 if d < -0.1 else (2 if d > 0.1 else 1)
    return (
        f"{bisect.bisect(LOAD_BINS, load)}.{bisect.bisect(QUEUE_BINS, q)}."
        f"{bisect.bisect(WORKER_BINS, n - 1)}.{qb}.{trend}"
    )


def shielded(vector) -> bool:
    """True when the pool is overloaded: the action must be +1."""
    v = [float(x) for x in vector]
    n = max(1.0, v[4])
    return v[7] * v[5] / n > SHIELD_LOAD or v[1] > n


def fallback_action(vector) -> int:
    """The action index of the plain rule for an unvisited state."""
    v = [float(x) for x in vector]
    n = max(1.0, v[4])
    load = v[7] * v[5] / n
    if load > 0.85 or v[1] > n:
        return 2
    if load < 0.45:
        return 0
    return 1


def load_table(resource: str = TABLE_RESOURCE) -> dict:
    """The shipped table: {"actions", "state", "q": {state: [q(-1), q(0), q(+1)]}, ...}."""
    return json.loads(resources.files(__package__).joinpath(resource).read_text())


class RLPolicy(Policy):
    """Greedy over a Q table; ``act(vector)`` for an agent loop, ``decide(obs)`` for the
    controller and the simulator."""

    name = "rl"
    interval_s = 0.25
    window_s = 3.0

    def __init__(
        self, q: dict[str, list[float]] | None = None, *, interval_s: float | None = None, window_s: float | None = None
    ):
        self.q: dict[str, list[float]] = q if q is not None else {}
        if interval_s:
            self.interval_s = interval_s
        if window_s:
            self.window_s = window_s
        self._prev = None

    @classmethod
    def load(cls, table: dict | None = None) -> RLPolicy:
        """The shipped table, or ``table`` (a dict as ``load_table`` returns)."""
        table = table if table is not None else load_table()
        return cls(
            {s: list(row) for s, row in table["q"].items()},
            interval_s=table.get("interval_s"),
            window_s=table.get("window_s"),
        )

    def reset(self) -> None:
        self._prev = None

    def act(self, vector) -> int:
        """The action index (0, 1, 2 -> -1, 0, +1) for a seed observation vector."""
        s = state_of(vector, self._prev)
        self._prev = list(vector)
        return self.choose(s, vector)

    def choose(self, state: str, vector) -> int:
        """Greedy in ``state`` (the shield, then the table, then the plain rule)."""
        if shielded(vector):
            return 2
        row = self.q.get(state)
        if row is None or not any(row):
            return fallback_action(vector)
        return max(range(3), key=lambda i: (row[i], i == 1))

    def decide(self, obs: Observation) -> int:
        return max(1, obs.workers) + ACTIONS[self.act(obs.vector())]
