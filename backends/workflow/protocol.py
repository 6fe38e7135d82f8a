"""The workflow's wire protocol: queue names, Redis keys and the Lua scripts.

These are the seed workflow's names (COMPAT.md section 6), so a script written
for the seed (its scaler, monitor or RL environment) works on faastui
unchanged. Queues are Redis lists: producers LPUSH, consumers take from the right.

Seed queues:

- ``input_queue``: ``phase_config`` messages and tasks for the emitter (and a
  faastui run's own workload, ``{"type": "workload", ...}``).
- ``worker_queue``: tasks. A worker moves tasks atomically into its own
  in-flight list ``worker_queue:inflight:<worker id>`` and removes them only in
  the script that stores their results in ``result_queue``: a worker that dies
  never loses its task (the seed's RPOP does).
- ``result_queue`` -> ``output_queue``: the collector keeps the first result of
  each ``task_id`` (a set of done ids), once.
- ``emitter_control_syn_queue``, ``worker_control_syn_queue``,
  ``collector_control_syn_queue``: SYN messages (SCALE_DOWN, TERMINATE);
  ``worker_control_ack_queue``: the ACK of a SCALE_DOWN someone else asked for.
- ``emitter_start_queue``, ``worker_start_queue``, ``collector_start_queue``:
  a START message as each loop starts; ``workflow_init_syn_queue``:
  WORKFLOW_INIT once the pool is up.
- ``worker_queue:enqueued_total``: incremented with every task pushed.

faastui's own keys (``workflow:*``): the run, counters, the workers with their
heartbeats, and the SCALE_DOWN SYNs the controller sent itself
(``workflow:syn:own``). A worker that takes a SYN the controller did not send
lowers the desired count in the same script, so the pool stays one smaller and
the controller never consumes a SYN that is not its own.

The run's stop (``workflow:stop``) holds the Redis time it was asked at, and
applies to the loops that were running then: a loop started later (the next
run's, or one started by hand with ``faastui invoke collector``) is not stopped
by a flag left behind.

Every script is safe to run twice: redis-py sends a script again when the
connection drops before its reply, and a reply lost that way must not strand,
repeat or drop anything. A take returns what is already in flight first (a
worker holds nothing between takes, so that is a take whose reply was lost); a
flush stores only the results of tasks it removed from flight; the collector
keeps only items it removed from flight; the emitter pushes a batch only at the
position its progress says (``EMIT_LUA``); an ACK or a SYN is pushed once.

Liveness: a worker holds ``workflow:hb:<id>`` (a key with a TTL) alive from a
heartbeat thread; the emitter and the collector hold a lease
``workflow:lease:<role>`` (``lease.py``). The reaper returns the in-flight tasks of a worker whose
heartbeat expired to ``worker_queue`` and leaves a tombstone
``workflow:dead:<id>``: a worker that was only stalled finds it on its next
call and stops without storing results a second time (fencing).
"""

from __future__ import annotations

__all__ = [
    "INPUT_QUEUE",
    "WORKER_QUEUE",
    "RESULT_QUEUE",
    "OUTPUT_QUEUE",
    "EMITTER_SYN_QUEUE",
    "SYN_QUEUE",
    "ACK_QUEUE",
    "COLLECTOR_SYN_QUEUE",
    "EMITTER_START_QUEUE",
    "WORKER_START_QUEUE",
    "COLLECTOR_START_QUEUE",
    "INIT_QUEUE",
    "ENQUEUED_KEY",
    "QUEUES",
    "DATA_QUEUES",
    "RUN_KEY",
    "STATS_KEY",
    "WORKERS_KEY",
    "DONE_KEY",
    "STOP_KEY",
    "SCALE_KEY",
    "OWN_SYNS_KEY",
    "OWN_ACKS_KEY",
    "ROLES_KEY",
    "REJECTED_KEY",
    "PHASES_KEY",
    "inflight_key",
    "hb_key",
    "dead_key",
    "deadline_for",
    "all_keys",
    "lease_key",
    "role_state",
    "stop_applies",
    "redis_time",
    "EMIT_LUA",
    "FORWARD_LUA",
    "REJECT_LUA",
    "SYN_LUA",
    "TAKE_LUA",
    "FLUSH_LUA",
    "COLLECT_MOVE_LUA",
    "COLLECT_KEEP_LUA",
    "REAP_LUA",
    "ACK_LUA",
    "TAKE_BACK_LUA",
    "TAKE_SYN",
    "TAKE_STOP",
    "TAKE_DEAD",
    "TAKE_TASKS",
]

INPUT_QUEUE = "input_queue"
WORKER_QUEUE = "worker_queue"
RESULT_QUEUE = "result_queue"
OUTPUT_QUEUE = "output_queue"
EMITTER_SYN_QUEUE = "emitter_control_syn_queue"
SYN_QUEUE = "worker_control_syn_queue"
ACK_QUEUE = "worker_control_ack_queue"
COLLECTOR_SYN_QUEUE = "collector_control_syn_queue"
EMITTER_START_QUEUE = "emitter_start_queue"
WORKER_START_QUEUE = "worker_start_queue"
COLLECTOR_START_QUEUE = "collector_start_queue"
INIT_QUEUE = "workflow_init_syn_queue"
ENQUEUED_KEY = "worker_queue:enqueued_total"
#: every seed queue, in the order the seed's clear_queues lists them
QUEUES = (
    INPUT_QUEUE,
    WORKER_QUEUE,
    RESULT_QUEUE,
    OUTPUT_QUEUE,
    EMITTER_SYN_QUEUE,
    SYN_QUEUE,
    ACK_QUEUE,
    COLLECTOR_SYN_QUEUE,
    EMITTER_START_QUEUE,
    WORKER_START_QUEUE,
    COLLECTOR_START_QUEUE,
    INIT_QUEUE,
)
DATA_QUEUES = (INPUT_QUEUE, WORKER_QUEUE, RESULT_QUEUE, OUTPUT_QUEUE)

RUN_KEY = "workflow:run"  # hash: the current run (id, state, tasks, program start, ...)
STATS_KEY = "workflow:stats"  # hash: emitted, completed, duplicates, qos_met, requeued, ...
WORKERS_KEY = "workflow:workers"  # hash: worker id -> "running" | "stopping" | "leaving"
ROLES_KEY = "workflow:roles"  # hash: emitter/collector id -> "running" | "terminated"
REJECTED_KEY = "workflow:rejected"  # list: input items that were neither tasks nor phases
PHASES_KEY = "workflow:phases"  # list: each input item the emitter started (name, start, tasks)
DONE_KEY = "workflow:done"  # set: task ids the collector has kept
STOP_KEY = "workflow:stop"  # string: the Redis time a stop was asked (loops running then stop)
OWN_SYNS_KEY = "workflow:syn:own"  # set: SCALE_DOWN SYNs the controller pushed, not yet taken
OWN_ACKS_KEY = "workflow:ack:own"  # list: ACKs of the controller's own SYNs (it drains them)
#: the desired worker count: written by the controller's autoscaler and by
#: ``faastui scale worker N`` (the engine's scale of a long-running function)
SCALE_KEY = "faastui:scale:worker"

# TAKE_LUA's first reply element
TAKE_TASKS, TAKE_SYN, TAKE_STOP, TAKE_DEAD = 0, 1, 2, 3


def inflight_key(worker_id: str) -> str:
    return f"{WORKER_QUEUE}:inflight:{worker_id}"


def hb_key(worker_id: str) -> str:
    return f"workflow:hb:{worker_id}"


def dead_key(worker_id: str) -> str:
    return f"workflow:dead:{worker_id}"


def lease_key(role: str) -> str:
    """The emitter's or the collector's lease (``lease.py``)."""
    return f"workflow:lease:{role}"


def redis_time(r) -> float:
    """Redis's clock (seconds): the one clock every loop and the controller share."""
    sec, usec = r.time()
    return sec + usec / 1e6


def role_state(reason: str) -> str:
    """What the emitter or the collector leaves in ``workflow:roles`` when it ends for
    ``reason``: "terminated" (TERMINATE), "stopped" (the run's stop, ``once``/``until``),
    or "failed" (Redis stayed away, an error): a failed loop is launched again."""
    if reason == "terminate":
        return "terminated"
    return "stopped" if reason in ("stop", "done") else "failed"


def stop_applies(value, started: float) -> bool:
    """Whether a ``workflow:stop`` value stops a loop that started at ``started``."""
    if value is None:
        return False
    try:
        at = float(value)
    except (TypeError, ValueError):
        return True
    return at < 1e9 or at >= started  # not a time ("1", set by hand): it stops everything


def all_keys() -> tuple[str, ...]:
    """The fixed keys a new run clears (in-flight lists and heartbeats are scanned)."""
    return QUEUES + (
        ENQUEUED_KEY,
        RUN_KEY,
        STATS_KEY,
        WORKERS_KEY,
        ROLES_KEY,
        DONE_KEY,
        STOP_KEY,
        REJECTED_KEY,
        PHASES_KEY,
        OWN_SYNS_KEY,
        OWN_ACKS_KEY,
        f"{RESULT_QUEUE}:inflight:collector",
        lease_key("emitter"),
        lease_key("collector"),
        f"{INPUT_QUEUE}:inflight:emitter",
        *(f"{q}:stats:{d}" for q in DATA_QUEUES for d in ("in", "out")),
    )


def deadline_for(expected_s: float) -> float:
    """A task's deadline in seconds: clamp(2 x expected duration, 0.1 s, 30 s)."""
    return min(30.0, max(0.1, 2.0 * expected_s))


# KEYS: worker_queue, inflight, hb, dead, syn_queue, stop, workers, own syns, scale, stats, run
# ARGV: max tasks, heartbeat ttl ms, worker id, the worker's start (Redis time)
# Returns {status, ...}: TAKE_TASKS + tasks taken (maybe none); TAKE_SYN + the SYN + 1 if it
# was the controller's own (0: someone else's); TAKE_STOP; TAKE_DEAD.
# Tasks already in flight come back first, oldest first: a worker calls this only when it
# holds nothing, so they are a take (or BLMOVE) whose reply was lost.
# A SYN is taken only here, between tasks: a worker finishes its current task first.
# Someone else's SCALE_DOWN lowers the desired count at once (the pool stays one smaller);
# a TERMINATE lowers it too and marks the run as terminating (nothing is started again).
TAKE_LUA = r"""
if redis.call('EXISTS', KEYS[4]) == 1 then return {3} end
local stop = redis.call('GET', KEYS[6])
if stop then
  local at = tonumber(stop)
  if not at or at < 1e9 or at >= tonumber(ARGV[4]) then return {2} end
end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
local held = redis.call('LRANGE', KEYS[2], 0, -1)
if #held > 0 then
  local out = {0}
  for i = #held, 1, -1 do out[#out + 1] = held[i] end
  return out
end
local syn = redis.call('RPOP', KEYS[5])
while syn do
  local ok, msg = pcall(cjson.decode, syn)
  local kind = ok and type(msg) == 'table' and msg['action'] == 'SYN' and msg['type'] or nil
  if kind == 'SCALE_DOWN' or kind == 'TERMINATE' then
    local own = 0
    if kind == 'SCALE_DOWN' and redis.call('SREM', KEYS[8], syn) == 1 then own = 1 end
    if own == 0 then
      local desired = tonumber(redis.call('GET', KEYS[9]) or '')
      if desired and desired > 0 then redis.call('SET', KEYS[9], desired - 1) end
      if kind == 'TERMINATE' then
        redis.call('HSET', KEYS[11], 'terminating', '1')
        redis.call('HINCRBY', KEYS[10], 'terminated_workers', 1)
      else
        redis.call('HINCRBY', KEYS[10], 'external_scale_downs', 1)
      end
    end
    redis.call('HSET', KEYS[7], ARGV[3], own == 1 and 'stopping' or 'leaving')
    return {1, syn, own}
  end
  syn = redis.call('RPOP', KEYS[5])  -- not a SYN a worker answers: dropped, as the seed does
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
# Returns the results stored, or -1 if this worker was declared dead (nothing stored).
# A result is stored only with its task's removal from flight: run again (a lost reply),
# it stores nothing a second time.
FLUSH_LUA = r"""
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local n = tonumber(ARGV[1])
local stored = 0
for i = 1, n do
  if redis.call('LREM', KEYS[2], -1, ARGV[1 + n + i]) == 1 then
    redis.call('LPUSH', KEYS[1], ARGV[1 + i])
    stored = stored + 1
  end
end
if stored > 0 then
  redis.call('INCRBY', KEYS[4], stored)
  redis.call('INCRBY', KEYS[5], stored)
end
return stored
"""

# KEYS: result_queue, collector inflight
# ARGV: max items to move beyond what is already in flight
# Returns everything in flight (the oldest last): the collector turns each into an
# output record and hands them to COLLECT_KEEP_LUA.
COLLECT_MOVE_LUA = r"""
for i = 1, tonumber(ARGV[1]) do
  if not redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') then break end
end
return redis.call('LRANGE', KEYS[2], 0, -1)
"""

# KEYS: collector inflight, output_queue, done set, stats hash, output_queue:stats:in,
#       result_queue:stats:out
# ARGV: n, then n in-flight items, n task ids, n output records, n QoS flags ("1"/"0")
# Each item's first record (by task id) goes to output_queue, later ones count as
# duplicates, and the item leaves the in-flight list: all in one atomic script. An item
# no longer in flight was handled already (a lost reply, or a second collector): skipped.
# Returns {kept, duplicates, qos met among kept}.
COLLECT_KEEP_LUA = r"""
local n = tonumber(ARGV[1])
local kept, dups, met, moved = 0, 0, 0, 0
for i = 1, n do
  if redis.call('LREM', KEYS[1], -1, ARGV[1 + i]) == 1 then
    moved = moved + 1
    if redis.call('SADD', KEYS[3], ARGV[1 + n + i]) == 1 then
      redis.call('LPUSH', KEYS[2], ARGV[1 + 2 * n + i])
      kept = kept + 1
      if ARGV[1 + 3 * n + i] == '1' then met = met + 1 end
    else
      dups = dups + 1
    end
  end
end
if kept > 0 then
  redis.call('HINCRBY', KEYS[4], 'completed', kept)
  redis.call('HINCRBY', KEYS[4], 'qos_met', met)
  redis.call('INCRBY', KEYS[5], kept)
end
if dups > 0 then redis.call('HINCRBY', KEYS[4], 'duplicates', dups) end
if moved > 0 then redis.call('INCRBY', KEYS[6], moved) end
return {kept, dups, met}
"""

# KEYS: inflight, hb, dead, worker_queue, workers hash, stats hash
# ARGV: worker id, tombstone ttl s
# If the worker's heartbeat is gone: its tasks go back to the served end of
# worker_queue, it gets a tombstone and leaves the workers hash.
# Returns the number of tasks returned, or -1 if the worker is alive. A worker is counted
# as reaped once (its tombstone is new); a fenced worker's later tasks still come back.
REAP_LUA = r"""
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local n = 0
while redis.call('LMOVE', KEYS[1], KEYS[4], 'LEFT', 'RIGHT') do n = n + 1 end
local first = redis.call('SET', KEYS[3], '1', 'EX', ARGV[2], 'NX')
redis.call('HDEL', KEYS[5], ARGV[1])
if n > 0 then redis.call('HINCRBY', KEYS[6], 'requeued', n) end
if first then redis.call('HINCRBY', KEYS[6], 'reaped_workers', 1) end
return n
"""

# KEYS: ack list (the seed's worker_control_ack_queue, or the controller's own list),
#       workers hash, hb, inflight
# ARGV: worker id, ack message (empty: a TERMINATE, which the seed does not answer)
# A worker that finished its current task acknowledges a SYN and leaves: once (run
# again, or after the reaper took it off the list, it pushes nothing). Returns 1 if acked.
ACK_LUA = r"""
if redis.call('LLEN', KEYS[4]) > 0 then return -1 end
redis.call('DEL', KEYS[3])
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
if ARGV[2] ~= '' then redis.call('LPUSH', KEYS[1], ARGV[2]) end
return 1
"""

# KEYS: syn queue, own syns set
# ARGV: most SYNs to take back
# Takes back SCALE_DOWN SYNs the controller sent that no worker has read yet
# (exact items only: someone else's SYN is never touched). Returns how many.
TAKE_BACK_LUA = r"""
local n = 0
for _, syn in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if n >= tonumber(ARGV[1]) then break end
  if redis.call('LREM', KEYS[1], -1, syn) == 1 then
    redis.call('SREM', KEYS[2], syn)
    n = n + 1
  end
end
return n
"""


# KEYS: syn queue, own syns set; ARGV: SYNs. Each is pushed once, with its record as the
# controller's own (run again after a lost reply, it pushes nothing).
SYN_LUA = r"""
local n = 0
for i = 1, #ARGV do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('LPUSH', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
"""

# KEYS: emitter lease, progress hash, worker_queue, enqueued_total, stats, worker_queue:stats:in
# ARGV: lease token, position of the batch's first task, then the tasks
# Pushes the batch only if this emitter holds the lease and the progress is at that
# position; either way returns {1, progress} (0 instead of 1: fenced, nothing pushed). A
# batch run again after a lost reply finds the progress past it and pushes nothing.
EMIT_LUA = r"""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, -1} end
local done = tonumber(redis.call('HGET', KEYS[2], 'done') or '0')
local at = tonumber(ARGV[2])
local n = #ARGV - 2
if done == at and n > 0 then
  for i = 3, #ARGV do redis.call('LPUSH', KEYS[3], ARGV[i]) end
  redis.call('INCRBY', KEYS[4], n)
  redis.call('HINCRBY', KEYS[5], 'emitted', n)
  redis.call('INCRBY', KEYS[6], n)
  done = redis.call('HINCRBY', KEYS[2], 'done', n)
end
return {1, done}
"""

# KEYS: emitter lease, emitter in-flight, worker_queue, enqueued_total, stats,
#       worker_queue:stats:in
# ARGV: lease token, the input item, the task to push for it
# A seed-format task forwarded: pushed with the input item's removal from flight, once.
# Returns 1 pushed, 0 already done, -1 fenced.
FORWARD_LUA = r"""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('LREM', KEYS[2], -1, ARGV[2]) == 0 then return 0 end
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('INCRBY', KEYS[4], 1)
redis.call('HINCRBY', KEYS[5], 'emitted', 1)
redis.call('INCRBY', KEYS[6], 1)
return 1
"""

# KEYS: emitter in-flight, rejected list, stats, run
# ARGV: the input item, why
# An input item that is neither a task nor a phase: kept aside with its removal from flight.
REJECT_LUA = r"""
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'input_rejected', 1)
redis.call('HSET', KEYS[4], 'last_rejected', ARGV[2])
return 1
"""
