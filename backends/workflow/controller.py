"""The workflow controller: start a run, keep the worker pool at its target, finish.

``WorkflowController(url, launcher, RunConfig(...))`` runs one workflow:

1. ``start()`` stops what is left of an earlier run, clears the seed's queues and
   the workflow's keys, sets the program start, launches the collector, the
   emitter and ``workers`` workers (each pushes its START), pushes WORKFLOW_INIT
   on ``workflow_init_syn_queue`` once they are up, and puts the run's own
   workload (if it has tasks) on ``input_queue`` for the emitter.
2. ``tick()`` (every ``tick_s``) reads everything in one script, runs the reaper,
   launches another emitter or collector if one died (``roles.py``: their
   leases), drains the ACKs of its own SYNs, asks the autoscaling policy (every
   ``interval_s``, with what ``window.py`` observes) and reconciles the pool
   (``pool.py``) with the desired count in
   ``faastui:scale:worker``, which ``faastui scale worker N`` also writes: too few
   workers -> take back its own unread SYNs, then launch; too many -> one seed
   SCALE_DOWN SYN per worker to stop. A SYN someone else pushed is answered by a
   worker like any other and lowers the desired count as it is taken, so the pool
   stays one smaller; the controller never consumes it.
3. ``run()`` ticks until every task is collected (a run with tasks of its own
   and no ``serve``), or the emitter and the collector took a TERMINATE and the
   workers are gone, or ``workflow:stop``, or a timeout; then it stops what is left
   and returns a ``Summary``. While Redis does not answer, it waits (one line on
   stderr, up to ``redis_wait_s``) and resumes when it is back; past that the run
   ends with ``Unreachable`` (what the run holds stays in Redis).

The state a ``faastui workflow status`` in another process needs is kept in
Redis (``workflow:run``, ``workflow:stats``, ``workflow:workers``).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass, field

from . import messages as M
from . import protocol as P
from ._redis import REDIS_ERRORS, connect
from .observation import Observation, Policy
from .phases import Workload, steady
from .pool import WorkerPool
from .reaper import Reaper
from .roles import RoleKeeper
from .status import (
    _STATUS_KEYS,
    _STATUS_LUA,
    MAX_WORKERS,
    MIN_WORKERS,
    Status,
    StatusReader,
    Summary,
    _status_from,
    read_status,
    request_scale,
    request_stop,
    stop_run,
)
from .window import ObservationWindow

__all__ = [
    "RunConfig",
    "Summary",
    "Status",
    "WorkflowController",
    "read_status",
    "stop_run",
    "StatusReader",
    "request_stop",
    "request_scale",
    "MIN_WORKERS",
    "MAX_WORKERS",
]


@dataclass
class RunConfig:
    tasks: int
    workers: int = 4
    workload: Workload = field(default_factory=lambda: steady(0.0))
    policy: Policy | None = None
    batch: int = 50
    heartbeat_ttl_s: float = 3.0
    tick_s: float = 0.1
    decide_s: float = 1.0  # when the policy names no interval_s of its own
    launch_timeout_s: float = 15.0
    min_workers: int = MIN_WORKERS
    max_workers: int = MAX_WORKERS
    run_id: str = ""
    work: str = "sleep"
    serve: bool = False  # keep serving input_queue after the run's own tasks, until TERMINATE
    window_s: float = 10.0  # the observation window (a policy's window_s wins)
    redis_wait_s: float = 300.0  # how long a run waits for a Redis that went away


class WorkflowController:
    """Runs one workflow over ``launcher``; see the module docstring.

    Args:
        url: Redis URL.
        launcher: a ``ProcessLauncher``, ``EngineLauncher`` or ``ClusterLauncher``.
        config: the run.
        on_tick: called with the Status after each tick (progress bars).
    """

    def __init__(self, url: str, launcher, config: RunConfig, on_tick=None):
        self.url = url
        self.r = connect(url)
        self.launcher = launcher
        self.config = config
        self.on_tick = on_tick
        self.run_id = config.run_id or uuid.uuid4().hex[:8]
        self._status = self.r.register_script(_STATUS_LUA)
        self.reaper = Reaper(self.r)
        self.roles = RoleKeeper(self.r, self._launch_role, self._note, config.launch_timeout_s)
        self.pool = WorkerPool(self.r, launcher, config, self.run_id, self._payload, self._note, self._touch)
        self.window = ObservationWindow(self.r, config)
        self.acks: list[dict] = []
        self.scale_events: list[dict] = []
        self.started_at = 0.0
        self.clock = M.Clock(time.time())
        self._worker_seconds = 0.0
        self._last_tick = 0.0
        self._last_decide = 0.0
        self._started_redis = 0.0
        self.status = Status()

    # ---- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        self._retire_previous()
        r = self.r
        self._started_redis = P.redis_time(r)  # a stop asked before this is an earlier run's
        self.started_at = time.time()
        self.clock = M.Clock(self.started_at)
        stale = [
            k
            for pattern in ("workflow:dead:*", "workflow:emit:*", P.inflight_key("*"), P.hb_key("*"))
            for k in r.scan_iter(match=pattern, count=1000)
        ]
        pipe = r.pipeline(transaction=True)
        pipe.delete(*P.all_keys())
        if stale:
            pipe.delete(*stale)
        desired = self._clamp(self.config.workers)
        pipe.set(P.SCALE_KEY, desired)
        pipe.hset(
            P.RUN_KEY,
            mapping={
                "run_id": self.run_id,
                "state": "running",
                "tasks": self.config.tasks,
                "updated_at": self.started_at,
                "workers": desired,
                "policy": self.policy_name,
                "started_at": self.started_at,
                "program_start": repr(self.started_at),
                "serve": "1" if self.config.serve else "0",
                "workload": json.dumps(self.config.workload.to_dict()),
            },
        )
        pipe.execute()
        self._last_tick = self._last_decide = self.window.t0 = time.monotonic()
        if self.config.policy is not None:
            self.config.policy.reset()
        self.roles.start("collector")
        for _ in range(desired):
            self.pool.launch()
        self.roles.start("emitter")
        self.pool.await_registered(desired)
        r.lpush(P.INIT_QUEUE, M.dumps(M.workflow_init(self.clock)))
        if self.config.tasks > 0:
            spec = {
                "type": "workload",
                "run_id": self.run_id,
                "tasks": self.config.tasks,
                "workload": self.config.workload.to_dict(),
            }
            r.lpush(P.INPUT_QUEUE, json.dumps(spec))

    def _payload(self, role: str, **extra) -> dict:
        if role in ("emitter", "collector"):
            extra.setdefault("lease_ttl_s", self.config.heartbeat_ttl_s)
        return {"program_start": self.started_at, **extra}

    def _launch_role(self, role: str) -> None:
        try:
            self.launcher.launch(role, self._payload(role))
        finally:
            self._touch()

    def _await_loops_gone(self, timeout: float) -> None:
        """Wait (bounded) until every loop has left: a worker finishes its task first."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            roles = set(self.r.hvals(P.ROLES_KEY))
            if not self.r.hlen(P.WORKERS_KEY) and b"running" not in roles:
                return
            self.reaper.reap()  # a loop killed on the way out must not stay listed
            time.sleep(0.05)

    def _touch(self) -> None:
        """Show other processes this run's controller is alive."""
        self.r.hset(P.RUN_KEY, "updated_at", time.time())

    @property
    def policy_name(self) -> str:
        return getattr(self.config.policy, "name", "") or "fixed"

    def _retire_previous(self, wait_s: float = 10.0) -> None:
        """Stop the loops of an earlier run that are still alive."""

        def alive() -> bool:
            return any(True for _ in self.r.scan_iter(match=P.hb_key("*"), count=1000)) or bool(
                self.r.exists(P.lease_key("emitter"), P.lease_key("collector"))
            )

        if not alive() and not self.r.hlen(P.WORKERS_KEY):
            return
        self.r.set(P.STOP_KEY, repr(P.redis_time(self.r)))
        end = time.monotonic() + wait_s
        while time.monotonic() < end and alive():
            time.sleep(0.05)

    def _clamp(self, n: int) -> int:
        return max(self.config.min_workers, min(self.config.max_workers, int(n)))

    def _note(self, text: str) -> None:
        """A line on stderr (a background run's log) and in the run's hash."""
        print(f"workflow {self.run_id}: {text}", file=sys.stderr, flush=True)
        try:
            self.r.hset(P.RUN_KEY, "last_note", text[:300])
        except Exception:  # redis errors: the note is not worth failing the run
            pass

    def scale(self, n: int, why: str = "manual") -> int:
        """Set the desired worker count (clamped to the bounds). Returns it."""
        n = self._clamp(n)
        self.r.set(P.SCALE_KEY, n)
        return n

    # ---- the loop ----------------------------------------------------------------------
    def read(self) -> tuple[Status, dict]:
        raw = json.loads(self._status(keys=_STATUS_KEYS, args=[P.hb_key("")]))
        return _status_from(raw), raw

    def tick(self) -> Status:
        now = time.monotonic()
        self.reaper.reap()
        self.launcher.poll()
        for raw in self._drain(P.OWN_ACKS_KEY):
            self.acks.append(json.loads(raw))
        status, raw = self.read()
        if not status.terminating:
            self.roles.check(raw.get("roles") or {})
        self.pool.track(raw, now)
        dt = now - self._last_tick
        self._last_tick = now
        self._worker_seconds += dt * (status.workers + status.stopping)
        elapsed = time.time() - self.started_at
        status.mean_workers = self._worker_seconds / elapsed if elapsed > 0 else 0.0
        self.window.remember(now, status)
        interval = getattr(self.config.policy, "interval_s", None) or self.config.decide_s
        if self.config.policy is not None and now - self._last_decide >= interval:
            self._decide(status, raw)
            self._last_decide = now
            status.desired = int(self.r.get(P.SCALE_KEY) or status.desired)
        self._reconcile(status, raw)
        self.r.hset(P.RUN_KEY, mapping={"mean_workers": round(status.mean_workers, 4), "updated_at": time.time()})
        self.status = status
        if self.on_tick is not None:
            self.on_tick(status)
        return status

    def _drain(self, queue: str) -> list:
        pipe = self.r.pipeline(transaction=True)
        pipe.lrange(queue, 0, -1)
        pipe.delete(queue)
        return pipe.execute()[0]

    def observe(self, s: Status | None = None, raw: dict | None = None) -> Observation:
        """What a policy (and the gymnasium environment) sees now (``window.py``);
        without ``s`` the status is read (and remembered) first."""
        if s is None:
            s, raw = self.read()
            self.window.remember(time.monotonic(), s)
        return self.window.observe(s, self.clock, self.started_at)

    def _decide(self, s: Status, raw: dict) -> None:
        obs = self.observe(s, raw)
        want = self._clamp(self.config.policy.decide(obs))
        if want != s.desired:
            self.scale_events.append({"t": round(obs.t, 3), "from": s.desired, "to": want, "policy": self.policy_name})
            self.scale(want, self.policy_name)

    def _reconcile(self, s: Status, raw: dict) -> None:
        if s.terminating:
            return  # the seed's TERMINATE: nothing is started again
        desired = self._clamp(s.desired or self.config.workers)
        self.pool.reconcile(s, raw, desired, self.clock)

    def finished(self, s: Status) -> str | None:
        """Why the run is over, or None."""
        if self.config.tasks > 0 and not self.config.serve and s.completed >= self.config.tasks:
            return "done"
        if P.stop_applies(self.r.get(P.STOP_KEY), self._started_redis):
            return "stopped"
        if s.terminating or s.serve or self.config.serve:
            roles = self.r.hgetall(P.ROLES_KEY)
            states = {v.decode() if isinstance(v, bytes) else v for v in roles.values()}
            if roles and states == {"terminated"} and s.workers + s.stopping == 0:
                return "terminated"
        return None

    def run(self, timeout_s: float | None = None) -> Summary:
        """start(), tick until finished, stop(). Returns the Summary.

        Raises ``Unreachable`` if Redis stays away longer than ``redis_wait_s``."""
        from ..errors import Unreachable

        try:
            self.start()
        except REDIS_ERRORS as exc:
            self.launcher.close(timeout=5.0)
            raise Unreachable(f"the workflow's Redis does not answer: {exc}") from None
        state = "done"
        end = time.monotonic() + timeout_s if timeout_s else None
        try:
            while True:
                try:
                    s = self.tick()
                    why = self.finished(s)
                except REDIS_ERRORS as exc:
                    self._wait_for_redis(exc)
                    continue
                if why:
                    state = why
                    break
                if end is not None and time.monotonic() > end:
                    state = "timeout"
                    break
                time.sleep(self.config.tick_s)
        except KeyboardInterrupt:
            state = "interrupted"
            raise
        except Unreachable:
            state = "unreachable"
            raise
        finally:
            if state == "unreachable":
                self._close_launcher()
            else:
                try:
                    summary = self.stop(state)
                except REDIS_ERRORS as exc:  # Redis went away as the run ended
                    self._close_launcher()
                    raise Unreachable(
                        f"the workflow's Redis went away as the run ended: {exc}",
                        hint="`faastui workflow status` reads the run once Redis is back",
                    ) from None
        return summary

    def _wait_for_redis(self, exc: Exception) -> None:
        """Redis went away (the clients' own retries gave up): say so once, wait for it."""
        from ..errors import Unreachable

        limit = self.config.redis_wait_s
        print(
            f"workflow {self.run_id}: Redis does not answer ({type(exc).__name__}); "
            f"waiting up to {limit:g} s for it to come back",
            file=sys.stderr,
            flush=True,
        )
        t0 = time.monotonic()
        while True:
            try:
                self.r.ping()
                break
            except REDIS_ERRORS:
                if time.monotonic() - t0 >= limit:
                    raise Unreachable(
                        f"the workflow's Redis did not come back within {limit:g} s; the run "
                        "ends (its queues and counters stay in Redis)",
                        hint="start Redis again; `faastui workflow status` reads the run",
                    ) from None
                time.sleep(0.5)
        self._note(f"Redis is back after {time.monotonic() - t0:.1f} s; the run resumes")

    def _close_launcher(self) -> None:
        try:
            self.launcher.close(timeout=10.0)
        except Exception as exc:  # noqa: BLE001 - the run ends either way
            print(f"workflow {self.run_id}: stopping the loops: {exc}", file=sys.stderr, flush=True)

    def stop(self, state: str = "stopped") -> Summary:
        """Stop every loop of the run, wait for them, and summarise."""
        ended = time.time()
        self.r.set(P.STOP_KEY, repr(P.redis_time(self.r)))
        try:
            self.launcher.close(timeout=10.0)
        except Exception as exc:  # the run's end is still recorded
            self._note(f"stopping the loops: {exc}")
        self._await_loops_gone(10.0)
        for raw in self._drain(P.OWN_ACKS_KEY):
            self.acks.append(json.loads(raw))
        s = read_status(self.r)
        duration = ended - self.started_at
        mean_workers = self._worker_seconds / duration if duration > 0 else 0.0
        pipe = self.r.pipeline()
        pipe.llen(P.OUTPUT_QUEUE)
        pipe.scard(P.DONE_KEY)
        pipe.hgetall(P.STATS_KEY)
        pipe.get(P.ENQUEUED_KEY)
        out_len, distinct, stats, enqueued = pipe.execute()
        stats = {k.decode(): int(v) for k, v in stats.items()}
        completed = int(distinct)
        expected = max(self.config.tasks, int(enqueued or 0))
        summary = Summary(
            run_id=self.run_id,
            tasks=expected,
            completed=completed,
            duplicates=int(out_len) - completed,
            lost=max(0, expected - completed),
            qos=(stats.get("qos_met", 0) / completed) if completed else 0.0,
            mean_workers=round(mean_workers, 3),
            duration_s=round(duration, 3),
            throughput=round(completed / duration, 1) if duration > 0 else 0.0,
            policy=self.policy_name,
            duplicates_dropped=stats.get("duplicates", 0),
            requeued=stats.get("requeued", 0),
            reaped_workers=stats.get("reaped_workers", 0),
            acks=len(self.acks),
            external_scale_downs=stats.get("external_scale_downs", 0),
            enqueued_total=int(enqueued or 0),
            scale_events=self.scale_events,
            state=state,
        )
        self.r.hset(
            P.RUN_KEY,
            mapping={
                "state": state,
                "ended_at": ended,
                "mean_workers": summary.mean_workers,
                "summary": json.dumps(summary.to_dict()),
            },
        )
        self.status = s
        return summary

    def close(self) -> None:
        self.r.close()
