"""A run's state as other processes read and steer it: ``faastui workflow status``,
``workflow stop`` and ``scale worker N|+K|-K`` from any shell.

Everything lives in Redis (``workflow:run``, ``workflow:stats``,
``workflow:workers``, the desired count ``faastui:scale:worker``); one Lua script
reads it in one round trip. A run is ``alive`` while its controller ticks (it
writes ``updated_at`` every tick): a ``running`` state without a live controller
is a run whose controller died.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from . import protocol as P

__all__ = [
    "Status",
    "Summary",
    "read_status",
    "StatusReader",
    "stop_run",
    "loops_alive",
    "request_stop",
    "request_scale",
    "MIN_WORKERS",
    "MAX_WORKERS",
    "ALIVE_S",
]

MIN_WORKERS, MAX_WORKERS = 1, 32

# KEYS: stats, workers, scale, syn, worker_queue, run, stop, result_queue, output, done,
#       input_queue, own syns, roles, enqueued
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
  done = redis.call('SCARD', KEYS[10]), input = redis.call('LLEN', KEYS[11]),
  own_syns = redis.call('SCARD', KEYS[12]), roles = {},
  enqueued = tonumber(redis.call('GET', KEYS[14]) or '0')}
for i = 1, #stats, 2 do out.stats[stats[i]] = tonumber(stats[i + 1]) end
local run = redis.call('HGETALL', KEYS[6])
for i = 1, #run, 2 do out.run[run[i]] = run[i + 1] end
local roles = redis.call('HGETALL', KEYS[13])
for i = 1, #roles, 2 do out.roles[roles[i]] = roles[i + 1] end
if #workers == 0 then out.workers = cjson.decode('[]') end
return cjson.encode(out)
"""
_STATUS_KEYS = [
    P.STATS_KEY,
    P.WORKERS_KEY,
    P.SCALE_KEY,
    P.SYN_QUEUE,
    P.WORKER_QUEUE,
    P.RUN_KEY,
    P.STOP_KEY,
    P.RESULT_QUEUE,
    P.OUTPUT_QUEUE,
    P.DONE_KEY,
    P.INPUT_QUEUE,
    P.OWN_SYNS_KEY,
    P.ROLES_KEY,
    P.ENQUEUED_KEY,
]


@dataclass
class Status:
    """One reading of a run (``faastui workflow status``)."""

    run_id: str = ""
    state: str = "idle"
    tasks: int = 0
    emitted: int = 0
    enqueued_total: int = 0
    completed: int = 0
    duplicates_dropped: int = 0
    requeued: int = 0
    reaped_workers: int = 0
    external_scale_downs: int = 0
    terminated_workers: int = 0
    qos: float | None = None
    workers: int = 0
    stopping: int = 0
    desired: int = 0
    queue: int = 0
    input: int = 0
    results: int = 0
    output: int = 0
    policy: str = ""
    serve: bool = False
    terminating: bool = False
    elapsed_s: float = 0.0
    mean_workers: float = 0.0
    alive: bool = False  # a controller ticked in the last few seconds

    def to_dict(self) -> dict:
        return asdict(self)


ALIVE_S = 5.0  # a running run whose controller has not ticked for this long is stale


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
    external_scale_downs: int = 0
    enqueued_total: int = 0
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
        run_id=run.get("run_id", ""),
        state=run.get("state", "idle"),
        tasks=int(run.get("tasks") or 0),
        emitted=int(stats.get("emitted", 0)),
        enqueued_total=int(raw.get("enqueued") or 0),
        completed=completed,
        duplicates_dropped=int(stats.get("duplicates", 0)),
        requeued=int(stats.get("requeued", 0)),
        reaped_workers=int(stats.get("reaped_workers", 0)),
        external_scale_downs=int(stats.get("external_scale_downs", 0)),
        terminated_workers=int(stats.get("terminated_workers", 0)),
        qos=(stats.get("qos_met", 0) / completed) if completed else None,
        workers=sum(1 for w in workers if w[1] == "running"),
        stopping=sum(1 for w in workers if w[1] in ("stopping", "leaving")),
        desired=int(raw["desired"] or 0),
        queue=int(raw["queue"]),
        input=int(raw["input"]),
        results=int(raw["results"]),
        output=int(raw["output"]),
        policy=run.get("policy", ""),
        serve=run.get("serve") == "1",
        terminating=run.get("terminating") == "1",
        elapsed_s=(ended - started) if started else 0.0,
        mean_workers=float(run.get("mean_workers") or 0.0),
        alive=run.get("state") == "running" and time.time() - float(run.get("updated_at") or started or 0.0) < ALIVE_S,
    )


def read_status(r) -> Status:
    """The current run's status from Redis (any process)."""
    script = r.register_script(_STATUS_LUA)
    return _status_from(json.loads(script(keys=_STATUS_KEYS, args=[P.hb_key("")])))


def loops_alive(r) -> bool:
    """Whether any loop of a workflow is alive: a worker's heartbeat, or the emitter's or
    the collector's lease (a run's, or loops started by hand)."""
    if r.exists(P.lease_key("emitter"), P.lease_key("collector")):
        return True
    return any(True for _ in r.scan_iter(match=P.hb_key("*"), count=1000))


def stop_run(r) -> bool:
    """Ask the running workflow to stop (``faastui workflow stop``). True if anything was
    running (a run, or loops); else nothing is set: the stop holds the time it was asked
    and applies to the loops running then, so nothing started later is stopped by it."""
    running = r.hget(P.RUN_KEY, "state") in (b"running", "running") or loops_alive(r)
    if running:
        r.set(P.STOP_KEY, repr(P.redis_time(r)))
    return running


class StatusReader:
    """Reads the workflow's status from a Redis URL (what faces call: no Redis for them)."""

    def __init__(self, url: str):
        from ._redis import connect_checked

        self._r = connect_checked(url)

    def read(self) -> Status:
        return read_status(self._r)

    def close(self) -> None:
        self._r.close()

    def __enter__(self) -> StatusReader:
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


def request_scale(url: str, text: str) -> dict:
    """``faastui scale worker N|+K|-K`` for a run on ``url``: sets the desired count
    (relative to the current target) and returns {"name", "replicas",
    "available_replicas", "previous"}. Raises InvalidRequest if no run is going."""
    from ..errors import InvalidRequest, NotFound
    from ._redis import connect_checked

    text = text.strip()
    sign = text[:1] if text[:1] in "+-" else "="
    digits = text[1:] if sign != "=" else text
    if not digits.isdigit():
        raise InvalidRequest(f"bad replica count {text!r}", hint="use N, +K or -K, e.g. 3, +2, -1")
    r = connect_checked(url)
    try:
        s = read_status(r)
        if not s.alive:
            raise NotFound("no workflow is running", hint="faastui workflow start")
        n = int(digits)
        base = s.desired or s.workers
        target = n if sign == "=" else (base + n if sign == "+" else base - n)
        target = max(MIN_WORKERS, min(MAX_WORKERS, target))
        r.set(P.SCALE_KEY, target)
        return {"name": "worker", "replicas": target, "available_replicas": s.workers, "previous": s.desired}
    finally:
        r.close()
