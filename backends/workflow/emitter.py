"""The emitter loop: turn what arrives on ``input_queue`` into timed tasks.

It pushes a START on ``emitter_start_queue``, then serves ``input_queue`` (moving
each item into its own in-flight list, so a killed emitter's item is resumed, not
lost) until a TERMINATE SYN on ``emitter_control_syn_queue`` or the run's stop:

- a seed ``phase_config`` message: exactly ``target_tasks`` tasks over
  ``phase_duration`` seconds at the phase's rate (steady, or the real sine of
  ``oscillation_*``), the seed's image_processing tasks (an optional
  ``task_duration_ms`` makes them constant instead: a faastui extension for tests);
- a faastui run's workload, ``{"type": "workload", "run_id", "tasks", "workload"}``:
  ``tasks`` tasks at the Poisson arrival times of its phases (``rate`` 0 in a
  steady phase: as fast as possible);
- a task in the seed generator's format: forwarded to ``worker_queue`` with its
  emit timestamps.

A task's ``task_gen_timestamp`` is its arrival time in the schedule and
``task_emit_timestamp`` the moment it was pushed (``task_emit_time`` is the lag).
Tasks that are due together go in one LPUSH, with the counters
(``worker_queue:enqueued_total`` among them) and the item's progress
(``workflow:emit:<digest>``) in the same script (``EMIT_LUA``), which pushes a
batch only at the position the progress says and only while this emitter holds
the emitter's lease (``lease.py``). So an emitter restarted mid-phase (the
controller launches another when the lease lapses) resumes after the last task
pushed with the same seed, a batch sent again after a lost reply is not pushed
twice, and a stalled emitter whose lease was taken over pushes nothing: a
restart neither skips nor repeats a task.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import time

from . import messages as M
from . import protocol as P
from . import records as R
from ._redis import connect, quiet_redis_errors
from .lease import Lease
from .phases import Workload, WorkloadError, parse_workload, phase_from_config

__all__ = ["run_emitter", "EMITTER_INFLIGHT", "progress_key"]

EMITTER_INFLIGHT = f"{P.INPUT_QUEUE}:inflight:emitter"
MAX_BATCH = 500
BLOCK_S = 0.25


class _Stopped(Exception):
    def __init__(self, reason: str):
        self.reason = reason


@quiet_redis_errors("emitter")
def run_emitter(
    url: str,
    *,
    once: bool = False,
    emitter_id: str = "emitter",
    program_start: float | None = None,
    lease_ttl_s: float = 3.0,
) -> dict:
    """Serve ``input_queue`` until TERMINATE or the run's stop.

    Args:
        once: return after one item (tests, benches).
        emitter_id: the ``pod_name`` of its START.
        program_start: the run's program start (epoch); default: ``workflow:run``'s.
        lease_ttl_s: the TTL of the emitter's lease: how soon a dead emitter is noticed.

    Returns: {"items", "emitted", "reason"} with reason "terminate", "stop", "done",
    "fenced" (another emitter took over) or "redis" (Redis stayed away).
    """
    r = connect(url)
    started = P.redis_time(r)
    clock = M.Clock(program_start if program_start is not None else M.read_program_start(r))
    control = _Control(r, started)
    lease = Lease(r, url, "emitter", lease_ttl_s)
    if not lease.acquire(lambda: P.stop_applies(r.get(P.STOP_KEY), started)):
        r.close()
        return {"items": 0, "emitted": 0, "reason": "stop"}
    control.lease = lease
    r.lpush(P.EMITTER_START_QUEUE, M.dumps(M.start(emitter_id, clock)))
    r.hset(P.ROLES_KEY, emitter_id, "running")
    scripts = _Scripts(r, lease.token)
    items = emitted = 0
    reason = "failed"  # until the loop says why it ends
    try:
        while True:
            why = control.check()
            if why:
                reason = why
                break
            raw = r.lindex(EMITTER_INFLIGHT, -1)  # an item a killed emitter left half done
            if raw is None:
                raw = r.blmove(P.INPUT_QUEUE, EMITTER_INFLIGHT, BLOCK_S, "RIGHT", "LEFT")
                if raw is None:
                    continue
            digest = hashlib.sha1(raw).hexdigest()
            try:
                emitted += _serve(r, raw, digest, clock, control, scripts)
            except _Stopped as stop:
                reason = stop.reason
                break  # the item stays in flight for a restart
            pipe = r.pipeline(transaction=True)
            pipe.lrem(EMITTER_INFLIGHT, -1, raw)
            pipe.delete(progress_key(digest))
            pipe.execute()
            items += 1
            if once:
                reason = "done"
                break
    finally:
        lease.release()
        try:
            if reason != "fenced":  # the emitter that took over is the one running
                r.hset(P.ROLES_KEY, emitter_id, P.role_state(reason))
        finally:
            r.close()
    return {"items": items, "emitted": emitted, "reason": reason}


class _Scripts:
    def __init__(self, r, token: str):
        self.token = token
        self.emit = r.register_script(P.EMIT_LUA)
        self.forward = r.register_script(P.FORWARD_LUA)
        self.reject = r.register_script(P.REJECT_LUA)


class _Control:
    """Reads the emitter's control queue, the run's stop and its lease, at most every BLOCK_S."""

    def __init__(self, r, started: float):
        self.r = r
        self.started = started
        self.lease: Lease | None = None
        self._next = 0.0

    def check(self, force: bool = True) -> str | None:
        if self.lease is not None and self.lease.lost.is_set():
            return "fenced"
        now = time.monotonic()
        if not force and now < self._next:
            return None
        self._next = now + BLOCK_S
        if P.stop_applies(self.r.get(P.STOP_KEY), self.started):
            return "stop"
        while True:
            raw = self.r.rpop(P.EMITTER_SYN_QUEUE)
            if raw is None:
                return None
            msg = M.parse_message(raw) or {}
            if msg.get("action") == "SYN" and msg.get("type") == "TERMINATE":
                return "terminate"  # anything else on this queue is dropped, as the seed does


def progress_key(digest: str) -> str:
    """Where the emitter keeps its progress through one input item."""
    return f"workflow:emit:{digest}"


def _serve(r, raw, digest: str, clock: M.Clock, control: _Control, scripts: _Scripts) -> int:
    msg = M.parse_message(raw)
    kind = msg.get("type") if msg else None
    if kind == "workload":
        try:
            workload = parse_workload(msg["workload"])
            total = int(msg["tasks"])
        except (KeyError, TypeError, ValueError, WorkloadError) as exc:
            return _reject(scripts, raw, f"workload: {exc}")
        seed = workload.seed if workload.seed is not None else int(digest[:8], 16)
        return _emit(r, digest, workload, total, seed, clock, control, scripts)
    if kind == "phase_config":
        try:
            phase = phase_from_config(msg)
        except WorkloadError as exc:
            return _reject(scripts, raw, str(exc))
        ms = msg.get("task_duration_ms")
        if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms >= 0:
            workload = Workload([phase], task_duration_ms=float(ms))
        else:
            workload = Workload([phase], duration_dist="image_processing")
        return _emit(r, digest, workload, int(phase.tasks or 0), int(digest[:8], 16), clock, control, scripts)
    if msg is not None and ("task_id" in msg or "task_application" in msg):
        task = R.forward_task(msg, clock.now())
        pushed = scripts.forward(
            keys=[P.lease_key("emitter"), EMITTER_INFLIGHT, *_COUNTERS], args=[scripts.token, raw, json.dumps(task)]
        )
        if int(pushed) < 0:
            raise _Stopped("fenced")
        return int(pushed)
    return _reject(scripts, raw, "not a phase_config, a workload or a task")


_COUNTERS = [P.WORKER_QUEUE, P.ENQUEUED_KEY, P.STATS_KEY, f"{P.WORKER_QUEUE}:stats:in"]


def _reject(scripts: _Scripts, raw, why: str) -> int:
    scripts.reject(keys=[EMITTER_INFLIGHT, P.REJECTED_KEY, P.STATS_KEY, P.RUN_KEY], args=[raw, why[:300]])
    return 0


def _push(scripts: _Scripts, progress: str, at: int, batch: list[str]) -> None:
    """Push ``batch`` as the tasks from position ``at`` on (once; fenced: _Stopped)."""
    ok, done = scripts.emit(keys=[P.lease_key("emitter"), progress, *_COUNTERS], args=[scripts.token, at, *batch])
    if int(ok) == 0:
        raise _Stopped("fenced")
    if int(done) != at + len(batch):  # not ours to push: someone else moved the progress
        raise _Stopped("fenced")


def _emit(
    r, digest: str, workload: Workload, total: int, seed: int, clock: M.Clock, control: _Control, scripts: _Scripts
) -> int:
    progress = progress_key(digest)
    arrival_rng, size_rng, id_rng = random.Random(seed), random.Random(seed + 1), random.Random(seed + 2)
    # the phase clock starts at the first pick-up; a restarted emitter keeps it
    if r.hsetnx(progress, "t0", repr(time.time())):
        p = workload.phases[0]
        r.rpush(
            P.PHASES_KEY,
            json.dumps(
                {
                    "phase_name": p.name,
                    "started_at": clock.at(float(r.hget(progress, "t0"))),
                    "tasks": total,
                    "duration_s": workload.cycle_s,
                }
            ),
        )
    t0 = float(r.hget(progress, "t0"))
    unpaced = all(p.type == "steady" and p.rate <= 0 and p.tasks is None for p in workload.phases)
    arrivals = itertools.repeat(0.0) if unpaced else workload.arrivals(arrival_rng)
    done = int(r.hget(progress, "done") or 0)
    for _ in range(done):  # resume: replay the random streams past what was pushed
        a = next(arrivals, None)
        workload.sample_task(a or 0.0, size_rng)
        R.task_id_from(id_rng)
    i = done
    pending = next(arrivals, None)
    while i < total and pending is not None:
        now = time.time()
        due = t0 + pending
        if due > now:
            time.sleep(min(due - now, 0.05))
            why = control.check(force=False)
            if why:
                raise _Stopped(why)
            continue
        emit_ts = clock.now()
        batch = []
        while pending is not None and i < total and len(batch) < MAX_BATCH and t0 + pending <= now:
            processing, size = workload.sample_task(pending, size_rng)
            gen_ts = emit_ts if unpaced else clock.at(t0 + pending)
            batch.append(json.dumps(R.new_task(R.task_id_from(id_rng), gen_ts, processing, emit_ts, data_size=size)))
            i += 1
            pending = next(arrivals, None)
        _push(scripts, progress, i - len(batch), batch)
        why = control.check(force=False)
        if why and i < total:
            raise _Stopped(why)
    return i - done
