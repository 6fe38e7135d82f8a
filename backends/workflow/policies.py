"""Autoscaling policies behind one interface: ``decide(observation) -> workers``.

- ``fixed``: always the same count (the yardstick).
- ``reactive``: the textbook baseline: ceil(arrival rate x service time), the
  workers a perfectly smooth load would need, re-evaluated every decision.
- ``target``: keeps the expected queue wait under a target (a share of the
  deadline): it sizes the pool to drain the backlog within the target on top of
  the offered load, scales up at once, and scales down one worker at a time,
  only after ``cooldown`` calm decisions in a row (hysteresis); deadlines missed
  while tasks queue are not calm, missed with an empty queue are (more workers would
  not meet them: on a machine short of CPU they only add to the contention).
- ``rl``: a tabular agent (``rl.py``) over the seed environment's observation
  with its actions -1/0/+1, trained through the gymnasium environment
  (``training.py``) and shipped as package data (``data/rl_table.json``).

Every policy is clamped to 1..32 workers by the caller.
"""

from __future__ import annotations

import math

from .observation import Observation, Policy
from .rl import RLPolicy

__all__ = [
    "Observation",
    "Policy",
    "FixedPolicy",
    "ReactivePolicy",
    "TargetPolicy",
    "RLPolicy",
    "make_policy",
    "POLICY_NAMES",
]

POLICY_NAMES = ("fixed", "reactive", "target", "rl")


class FixedPolicy(Policy):
    name = "fixed"

    def __init__(self, workers: int):
        self.workers = workers

    def decide(self, obs: Observation) -> int:
        return self.workers


class ReactivePolicy(Policy):
    """ceil(lambda x S / utilisation): the usual baseline (what an HPA-style scaler
    with a utilisation target does) sized for the arrival rate just measured.

    Args:
        utilisation: the busy share each worker is sized for (0.8: 20% headroom).
    """

    name = "reactive"

    def __init__(self, utilisation: float = 0.8):
        if not 0 < utilisation <= 1:
            raise ValueError("utilisation must be in (0, 1]")
        self.utilisation = utilisation

    def decide(self, obs: Observation) -> int:
        return max(1, math.ceil(obs.arrival_rate * obs.service_time_s / self.utilisation))


class TargetPolicy(Policy):
    """Keep the expected queue wait under ``target`` x deadline, with hysteresis.

    Args:
        target: the wait to stay under, as a share of the task deadline.
        headroom: utilisation the pool is sized for (load / workers).
        cooldown: calm decisions in a row before removing one worker.
    """

    name = "target"
    interval_s = 0.5

    def __init__(self, target: float = 0.25, headroom: float = 0.7, cooldown: int = 2):
        self.target = target
        self.headroom = headroom
        self.cooldown = cooldown
        self._calm = 0
        self._rate = 0.0
        self._service = 1.0

    @property
    def window_s(self) -> float:
        """The observation window: about 7 tasks' worth of time (1..10 s), so the arrival
        rate is steady for long tasks and still fresh for short ones."""
        return min(10.0, max(1.0, 7.0 * self._service))

    def reset(self) -> None:
        self._calm = 0
        self._rate = 0.0
        self._service = 1.0

    def decide(self, obs: Observation) -> int:
        s = max(obs.service_time_s, 1e-4)
        self._service = s
        n = max(obs.workers, obs.desired, 1)
        # a rising load is followed at once, a falling one slowly (peak-hold)
        self._rate = obs.arrival_rate if obs.arrival_rate > self._rate else 0.7 * self._rate + 0.3 * obs.arrival_rate
        target_wait = max(self.target * max(obs.deadline_s, 2 * s), s)
        wait = obs.queue_len * s / n  # time to drain what waits with the current pool
        need = math.ceil(self._rate * s / self.headroom + obs.queue_len * s / target_wait)
        # deadlines missed while tasks queue: hold (more workers help); missed with an
        # empty queue, the misses are not the pool's to fix (a loaded machine): it may shrink
        missing = obs.recent_qos is not None and obs.recent_qos < 0.97 and obs.queue_len > 0
        if wait > target_wait or need > n or missing:
            self._calm = 0
            return max(need, n + (1 if wait > target_wait else 0))
        if need < n:
            self._calm += 1
            if self._calm >= self.cooldown:
                self._calm = 0
                return n - 1
        else:
            self._calm = 0
        return n


def make_policy(name: str, **kwargs) -> Policy:
    """A policy by name: fixed (needs workers=), reactive, target, rl."""
    if name == "fixed":
        return FixedPolicy(int(kwargs.get("workers", 4)))
    if name == "reactive":
        return ReactivePolicy()
    if name == "target":
        return TargetPolicy(**{k: v for k, v in kwargs.items() if k in ("target", "headroom", "cooldown")})
    if name == "rl":
        return RLPolicy.load(kwargs.get("table"))
    raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(POLICY_NAMES)}")
