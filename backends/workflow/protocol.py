"""The workflow's wire protocol: queue names, Redis keys, message fields, Lua scripts.

Everything the emitter, the workers, the collector, the reaper and the
controller agree on lives here, so each of them is a small loop over these
names. Queues are Redis lists: producers LPUSH, consumers take from the right.

Queues (DESIGN.md "Queues, workflow, QoS"):

- ``input_queue``: workload specs (a run: task count, phases, seed) for the emitter.
- ``worker_queue``: tasks. A worker moves tasks atomically into its own
  in-flight list ``worker_queue:inflight:<worker id>`` and removes them only in
  the same script that stores their results in ``result_queue``.
- ``result_queue``: results; the collector moves them into
  ``result_queue:inflight:collector`` and, in one script, keeps the first result
  of each ``task_id`` (a set of done ids) in ``output_queue``.
- ``worker_control_syn_queue`` / ``worker_control_ack_queue``: graceful scale-down.

Liveness: a worker holds ``workflow:hb:<id>`` (a key with a TTL) alive from a
heartbeat thread. The reaper returns the in-flight tasks of a worker whose
heartbeat expired to ``worker_queue`` and leaves a tombstone
``workflow:dead:<id>``: a worker that was only stalled finds it on its next
call and stops without storing results a second time (fencing).
"""

from __future__ import annotations

import json

__all__ = [
    "INPUT_QUEUE", "WORKER_QUEUE", "RESULT_QUEUE", "OUTPUT_QUEUE", "SYN_QUEUE", "ACK_QUEUE",
    "QUEUES", "RUN_KEY", "STATS_KEY", "WORKERS_KEY", "DONE_KEY", "STOP_KEY", "SCALE_KEY",
    "inflight_key", "hb_key", "dead_key", "deadline_for", "TASK_FIELDS", "all_keys",
    "TAKE_LUA", "FLUSH_LUA", "COLLECT_LUA", "REAP_LUA", "ACK_LUA", "decode",
]

INPUT_QUEUE = "input_queue"
WORKER_QUEUE = "worker_queue"
RESULT_QUEUE = "result_queue"
OUTPUT_QUEUE = "output_queue"
SYN_QUEUE = "worker_control_syn_queue"
ACK_QUEUE = "worker_control_ack_queue"
QUEUES = (INPUT_QUEUE, WORKER_QUEUE, RESULT_QUEUE, OUTPUT_QUEUE, SYN_QUEUE, ACK_QUEUE)

RUN_KEY = "workflow:run"          # hash: the current run (id, state, tasks, workers, policy, ...)
STATS_KEY = "workflow:stats"      # hash: emitted, completed, duplicates, qos_met, requeued, ...
WORKERS_KEY = "workflow:workers"  # hash: worker id -> "running" | "stopping"
DONE_KEY = "workflow:done"        # set: task ids the collector has kept
STOP_KEY = "workflow:stop"        # string: present -> every loop of the run stops
#: the desired worker count: written by the controller's autoscaler and by
#: ``faastui scale worker N`` (the engine's scale of a long-running function)
SCALE_KEY = "faastui:scale:worker"

TASK_FIELDS = ("task_id", "task_gen_timestamp", "task_expected_duration", "task_deadline",
               "task_emit_timestamp", "task_work_time", "task_completion_time", "task_QoS")


def inflight_key(worker_id: str) -> str:
    return f"{WORKER_QUEUE}:inflight:{worker_id}"


def hb_key(worker_id: str) -> str:
    return f"workflow:hb:{worker_id}"


def dead_key(worker_id: str) -> str:
    return f"workflow:dead:{worker_id}"


def all_keys() -> tuple[str, ...]:
    """The fixed keys a new run clears (in-flight lists and heartbeats are scanned)."""
    return QUEUES + (RUN_KEY, STATS_KEY, WORKERS_KEY, DONE_KEY, STOP_KEY,
                     f"{RESULT_QUEUE}:inflight:collector", f"{INPUT_QUEUE}:inflight:emitter",
                     *(f"{q}:stats:{d}" for q in QUEUES for d in ("in", "out")))


def deadline_for(expected_s: float) -> float:
    """A task's deadline in seconds: clamp(2 x expected duration, 0.1 s, 30 s)."""
    return min(30.0, max(0.1, 2.0 * expected_s))


def decode(raw) -> dict:
    return json.loads(raw)


# KEYS: worker_queue, inflight, hb, dead, syn_queue, stop, workers
# ARGV: max tasks, heartbeat ttl ms, worker id
# Returns {status, ...}: 0 + tasks taken (maybe none); 1 + the SYN message; 2 stop; 3 dead.
TAKE_LUA = r"""
if redis.call('EXISTS', KEYS[4]) == 1 then return {3} end
if redis.call('EXISTS', KEYS[6]) == 1 then return {2} end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
local syn = redis.call('RPOP', KEYS[5])
if syn then
  redis.call('HSET', KEYS[7], ARGV[3], 'stopping')
  return {1, syn}
end
local out = {0}
for i = 1, tonumber(ARGV[1]) do
  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not v then break end
  out[#out + 1] = v
end
return out
"""

# KEYS: result_queue, inflight, dead, result_queue:stats:in, worker_queue:stats:out
# ARGV: n, then n results, then the n tasks they answer (the exact in-flight items)
# Returns n stored, or -1 if this worker was declared dead (nothing stored).
FLUSH_LUA = r"""
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local n = tonumber(ARGV[1])
for i = 2, n + 1 do redis.call('LPUSH', KEYS[1], ARGV[i]) end
for i = n + 2, 2 * n + 1 do redis.call('LREM', KEYS[2], -1, ARGV[i]) end
redis.call('INCRBY', KEYS[4], n)
redis.call('INCRBY', KEYS[5], n)
return n
"""

# KEYS: result_queue, collector inflight, output_queue, done set, stats hash,
#       output_queue:stats:in, result_queue:stats:out
# ARGV: max items to move from result_queue beyond what is already in flight
# Every item in flight is kept (first result of its task id) or counted as a
# duplicate, then the in-flight list is cleared: all in one atomic script.
# Returns {kept, duplicates, qos met among kept}.
COLLECT_LUA = r"""
for i = 1, tonumber(ARGV[1]) do
  if not redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') then break end
end
local items = redis.call('LRANGE', KEYS[2], 0, -1)
local kept, dups, met, late = 0, 0, 0, 0
for i = #items, 1, -1 do
  local item = items[i]
  local ok, data = pcall(cjson.decode, item)
  local id = ok and type(data) == 'table' and data['task_id'] or item
  if redis.call('SADD', KEYS[4], tostring(id)) == 1 then
    redis.call('LPUSH', KEYS[3], item)
    kept = kept + 1
    if ok and type(data) == 'table' and tonumber(data['task_QoS']) == 1 then met = met + 1 end
  else
    dups = dups + 1
  end
end
redis.call('DEL', KEYS[2])
if kept > 0 then
  redis.call('HINCRBY', KEYS[5], 'completed', kept)
  redis.call('HINCRBY', KEYS[5], 'qos_met', met)
  redis.call('INCRBY', KEYS[6], kept)
end
if dups > 0 then redis.call('HINCRBY', KEYS[5], 'duplicates', dups) end
if #items > 0 then redis.call('INCRBY', KEYS[7], #items) end
return {kept, dups, met}
"""

# KEYS: inflight, hb, dead, worker_queue, workers hash, stats hash
# ARGV: worker id, tombstone ttl s
# If the worker's heartbeat is gone: its tasks go back to the served end of
# worker_queue, it gets a tombstone and leaves the workers hash.
# Returns the number of tasks returned, or -1 if the worker is alive.
REAP_LUA = r"""
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local n = 0
while redis.call('LMOVE', KEYS[1], KEYS[4], 'LEFT', 'RIGHT') do n = n + 1 end
redis.call('SET', KEYS[3], '1', 'EX', ARGV[2])
redis.call('HDEL', KEYS[5], ARGV[1])
if n > 0 then redis.call('HINCRBY', KEYS[6], 'requeued', n) end
redis.call('HINCRBY', KEYS[6], 'reaped_workers', 1)
return n
"""

# KEYS: ack_queue, workers hash, hb, inflight
# ARGV: worker id, ack message
# A worker that finished its current task acknowledges a SYN and leaves.
ACK_LUA = r"""
if redis.call('LLEN', KEYS[4]) > 0 then return -1 end
redis.call('LPUSH', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
"""
