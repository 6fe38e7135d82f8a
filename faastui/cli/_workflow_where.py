"""Where a workflow run is: its Redis, and the record a background run leaves on this machine.

``workflow start`` writes ``workflow-<context>.json`` in the state dir (run id, pid,
Redis URL, log); ``workflow_redis_url()`` is the one answer every ``workflow``
command and ``scale worker`` use for "which Redis": ``--redis-url``, a live
background run's, the context's, the engine's (local), else the last run's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ._common import call, current_context, usage_error

__all__ = ["record_path", "read_record", "workflow_redis_url", "pid_alive"]


def record_path(ctx_name: str) -> Path:
    from ..locations import state_dir

    return state_dir() / f"workflow-{ctx_name}.json"


def read_record(ctx_name: str) -> dict:
    try:
        return json.loads(record_path(ctx_name).read_text())
    except (OSError, ValueError):
        return {}


def workflow_redis_url(explicit: str | None = None) -> str:
    """The workflow's Redis: --redis-url, a live background run's, the context's, the
    engine's (local), else the last run's on this context."""
    if explicit:
        return explicit
    ctx = current_context()
    record = read_record(ctx.name)
    if record.get("redis_url") and pid_alive(int(record.get("pid") or 0)):
        return record["redis_url"]  # a background run of this context, started elsewhere
    if ctx.redis_url:
        return ctx.redis_url

    async def ask(b):
        info = getattr(b, "info", None)
        if info is None:
            return None
        return (await info()).get("redis_url")

    url = call(ask) if ctx.backend == "local" else record.get("redis_url")  # the last run's
    if not url:
        raise usage_error(
            "this context has no Redis URL for the workflow",
            hint="pass --redis-url redis://HOST:PORT (a Redis the cluster reaches), "
            "or faastui context add NAME --redis-url ...",
        )
    return url


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is ours
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
