"""The seed workflow's control messages and its program clock, built in one place.

Every timestamp the seed writes is seconds since the program start
(``program_start_time``, a UTC datetime the orchestrator picks); faastui's run
keeps that start as an epoch float in ``workflow:run`` and ``Clock`` turns wall
time into the seed's relative seconds. Field names, order and types are the
seed's (COMPAT.md section 6): ``SYN_timestamp`` and ``ack_timestamp`` are
floats, a START's ``start_timestamp`` is a string (the seed sends
``str(seconds)``), a SCALE_DOWN ACK's ``task_id`` is null.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from . import protocol as P

__all__ = [
    "Clock",
    "dumps",
    "syn",
    "ack",
    "start",
    "workflow_init",
    "program_start_text",
    "read_program_start",
    "parse_message",
]


def dumps(obj) -> str:
    """JSON as the seed writes it (``json.dumps`` defaults: ``", "`` and ``": "``)."""
    return json.dumps(obj)


class Clock:
    """Seconds since the program start."""

    def __init__(self, program_start: float):
        self.program_start = float(program_start)

    def now(self) -> float:
        return time.time() - self.program_start

    def at(self, epoch: float) -> float:
        return epoch - self.program_start


def program_start_text(epoch: float) -> str:
    """``str(datetime)`` of a UTC start, as the seed's WORKFLOW_INIT carries it."""
    return str(datetime.fromtimestamp(epoch, tz=UTC))


def read_program_start(r, default: float | None = None) -> float:
    """The run's program start (epoch) from ``workflow:run``, else ``default`` (or now)."""
    raw = r.hget(P.RUN_KEY, "program_start")
    if raw:
        return float(raw)
    return time.time() if default is None else float(default)


def syn(kind: str, message: str, clock: Clock, **extra) -> dict:
    """A SYN: ``{"type", "action": "SYN", "message", "SYN_timestamp"}`` (+ extra fields)."""
    return {"type": kind, "action": "SYN", "message": message, "SYN_timestamp": clock.now(), **extra}


def ack(pod_name: str, clock: Clock, task_id=None) -> dict:
    """The ACK of a SCALE_DOWN SYN."""
    return {
        "type": "SCALE_DOWN",
        "action": "ACK",
        "ack_timestamp": clock.now(),
        "task_id": task_id,
        "pod_name": pod_name,
        "message": "Worker pod is exiting as instructed.",
    }


def start(pod_name: str, clock: Clock) -> dict:
    """The START a loop pushes on its start queue."""
    return {
        "type": "START",
        "action": "SYNC",
        "start_timestamp": str(clock.now()),
        "pod_name": pod_name,
        "message": f"{pod_name} is ready to start processing tasks.",
    }


def workflow_init(clock: Clock) -> dict:
    return syn(
        "WORKFLOW_INIT",
        "Workflow initialization completed",
        clock,
        program_start_time=program_start_text(clock.program_start),
    )


def parse_message(raw) -> dict | None:
    """A control message as a dict, or None if it is not a JSON object."""
    try:
        msg = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return msg if isinstance(msg, dict) else None
