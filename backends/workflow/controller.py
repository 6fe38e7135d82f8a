"""The workflow controller: start a run, keep the worker pool at its target, finish.

``WorkflowController(url, launcher, RunConfig(...))`` runs one workflow:

1. ``start()`` stops what is left of an earlier run, clears the workflow's
   keys, launches the collector, the emitter and ``workers`` workers, and puts
   the run spec on ``input_queue`` for the emitter.
2. ``tick()`` (every ``tick_s``) reads everything in one script, runs the
   reaper, drains ACKs, asks the autoscaling policy (every ``decide_s``) and
   reconciles the pool with the desired count in ``faastui:scale:worker``,
   which ``faastui scale worker N`` also writes: too few workers -> launch
   (or take back unread SYNs); too many -> one SYN per worker to stop.
   Workers that took a SYN finish their current task and ACK.
3. ``run()`` ticks until every task is collected (or ``workflow:stop``, or a
   timeout), stops the loops and returns a ``Summary``.

The state a ``faastui workflow status`` in another process needs is kept in
Redis (``workflow:run``, ``workflow:stats``, ``workflow:workers``).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field

from . import protocol as P
from ._redis import connect
from .phases import Workload, steady
from .policies import Observation, Policy
from .reaper import Reaper

__all__ = ["RunConfig", "Summary", "Status", "WorkflowController", "read_status", "stop_run",
           "StatusReader", "request_stop", "MIN_WORKERS",
           "MAX_WORKERS"]

MIN_WORKERS, MAX_WORKERS = 1, 32

# KEYS: stats, workers, scale, syn, worker_queue, run, stop, result_queue, output, done
# ARGV: the hb key prefix
# Returns one JSON string: stats, worker states with liveness, desired, lengths.
_STATUS_LUA = r"""
local stats = redis.call('HGETALL', KEYS[1])
local ws = redis.call('HGETALL', KEYS[2])
local workers = {}
for i = 1, #ws, 2 do
  workers[#workers + 1] = {ws[i], ws[i + 1], redis.call('EXISTS', ARGV[1] .. ws[i])}
end
local out = {stats = {}, workers = workers,
  desired = redis.call('GET', KEYS[3]) or false,
  syn = redis.call('LLEN', KEYS[4]), queue = redis.call('LLEN', KEYS[5]),
  run = {}, stop = redis.call('EXISTS', KEYS[7]),
  results = redis.call('LLEN', KEYS[8]), output = redis.call('LLEN', KEYS[9]),
  done = redis.call('SCARD', KEYS[10])}
for i = 1, #stats, 2 do out.stats[stats[i]] = tonumber(stats[i + 1]) end
local run = redis.call('HGETALL', KEYS[6])
for i = 1, #run, 2 do out.run[run[i]] = run[i + 1] end
if #workers == 0 then out.workers = cjson.decode('[]') end
return cjson.encode(out)
"""
_STATUS_KEYS = [P.STATS_KEY, P.WORKERS_KEY, P.SCALE_KEY, P.SYN_QUEUE, P.WORKER_QUEUE, P.RUN_KEY,
                P.STOP_KEY, P.RESULT_QUEUE, P.OUTPUT_QUEUE, P.DONE_KEY]


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


@dataclass
class Status:
    """One reading of a run (``faastui workflow status``)."""
    run_id: str = ""
    state: str = "idle"
    tasks: int = 0
    emitted: int = 0
    completed: int = 0
    duplicates_dropped: int = 0
    requeued: int = 0
    reaped_workers: int = 0
    qos: float | None = None
    workers: int = 0
    stopping: int = 0
    desired: int = 0
    queue: int = 0
    results: int = 0
    output: int = 0
    policy: str = ""
    elapsed_s: float = 0.0
    mean_workers: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Summary:
    """The end of a run (``workflow run -o json``)."""
    run_id: str
    tasks: int
    completed: int
    duplicates: int
    lost: int
    qos: float
    mean_workers: float
    duration_s: float
    throughput: float
    policy: str
    duplicates_dropped: int = 0
    requeued: int = 0
    reaped_workers: int = 0
    acks: int = 0
    scale_events: list = field(default_factory=list)
    state: str = "done"

    def to_dict(self) -> dict:
        return asdict(self)


def _status_from(raw: dict) -> Status:
    stats, run = raw["stats"], raw["run"]
    workers = [w for w in raw["workers"] if w[2] == 1]
    completed = int(stats.get("completed", 0))
    started = float(run.get("started_at") or 0.0)
    ended = float(run.get("ended_at") or 0.0) or time.time()
    return Status(
        run_id=run.get("run_id", ""), state=run.get("state", "idle"),
        tasks=int(run.get("tasks") or 0), emitted=int(stats.get("emitted", 0)),
        completed=completed, duplicates_dropped=int(stats.get("duplicates", 0)),
        requeued=int(stats.get("requeued", 0)), reaped_workers=int(stats.get("reaped_workers", 0)),
        qos=(stats.get("qos_met", 0) / completed) if completed else None,
        workers=sum(1 for w in workers if w[1] == "running"),
        stopping=sum(1 for w in workers if w[1] == "stopping"),
        desired=int(raw["desired"] or 0), queue=int(raw["queue"]), results=int(raw["results"]),
        output=int(raw["output"]), policy=run.get("policy", ""),
        elapsed_s=(ended - started) if started else 0.0,
        mean_workers=float(run.get("mean_workers") or 0.0))


def read_status(r) -> Status:
    """The current run's status from Redis (any process)."""
    script = r.register_script(_STATUS_LUA)
    return _status_from(json.loads(script(keys=_STATUS_KEYS, args=[P.hb_key("")])))


class WorkflowController:
    """Runs one workflow over ``launcher``; see the module docstring.

    Args:
        url: Redis URL.
        launcher: a ``ProcessLauncher`` or ``EngineLauncher``.
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
        self.pending: dict[str, float] = {}  # worker id launched -> when, until it registers
        self.acks: list[dict] = []
        self.scale_events: list[dict] = []
        self.started_at = 0.0
        self._worker_seconds = 0.0
        self._last_tick = 0.0
        self._last_decide = 0.0
        self._last_emitted = 0
        self._last_completed = 0
        self._last_met = 0
        self._n = 0
        self.status = Status()

    # ---- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        self._retire_previous()
        r = self.r
        pipe = r.pipeline(transaction=True)
        pipe.delete(*P.all_keys())
        for key in r.scan_iter(match="workflow:dead:*", count=1000):
            pipe.delete(key)
        desired = self._clamp(self.config.workers)
        pipe.set(P.SCALE_KEY, desired)
        self.started_at = time.time()
        pipe.hset(P.RUN_KEY, mapping={
            "run_id": self.run_id, "state": "running", "tasks": self.config.tasks,
            "workers": desired, "policy": self.policy_name, "started_at": self.started_at,
            "workload": json.dumps(self.config.workload.to_dict())})
        pipe.execute()
        self._last_tick = self._last_decide = time.monotonic()
        if self.config.policy is not None:
            self.config.policy.reset()
        self.launcher.launch("collector", {})
        for _ in range(desired):
            self._launch_worker()
        self.launcher.launch("emitter", {})
        self._await_pool(desired)
        # no t0: the emitter's clock starts when it picks the spec up, so the
        # start-up of the loops does not count against the first deadlines
        spec = {"run_id": self.run_id, "tasks": self.config.tasks,
                "workload": self.config.workload.to_dict()}
        r.lpush(P.INPUT_QUEUE, json.dumps(spec))

    def _await_pool(self, n: int) -> None:
        """Wait (up to the launch timeout) until ``n`` workers have registered."""
        end = time.monotonic() + self.config.launch_timeout_s
        while time.monotonic() < end and self.r.hlen(P.WORKERS_KEY) < n:
            time.sleep(0.02)

    @property
    def policy_name(self) -> str:
        return getattr(self.config.policy, "name", "") or "fixed"

    def _retire_previous(self, wait_s: float = 10.0) -> None:
        """Stop the loops of an earlier run that are still alive."""
        if not any(True for _ in self.r.scan_iter(match=P.hb_key("*"), count=1000)) and \
                not self.r.hlen(P.WORKERS_KEY):
            return
        self.r.set(P.STOP_KEY, "1")
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            if not any(True for _ in self.r.scan_iter(match=P.hb_key("*"), count=1000)):
                break
            time.sleep(0.05)

    def _clamp(self, n: int) -> int:
        return max(self.config.min_workers, min(self.config.max_workers, int(n)))

    def _launch_worker(self) -> None:
        self._n += 1
        wid = f"w-{self.run_id}-{self._n}"
        self.pending[wid] = time.monotonic()
        self.launcher.launch("worker", {"worker_id": wid, "batch": self.config.batch,
                                        "heartbeat_ttl_s": self.config.heartbeat_ttl_s,
                                        "work": self.config.work})

    def scale(self, n: int, why: str = "manual") -> int:
        """Set the desired worker count (clamped to the bounds). Returns it."""
        n = self._clamp(n)
        self.r.set(P.SCALE_KEY, n)
        return n

    # ---- the loop ----------------------------------------------------------------------
    def tick(self) -> Status:
        now = time.monotonic()
        self.reaper.reap()
        self.launcher.poll()
        for raw in self._drain(P.ACK_QUEUE):
            self.acks.append(json.loads(raw))
        raw = json.loads(self._status(keys=_STATUS_KEYS, args=[P.hb_key("")]))
        status = _status_from(raw)
        live = {w[0] for w in raw["workers"] if w[2] == 1}
        for wid in list(self.pending):
            if wid in live or now - self.pending[wid] > self.config.launch_timeout_s:
                del self.pending[wid]
        dt = now - self._last_tick
        self._last_tick = now
        self._worker_seconds += dt * (status.workers + status.stopping)
        elapsed = time.time() - self.started_at
        status.mean_workers = self._worker_seconds / elapsed if elapsed > 0 else 0.0
        decide_s = getattr(self.config.policy, "interval_s", None) or self.config.decide_s
        if self.config.policy is not None and now - self._last_decide >= decide_s:
            self._decide(status, now - self._last_decide)
            self._last_decide = now
            status.desired = int(self.r.get(P.SCALE_KEY) or status.desired)
        self._reconcile(status)
        self.r.hset(P.RUN_KEY, mapping={"mean_workers": round(status.mean_workers, 4),
                                        "updated_at": time.time()})
        self.status = status
        if self.on_tick is not None:
            self.on_tick(status)
        return status

    def _drain(self, queue: str) -> list:
        pipe = self.r.pipeline(transaction=True)
        pipe.lrange(queue, 0, -1)
        pipe.delete(queue)
        return pipe.execute()[0]

    def _decide(self, s: Status, dt: float) -> None:
        emitted, completed = s.emitted, s.completed
        met = round((s.qos or 0.0) * completed)
        d_done = completed - self._last_completed
        recent_qos = (met - self._last_met) / d_done if d_done > 0 else None
        obs = Observation(
            t=time.time() - self.started_at, queue_len=s.queue, workers=s.workers,
            arrival_rate=(emitted - self._last_emitted) / dt if dt > 0 else 0.0,
            completion_rate=d_done / dt if dt > 0 else 0.0,
            service_time_s=self.config.workload.task_duration_ms / 1000.0,
            recent_qos=recent_qos, desired=s.desired,
            deadline_s=P.deadline_for(self.config.workload.task_duration_ms / 1000.0))
        self._last_emitted, self._last_completed, self._last_met = emitted, completed, met
        want = self._clamp(self.config.policy.decide(obs))
        if want != s.desired:
            self.scale_events.append({"t": round(obs.t, 3), "from": s.desired, "to": want,
                                      "policy": self.policy_name})
            self.scale(want, self.policy_name)

    def _reconcile(self, s: Status) -> None:
        desired = self._clamp(s.desired or self.config.workers)
        effective = s.workers + len(self.pending)
        pending_syn = self.r.llen(P.SYN_QUEUE)
        effective -= pending_syn
        if effective < desired:
            short = desired - effective
            while short > 0 and pending_syn > 0:  # take back SYNs no worker has read yet
                if self.r.rpop(P.SYN_QUEUE) is None:
                    break
                pending_syn -= 1
                short -= 1
            for _ in range(short):
                self._launch_worker()
        elif effective > desired:
            msgs = [json.dumps({"type": "SCALE_DOWN", "action": "SYN", "syn_id": uuid.uuid4().hex[:12],
                                "SYN_timestamp": time.time()}) for _ in range(effective - desired)]
            self.r.lpush(P.SYN_QUEUE, *msgs)

    def run(self, timeout_s: float | None = None) -> Summary:
        """start(), tick until done, stop(). Returns the Summary."""
        self.start()
        state = "done"
        end = time.monotonic() + timeout_s if timeout_s else None
        try:
            while True:
                s = self.tick()
                if s.completed >= self.config.tasks:
                    break
                if self.r.exists(P.STOP_KEY):
                    state = "stopped"
                    break
                if end is not None and time.monotonic() > end:
                    state = "timeout"
                    break
                time.sleep(self.config.tick_s)
        except KeyboardInterrupt:
            state = "interrupted"
            raise
        finally:
            summary = self.stop(state)
        return summary

    def stop(self, state: str = "stopped") -> Summary:
        """Stop every loop of the run, wait for them, and summarise."""
        ended = time.time()
        self.r.set(P.STOP_KEY, "1")
        self.launcher.close(timeout=10.0)
        for raw in self._drain(P.ACK_QUEUE):
            self.acks.append(json.loads(raw))
        s = read_status(self.r)
        duration = ended - self.started_at
        mean_workers = self._worker_seconds / duration if duration > 0 else 0.0
        pipe = self.r.pipeline()
        pipe.llen(P.OUTPUT_QUEUE)
        pipe.scard(P.DONE_KEY)
        pipe.hgetall(P.STATS_KEY)
        out_len, distinct, stats = pipe.execute()
        stats = {k.decode(): int(v) for k, v in stats.items()}
        completed = int(distinct)
        summary = Summary(
            run_id=self.run_id, tasks=self.config.tasks, completed=completed,
            duplicates=int(out_len) - completed, lost=max(0, self.config.tasks - completed),
            qos=(stats.get("qos_met", 0) / completed) if completed else 0.0,
            mean_workers=round(mean_workers, 3), duration_s=round(duration, 3),
            throughput=round(completed / duration, 1) if duration > 0 else 0.0,
            policy=self.policy_name, duplicates_dropped=stats.get("duplicates", 0),
            requeued=stats.get("requeued", 0), reaped_workers=stats.get("reaped_workers", 0),
            acks=len(self.acks), scale_events=self.scale_events, state=state)
        self.r.hset(P.RUN_KEY, mapping={"state": state, "ended_at": ended,
                                        "mean_workers": summary.mean_workers,
                                        "summary": json.dumps(summary.to_dict())})
        self.status = s
        return summary

    def close(self) -> None:
        self.r.close()


def stop_run(r) -> bool:
    """Ask the running workflow to stop (``faastui workflow stop``). True if one was running."""
    state = r.hget(P.RUN_KEY, "state")
    r.set(P.STOP_KEY, "1")
    return state in (b"running", "running")


class StatusReader:
    """Reads the workflow's status from a Redis URL (what faces call: no Redis for them)."""

    def __init__(self, url: str):
        from ._redis import connect_checked

        self._r = connect_checked(url)

    def read(self) -> Status:
        return read_status(self._r)

    def close(self) -> None:
        self._r.close()

    def __enter__(self) -> "StatusReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def request_stop(url: str) -> bool:
    """Ask the run on ``url`` to stop; True if one was running."""
    from ._redis import connect_checked

    r = connect_checked(url)
    try:
        return stop_run(r)
    finally:
        r.close()
