"""The records that travel through the queues, with the seed's fields and types.

Timestamps are seconds since the program start (``messages.Clock``).

- task (``worker_queue``): ``task_id`` (a uuid4 string), ``task_gen_timestamp``,
  ``task_application``, ``task_priority``, ``task_expected_duration``,
  ``task_data_size`` (int), ``task_deadline``, ``task_processing_time_simulated``,
  ``task_emit_timestamp``, ``task_emit_time``.
- worker result (``result_queue``): ``task_id``, ``task_application``,
  ``task_priority``, ``task_gen_timestamp``, ``task_deadline``, ``task_emit_time``,
  ``task_emit_timestamp``, ``task_work_time`` (now - emit), ``task_work_timestamp``,
  ``processing_time``, ``image_size``, ``status`` ("completed").
- collector output (``output_queue``): ``task_id``, ``task_application``,
  ``task_gen_timestamp``, ``task_result_data``, ``task_emit_time``,
  ``task_emit_timestamp``, ``task_deadline``, ``task_collect_time`` (now - work),
  ``task_collect_timestamp``, ``task_output_size``, ``task_work_time``,
  ``task_work_timestamp``, ``task_completion_time`` (now - gen), ``task_QoS``
  (a bool: completion time <= deadline).

A task or a result that is not a JSON object with a ``task_id`` still goes on (with
status ``rejected``, QoS false) instead of killing the loop that read it, as the
seed's loops are killed: nothing is dropped.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid

from .protocol import deadline_for
from .seed import seed_data

__all__ = [
    "new_task",
    "task_id_from",
    "forward_task",
    "work_seconds",
    "result_of",
    "output_of",
    "size_for",
    "parse_record",
]


def task_id_from(rng: random.Random) -> str:
    """A uuid4 string drawn from ``rng`` (a seeded emitter replays the same ids)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def size_for(processing_s: float) -> int:
    """The image size (px) whose calibrated processing time (seed.json) is ``processing_s``."""
    t = seed_data()["task"]
    a, b = t["calibrated_model"]["a"], t["calibrated_model"]["b"]
    return int(max(t["min_image_size"], min(math.sqrt(max((processing_s - b) / a, 0.0)), t["max_image_size"])))


def new_task(
    task_id: str,
    gen_ts: float,
    processing_s: float,
    emit_ts: float,
    *,
    data_size: int | None = None,
    application: str = "image_processing",
    priority: str = "normal",
) -> dict:
    """A task as the seed's emitter pushes it."""
    processing_s = float(processing_s)
    return {
        "task_id": task_id,
        "task_gen_timestamp": gen_ts,
        "task_application": application,
        "task_priority": priority,
        "task_expected_duration": processing_s,
        "task_data_size": int(data_size if data_size is not None else size_for(processing_s)),
        "task_deadline": deadline_for(processing_s),
        "task_processing_time_simulated": processing_s,
        "task_emit_timestamp": emit_ts,
        "task_emit_time": emit_ts - gen_ts,
    }


def forward_task(task: dict, emit_ts: float) -> dict:
    """A task from ``input_queue`` (the seed generator's format) made ready for workers."""
    out = dict(task)
    expected = _num(out.get("task_expected_duration"))
    out.setdefault("task_id", str(uuid.uuid4()))
    out.setdefault("task_gen_timestamp", emit_ts)
    out.setdefault("task_application", "image_processing")
    out.setdefault("task_priority", "normal")
    if out.get("task_deadline") is None:
        out["task_deadline"] = deadline_for(expected or 0.0)
    if out.get("task_processing_time_simulated") is None:
        out["task_processing_time_simulated"] = expected or 0.0
    out["task_emit_timestamp"] = emit_ts
    gen = _num(out.get("task_gen_timestamp"))
    out["task_emit_time"] = emit_ts - gen if gen is not None else 0.0
    return out


def work_seconds(task: dict) -> float:
    """How long a worker works on ``task``: its simulated processing time."""
    for key in ("task_processing_time_simulated", "task_expected_duration"):
        v = _num(task.get(key))
        if v is not None:
            return max(0.0, v)
    return 0.0


def parse_record(raw) -> tuple[dict, bool]:
    """``(record, ok)``: a JSON object with a task id, or a stand-in for a bad item."""
    try:
        rec = json.loads(raw)
    except (TypeError, ValueError):
        rec = None
    if isinstance(rec, dict) and rec.get("task_id") is not None:
        return rec, True
    text = raw if isinstance(raw, (bytes, bytearray)) else str(raw).encode()
    return {"task_id": "rejected-" + hashlib.sha1(text).hexdigest()[:16]}, False


def result_of(task: dict, processing_s: float, now: float, ok: bool = True) -> dict:
    """The worker's result for ``task``, finished at ``now``."""
    emit = _num(task.get("task_emit_timestamp"))
    return {
        "task_id": task.get("task_id"),
        "task_application": task.get("task_application"),
        "task_priority": task.get("task_priority", "normal"),
        "task_gen_timestamp": task.get("task_gen_timestamp"),
        "task_deadline": task.get("task_deadline"),
        "task_emit_time": task.get("task_emit_time"),
        "task_emit_timestamp": task.get("task_emit_timestamp"),
        "task_work_time": now - emit if emit is not None else None,
        "task_work_timestamp": now,
        "processing_time": processing_s,
        "image_size": task.get("task_data_size"),
        "status": "completed" if ok else "rejected",
    }


def output_of(result: dict, now: float, ok: bool = True) -> dict:
    """The collector's output record for ``result``, collected at ``now``."""
    gen, work = _num(result.get("task_gen_timestamp")), _num(result.get("task_work_timestamp"))
    deadline = _num(result.get("task_deadline"))
    completion = now - gen if gen is not None else None
    met = bool(
        ok
        and result.get("status", "completed") == "completed"
        and completion is not None
        and deadline is not None
        and deadline >= completion
    )
    return {
        "task_id": result.get("task_id"),
        "task_application": result.get("task_application"),
        "task_gen_timestamp": result.get("task_gen_timestamp"),
        "task_result_data": result.get("task_result_data"),
        "task_emit_time": result.get("task_emit_time"),
        "task_emit_timestamp": result.get("task_emit_timestamp"),
        "task_deadline": result.get("task_deadline"),
        "task_collect_time": now - work if work is not None else None,
        "task_collect_timestamp": now,
        "task_output_size": result.get("task_output_size"),
        "task_work_time": result.get("task_work_time"),
        "task_work_timestamp": work,
        "task_completion_time": completion,
        "task_QoS": met,
    }


def _num(v) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None
