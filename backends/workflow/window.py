"""What an autoscaling policy sees of a running workflow: the controller's observation window.

``ObservationWindow`` keeps, tick by tick, the run's ``enqueued_total`` and ``completed``
counters over the last ``window_s`` seconds and turns them, with the newest records on
``output_queue``, into an ``Observation`` the way the seed's environment computes one:
queue lengths, live workers, the arrival and completion rates, the mean and max
``task_completion_time`` and the QoS share of the outputs collected in the window.
The controller asks it before each policy decision; the gymnasium environment asks it
after each step.
"""

from __future__ import annotations

import json
import time
from collections import deque

from . import messages as M
from . import protocol as P
from .observation import Observation
from .status import Status

__all__ = ["ObservationWindow", "OUTPUT_SAMPLE"]

OUTPUT_SAMPLE = 1000  # newest output records read for an observation window


class ObservationWindow:
    """Args: r (the controller's client), config (its ``RunConfig``)."""

    def __init__(self, r, config):
        self.r = r
        self.config = config
        self._enqueued: deque = deque()  # (monotonic, enqueued_total) over the window
        self._completed: deque = deque()  # (monotonic, completed)
        self.t0 = time.monotonic()  # when the run started counting (rates before a full window)

    @property
    def window_s(self) -> float:
        return getattr(self.config.policy, "window_s", None) or self.config.window_s

    def remember(self, now: float, s: Status) -> None:
        """One tick's counters; what fell out of the window is dropped."""
        self._enqueued.append((now, s.enqueued_total))
        self._completed.append((now, s.completed))
        for hist in (self._enqueued, self._completed):
            while len(hist) > 2 and hist[1][0] <= now - self.window_s:
                hist.popleft()

    def _rate(self, hist) -> float:
        # what arrived in the window, over the window (or the run so far, if shorter),
        # as the simulator counts it: not over the span of the samples, which is
        # a fraction of a second at the start
        span = min(self.window_s, time.monotonic() - self.t0)
        if len(hist) < 2 or span <= 0:
            return 0.0
        return (hist[-1][1] - hist[0][1]) / span

    def observe(self, s: Status, clock: M.Clock, started_at: float) -> Observation:
        """The Observation for status ``s`` (``clock``: the run's program clock)."""
        since = clock.now() - self.window_s
        times, met, deadlines = [], 0, []
        for item in self.r.lrange(P.OUTPUT_QUEUE, 0, OUTPUT_SAMPLE - 1):
            try:
                rec = json.loads(item)
                if float(rec.get("task_collect_timestamp") or 0.0) < since:
                    break  # newest first: the rest are older
                times.append(float(rec.get("task_completion_time") or 0.0))
                met += bool(rec.get("task_QoS"))
                deadlines.append(float(rec.get("task_deadline") or 0.0))
            except (TypeError, ValueError, AttributeError):
                continue
        service = self.config.workload.mean_task_s
        if deadlines and (
            self.config.workload.duration_dist == "image_processing" or self.config.serve or not self.config.tasks
        ):
            service = sum(deadlines) / len(deadlines) / 2.0  # a deadline is 2 x processing
        return Observation(
            t=time.time() - started_at,
            queue_len=s.queue,
            workers=s.workers,
            arrival_rate=self._rate(self._enqueued),
            completion_rate=self._rate(self._completed),
            service_time_s=service,
            recent_qos=(met / len(times)) if times else None,
            desired=s.desired,
            deadline_s=P.deadline_for(service),
            input_q=s.input,
            result_q=s.results,
            output_q=s.output,
            avg_time=(sum(times) / len(times)) if times else 1.5,
            max_time=max(times) if times else 1.5,
        )
