"""The run's worker pool as the controller keeps it: launches, and the scale-down handshake.

``WorkerPool`` launches workers (each registers in ``workflow:workers`` and pushes its
START), follows each launch until the worker registers or the launch timeout passes,
notices the workers that left (an ACK, a TERMINATE, the run's stop or the reaper) and
hands them back to the launcher, and ``reconcile()`` brings the pool to the desired
count: too few workers -> take back the controller's own SYNs no worker has read yet,
then launch; too many -> one seed SCALE_DOWN SYN per worker to stop (``SYN_LUA``
records them in ``OWN_SYNS_KEY`` so their ACKs come back to the controller, not to
the seed's scaler). A SYN someone else pushed is never taken back.
"""

from __future__ import annotations

import time
import uuid

from . import messages as M
from . import protocol as P
from .status import Status

__all__ = ["WorkerPool"]


class WorkerPool:
    """Args: r (the controller's client), launcher, config (the ``RunConfig``), run_id,
    payload(role, **extra) (a loop's start payload), note(text) (a line for the run's
    log) and touch() (shows the controller is alive)."""

    def __init__(self, r, launcher, config, run_id: str, payload, note, touch):
        self.r = r
        self.launcher = launcher
        self.config = config
        self.run_id = run_id
        self.payload = payload
        self.note = note
        self.touch = touch
        self._take_back = r.register_script(P.TAKE_BACK_LUA)
        self._syn = r.register_script(P.SYN_LUA)
        self.pending: dict[str, float] = {}  # worker id launched -> when, until it registers
        self.launched: set[str] = set()  # worker ids started and not yet seen to leave
        self._n = 0

    def launch(self) -> None:
        """Start one worker; a launcher error is noted and the next tick tries again."""
        from ..errors import BackendError

        self._n += 1
        try:
            wid = self.launcher.launch(
                "worker",
                self.payload(
                    "worker",
                    worker_id=f"w-{self.run_id}-{self._n}",
                    batch=self.config.batch,
                    heartbeat_ttl_s=self.config.heartbeat_ttl_s,
                    work=self.config.work,
                ),
            )
        except BackendError as exc:  # the next tick tries again; the run goes on
            self.note(f"starting a worker failed: {exc}")
            return
        finally:
            self.touch()
        self.pending[wid] = time.monotonic()  # the launcher may name it (worker-3 on a cluster)
        self.launched.add(wid)

    def await_registered(self, n: int) -> None:
        """Wait (up to the launch timeout) until ``n`` workers have registered."""
        end = time.monotonic() + self.config.launch_timeout_s
        while time.monotonic() < end and self.r.hlen(P.WORKERS_KEY) < n:
            self.launcher.poll()
            self.touch()
            time.sleep(0.02)

    def track(self, raw: dict, now: float) -> None:
        """One tick's look at ``workflow:workers`` (``raw``: the status script's read)."""
        present = {w[0] for w in raw["workers"]}
        live = {w[0] for w in raw["workers"] if w[2] == 1}
        for wid in list(self.pending):
            if wid in live:
                del self.pending[wid]
            elif now - self.pending[wid] > self.config.launch_timeout_s:
                del self.pending[wid]
                self.note(f"worker {wid} did not start within {self.config.launch_timeout_s:g} s")
        for wid in [w for w in self.launched if w not in present and w not in self.pending]:
            self.launched.discard(wid)  # it left (ACK, TERMINATE, stop or reaped)
            retire = getattr(self.launcher, "retire", None)
            if retire is not None:
                retire(wid)

    def reconcile(self, s: Status, raw: dict, desired: int, clock: M.Clock) -> None:
        """Launch or SYN workers until the pool is heading for ``desired``."""
        own_pending = int(raw.get("own_syns") or 0)
        effective = s.workers + len(self.pending) - own_pending
        if effective < desired:
            short = desired - effective
            if own_pending:  # take back our own SYNs no worker has read yet
                short -= int(self._take_back(keys=[P.SYN_QUEUE, P.OWN_SYNS_KEY], args=[short]))
            for _ in range(max(0, short)):
                self.launch()
        elif effective > desired:
            msgs = [
                M.dumps(M.syn("SCALE_DOWN", "Scale down request from faastui", clock, request=uuid.uuid4().hex[:12]))
                for _ in range(effective - desired)
            ]
            self._syn(keys=[P.SYN_QUEUE, P.OWN_SYNS_KEY], args=msgs)
