"""The worker loop: take tasks reliably, do their work, store results, obey SYN.

``run_worker(url, worker_id)`` is the whole worker; ``functions/worker`` calls
it from the engine, tests and benches run it in real processes.

One round trip (``TAKE_LUA``) refreshes the heartbeat, pops a SYN if there is
one, and moves up to ``batch`` tasks from ``worker_queue`` into this worker's
in-flight list. The batch adapts to the tasks' expected durations: zero-work
tasks go 50 at a time, tasks of 10 ms or more one at a time (so a busy worker
never hoards tasks that an idle one could start). Results are stored by
``FLUSH_LUA``, which also removes exactly their tasks from the in-flight list,
so a task is in ``worker_queue``, in flight, or answered: never nowhere.
A heartbeat thread keeps ``workflow:hb:<id>`` alive while the process lives,
so a long task is not mistaken for a dead worker.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid

from . import protocol as P
from ._redis import connect

__all__ = ["run_worker", "DEFAULT_BATCH", "HEARTBEAT_TTL_S"]

DEFAULT_BATCH = 50
HEARTBEAT_TTL_S = 3.0
BLOCK_S = 0.2          # an idle worker waits this long on worker_queue, then looks for SYN
ROUND_TARGET_S = 0.005  # aim for this much expected work per take


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


def run_worker(url: str, worker_id: str | None = None, *, batch: int = DEFAULT_BATCH,
               heartbeat_ttl_s: float = HEARTBEAT_TTL_S, max_tasks: int | None = None,
               work: str = "sleep") -> dict:
    """Serve ``worker_queue`` until a SYN, a stop of the run, or fencing.

    Args:
        url: the Redis URL.
        worker_id: unique id (the controller picks it, so it can track the launch).
        batch: most tasks taken per round trip.
        heartbeat_ttl_s: the heartbeat key's TTL; the reaper acts after it lapses.
        max_tasks: stop after this many (tests).
        work: "sleep" (simulated work: sleep the expected duration) or "spin" (burn CPU).

    Returns: a summary dict: worker_id, tasks, reason ("syn"|"stop"|"dead"|"max"), acked.
    """
    worker_id = worker_id or f"w-{uuid.uuid4().hex[:10]}"
    r = connect(url)
    take = r.register_script(P.TAKE_LUA)
    flush = r.register_script(P.FLUSH_LUA)
    ack = r.register_script(P.ACK_LUA)
    inflight, hb = P.inflight_key(worker_id), P.hb_key(worker_id)
    ttl_ms = int(heartbeat_ttl_s * 1000)
    take_keys = [P.WORKER_QUEUE, inflight, hb, P.dead_key(worker_id), P.SYN_QUEUE, P.STOP_KEY,
                 P.WORKERS_KEY]
    flush_keys = [P.RESULT_QUEUE, inflight, P.dead_key(worker_id),
                  f"{P.RESULT_QUEUE}:stats:in", f"{P.WORKER_QUEUE}:stats:out"]
    r.set(hb, "1", px=ttl_ms)
    r.hset(P.WORKERS_KEY, worker_id, "running")
    stop = threading.Event()
    old_stack = threading.stack_size(256 * 1024)  # the engine caps a worker's address space
    beat = threading.Thread(target=_heartbeat, args=(url, worker_id, heartbeat_ttl_s, stop),
                            daemon=True, name="heartbeat")
    beat.start()
    threading.stack_size(old_stack)
    done = 0
    reason = "stop"
    syn = None
    mean_s = 0.0  # running mean of expected durations: sets the batch size
    perf, now = time.perf_counter, time.time
    try:
        while True:
            if max_tasks is not None and done >= max_tasks:
                reason = "max"
                break
            n = batch if mean_s <= 0 else max(1, min(batch, int(ROUND_TARGET_S / mean_s)))
            if max_tasks is not None:
                n = min(n, max_tasks - done)
            reply = take(keys=take_keys, args=[n, ttl_ms, worker_id])
            status = int(reply[0])
            if status == 3:
                reason = "dead"
                break
            if status == 2:
                reason = "stop"
                break
            if status == 1:
                syn, reason = reply[1], "syn"
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
                task = json.loads(raw)
                expected = float(task.get("task_expected_duration") or 0.0)
                mean_s = 0.8 * mean_s + 0.2 * expected if mean_s else expected
                t0 = perf()
                if expected > 0:
                    if work == "spin":
                        end = t0 + expected
                        while perf() < end:
                            pass
                    else:
                        time.sleep(expected)
                task["task_work_time"] = perf() - t0
                finished = now()
                task["task_completion_time"] = finished
                gen = float(task.get("task_gen_timestamp") or finished)
                task["task_response_time"] = finished - gen
                task["task_QoS"] = 1 if finished - gen <= float(task.get("task_deadline") or 0) else 0
                task["worker_id"] = worker_id
                results.append(json.dumps(task, separators=(",", ":")))
                answered.append(raw)
                if expected > 0 and perf() - t_flush >= ROUND_TARGET_S:
                    if flush(keys=flush_keys, args=[len(results), *results, *answered]) < 0:
                        return _finish(r, worker_id, done, "dead", None, stop)
                    done += len(results)
                    results, answered = [], []
                    t_flush = perf()
            if results:
                if flush(keys=flush_keys, args=[len(results), *results, *answered]) < 0:
                    return _finish(r, worker_id, done, "dead", None, stop)
                done += len(results)
    finally:
        stop.set()
    return _finish(r, worker_id, done, reason, syn, stop, ack)


def _finish(r, worker_id: str, done: int, reason: str, syn, stop: threading.Event,
            ack=None) -> dict:
    stop.set()
    acked = False
    if reason == "syn" and ack is not None:
        try:
            syn_msg = json.loads(syn)
        except (TypeError, ValueError):
            syn_msg = {}
        message = json.dumps({"type": "SCALE_DOWN", "action": "ACK", "worker_id": worker_id,
                              "syn_id": syn_msg.get("syn_id"), "ACK_timestamp": time.time(),
                              "tasks": done, "pid": os.getpid()})
        keys = [P.ACK_QUEUE, P.WORKERS_KEY, P.hb_key(worker_id), P.inflight_key(worker_id)]
        acked = ack(keys=keys, args=[worker_id, message]) == 1
    elif reason in ("stop", "max"):
        r.hdel(P.WORKERS_KEY, worker_id)
        if not r.llen(P.inflight_key(worker_id)):
            r.delete(P.hb_key(worker_id))
    r.close()
    return {"worker_id": worker_id, "tasks": done, "reason": reason, "acked": acked,
            "pid": os.getpid()}
