"""What an autoscaling policy sees and the interface every policy has.

``Observation`` is built the same way by the controller (from Redis, on a real
run) and by the simulator, and carries the seed RL environment's observation
(``vector()``: ``[input_q, worker_q, result_q, output_q, workers, avg_time,
max_time, arrival_rate, qos_rate]``) next to what faastui's own policies use.
``Policy.decide(observation) -> workers``; the caller clamps it to 1..32.

This module imports nothing else of the workflow, so the controller, the
simulator, the policies and the gymnasium environment all depend on it and never
on each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Observation", "Policy", "OBSERVATION_FIELDS", "ACTIONS"]

#: the seed environment's observation, in order
OBSERVATION_FIELDS = (
    "input_q",
    "worker_q",
    "result_q",
    "output_q",
    "workers",
    "avg_time",
    "max_time",
    "arrival_rate",
    "qos_rate",
)
#: the seed's Discrete(3) actions: index -> change in workers
ACTIONS = (-1, 0, 1)


@dataclass
class Observation:
    t: float  # seconds since the run began
    queue_len: int  # tasks waiting in worker_queue (the seed's worker_q)
    workers: int  # workers running now
    arrival_rate: float  # tasks/s arrived (enqueued) over the observation window
    completion_rate: float  # tasks/s collected over the window
    service_time_s: float  # mean processing time of a task
    recent_qos: float | None  # share of deadlines met over the window (None: none completed)
    desired: int = 0  # the current target
    deadline_s: float = 0.1  # a typical deadline
    input_q: int = 0
    result_q: int = 0
    output_q: int = 0
    avg_time: float = 1.5  # mean task_completion_time over the window (the seed's default)
    max_time: float = 1.5

    def vector(self) -> list[float]:
        """The seed environment's 9 values."""
        return [
            float(self.input_q),
            float(self.queue_len),
            float(self.result_q),
            float(self.output_q),
            float(self.workers),
            float(self.avg_time),
            float(self.max_time),
            float(self.arrival_rate),
            1.0 if self.recent_qos is None else float(self.recent_qos),
        ]

    @classmethod
    def from_vector(cls, v, t: float = 0.0) -> Observation:
        """An Observation from the seed's 9 values (what an agent in the gym env gets)."""
        v = [float(x) for x in v]
        return cls(
            t=t,
            queue_len=int(v[1]),
            workers=int(v[4]),
            arrival_rate=v[7],
            completion_rate=0.0,
            service_time_s=v[5],
            recent_qos=v[8],
            desired=int(v[4]),
            input_q=int(v[0]),
            result_q=int(v[2]),
            output_q=int(v[3]),
            avg_time=v[5],
            max_time=v[6],
        )


class Policy:
    name = "policy"
    interval_s = 1.0  # how often the controller (and the simulator) asks

    def decide(self, obs: Observation) -> int:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget history (a new run)."""
