"""The worker loop: take tasks reliably, do their work, store results, obey SYNs.

``run_worker(url, worker_id)`` is the whole worker; ``functions/worker`` calls
it from the engine, tests and benches run it in real processes.

It pushes a START on ``worker_start_queue``; then one round trip (``TAKE_LUA``)
refreshes the heartbeat, pops a SYN from ``worker_control_syn_queue`` if there
is one, and otherwise moves up to ``batch`` tasks from ``worker_queue`` into this
worker's in-flight list. The batch adapts to the tasks' processing times:
zero-work tasks go 50 at a time, tasks of 10 ms or more one at a time (so a busy
worker never hoards tasks that an idle one could start). The work is the task's
``task_processing_time_simulated`` (slept, or spun with ``work="spin"``), as the
seed's worker does. Results (the seed's fields) are stored by ``FLUSH_LUA``,
which also removes exactly their tasks from the in-flight list, so a task is in
``worker_queue``, in flight, or answered: never nowhere. The worker holds nothing
between takes, so a take that finds tasks in flight returns them: a take (or an
idle BLMOVE) whose reply was lost and which redis-py sent again strands nothing.

SYNs are read between tasks, so a worker always finishes its current task:
SCALE_DOWN -> it ACKs (``{"type": "SCALE_DOWN", "action": "ACK", "ack_timestamp",
"task_id": null, "pod_name", "message"}`` on ``worker_control_ack_queue``, or on the
controller's own list when the controller sent the SYN) and exits; TERMINATE ->
it exits. A heartbeat thread keeps ``workflow:hb:<id>`` alive while the process
lives, so a long task is not mistaken for a dead worker.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

from . import messages as M
from . import protocol as P
from . import records as R
from ._redis import connect, quiet_redis_errors

__all__ = ["run_worker", "DEFAULT_BATCH", "HEARTBEAT_TTL_S"]

DEFAULT_BATCH = 50
HEARTBEAT_TTL_S = 3.0
BLOCK_S = 0.2  # an idle worker waits this long on worker_queue, then looks for SYNs
ROUND_TARGET_S = 0.005  # aim for this much work per take


def _heartbeat(url: str, worker_id: str, ttl_s: float, stop: threading.Event) -> None:
    r = connect(url, timeout=max(1.0, ttl_s))
    key, dead = P.hb_key(worker_id), P.dead_key(worker_id)
    px = int(ttl_s * 1000)
    while not stop.wait(ttl_s / 3):
        try:
            # set only while not fenced: a reaped worker must stay dead
            if r.exists(dead):
                return
            r.set(key, "1", px=px, xx=True)
        except Exception:  # a transient Redis error: the next beat retries
            pass


@quiet_redis_errors("worker")
def run_worker(
    url: str,
    worker_id: str | None = None,
    *,
    batch: int = DEFAULT_BATCH,
    heartbeat_ttl_s: float = HEARTBEAT_TTL_S,
    max_tasks: int | None = None,
    work: str = "sleep",
    program_start: float | None = None,
) -> dict:
    """Serve ``worker_queue`` until a SYN, the run's stop, or fencing.

    Args:
        url: the Redis URL.
        worker_id: unique id, the ``pod_name`` of its START and ACK (the controller
            picks it, so it can track the launch).
        batch: most tasks taken per round trip.
        heartbeat_ttl_s: the heartbeat key's TTL; the reaper acts after it lapses.
        max_tasks: stop after this many (tests).
        work: "sleep" (simulated work: sleep the processing time) or "spin" (burn CPU).
        program_start: the run's program start (epoch); default: ``workflow:run``'s.

    Returns: a summary dict: worker_id, tasks, reason ("scale_down", "terminate",
    "stop", "dead" or "max"; "redis" if Redis stayed away), acked.
    """
    worker_id = worker_id or f"w-{uuid.uuid4().hex[:10]}"
    r = connect(url)
    started = P.redis_time(r)  # the run's stop applies to loops running when it was asked
    clock = M.Clock(program_start if program_start is not None else M.read_program_start(r))
    take = r.register_script(P.TAKE_LUA)
    flush = r.register_script(P.FLUSH_LUA)
    inflight, hb = P.inflight_key(worker_id), P.hb_key(worker_id)
    ttl_ms = int(heartbeat_ttl_s * 1000)
    take_keys = [
        P.WORKER_QUEUE,
        inflight,
        hb,
        P.dead_key(worker_id),
        P.SYN_QUEUE,
        P.STOP_KEY,
        P.WORKERS_KEY,
        P.OWN_SYNS_KEY,
        P.SCALE_KEY,
        P.STATS_KEY,
        P.RUN_KEY,
    ]
    flush_keys = [
        P.RESULT_QUEUE,
        inflight,
        P.dead_key(worker_id),
        f"{P.RESULT_QUEUE}:stats:in",
        f"{P.WORKER_QUEUE}:stats:out",
    ]
    pipe = r.pipeline(transaction=True)
    pipe.set(hb, "1", px=ttl_ms)
    pipe.hset(P.WORKERS_KEY, worker_id, "running")
    pipe.lpush(P.WORKER_START_QUEUE, M.dumps(M.start(worker_id, clock)))
    pipe.execute()
    stop = threading.Event()
    old_stack = threading.stack_size(256 * 1024)  # the engine caps a worker's address space
    beat = threading.Thread(
        target=_heartbeat, args=(url, worker_id, heartbeat_ttl_s, stop), daemon=True, name="heartbeat"
    )
    beat.start()
    threading.stack_size(old_stack)
    done = 0
    reason = "stop"
    syn = None
    mean_s = 0.0  # running mean of processing times: sets the batch size
    perf = time.perf_counter
    try:
        while True:
            if max_tasks is not None and done >= max_tasks:
                reason = "max"
                break
            n = batch if mean_s <= 0 else max(1, min(batch, int(ROUND_TARGET_S / mean_s)))
            if max_tasks is not None:
                n = min(n, max_tasks - done)
            reply = take(keys=take_keys, args=[n, ttl_ms, worker_id, repr(started)])
            status = int(reply[0])
            if status == P.TAKE_DEAD:
                reason = "dead"
                break
            if status == P.TAKE_STOP:
                reason = "stop"
                break
            if status == P.TAKE_SYN:
                syn = (reply[1], int(reply[2]) == 1)
                kind = (M.parse_message(reply[1]) or {}).get("type")
                reason = "scale_down" if kind == "SCALE_DOWN" else "terminate"
                break
            tasks = reply[1:]
            if not tasks:
                # idle: block for one task, moved straight into our in-flight list
                raw = r.blmove(P.WORKER_QUEUE, inflight, BLOCK_S, "RIGHT", "LEFT")
                if raw is None:
                    continue
                tasks = [raw]
            results, answered = [], []
            t_flush = perf()
            for raw in tasks:
                task, ok = R.parse_record(raw)
                seconds = R.work_seconds(task) if ok else 0.0
                mean_s = 0.8 * mean_s + 0.2 * seconds if mean_s else seconds
                t0 = perf()
                if seconds > 0:
                    if work == "spin":
                        end = t0 + seconds
                        while perf() < end:
                            pass
                    else:
                        time.sleep(seconds)
                result = R.result_of(task, perf() - t0, clock.now(), ok)
                results.append(M.dumps(result))
                answered.append(raw)
                if seconds > 0 and perf() - t_flush >= ROUND_TARGET_S:
                    if flush(keys=flush_keys, args=[len(results), *results, *answered]) < 0:
                        return _finish(r, worker_id, done, "dead", None, stop, clock)
                    done += len(results)
                    results, answered = [], []
                    t_flush = perf()
            if results:
                if flush(keys=flush_keys, args=[len(results), *results, *answered]) < 0:
                    return _finish(r, worker_id, done, "dead", None, stop, clock)
                done += len(results)
    finally:
        stop.set()
    return _finish(r, worker_id, done, reason, syn, stop, clock)


def _finish(r, worker_id: str, done: int, reason: str, syn, stop: threading.Event, clock: M.Clock) -> dict:
    stop.set()
    acked = False
    if syn is not None:
        raw, own = syn
        message = ""
        if reason == "scale_down":
            message = M.dumps(M.ack(worker_id, clock, (M.parse_message(raw) or {}).get("task_id")))
        keys = [P.OWN_ACKS_KEY if own else P.ACK_QUEUE, P.WORKERS_KEY, P.hb_key(worker_id), P.inflight_key(worker_id)]
        acked = r.register_script(P.ACK_LUA)(keys=keys, args=[worker_id, message]) == 1 and bool(message)
    elif reason in ("stop", "max"):
        r.hdel(P.WORKERS_KEY, worker_id)
        if not r.llen(P.inflight_key(worker_id)):
            r.delete(P.hb_key(worker_id))
    r.close()
    return {"worker_id": worker_id, "tasks": done, "reason": reason, "acked": acked, "pid": os.getpid()}
