"""A Nuclio function's log lines, with their times and replicas.

With a cluster, the function's pods are read through the Kubernetes API with their times
(``kube/podlogs.py``), container ``nuclio`` (or the one named as the function). Without,
the dashboard's ``GET /api/functions/{name}/logs/{replica}?follow=false&tailLines=N[&since=D]``
(``since`` a Go duration: the dashboard keeps whole seconds) for each replica
(``.../replicas``); the replica is the line's instance. A line that is one of Nuclio's JSON
log records (``{"level", "time", "name", "message", ...}``) gives its time (RFC 3339 or
epoch seconds) and its message; any other line has no time of its own (the dashboard
already kept only those since ``since``).
"""

from __future__ import annotations

import json
import time

from .errors import Unsupported
from .model import LogLine
from .openfaas_logs import parse_time

__all__ = ["record", "log_lines"]


def record(raw: str, fn: str, replica: str) -> LogLine:
    """One dashboard line as a LogLine."""
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict) and "message" in data:
            t = data.get("time")
            when = float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) \
                else parse_time(t)
            text = str(data["message"])
            extra = data.get("with") or data.get("more")
            if extra:
                text += " " + (json.dumps(extra, sort_keys=True) if isinstance(extra, dict)
                               else str(extra))
            return LogLine(fn, text, time=when, instance=replica)
    return LogLine(fn, raw, instance=replica)


async def log_lines(backend, fn: str, tail: int, since: float | None,
                    instance: str | None) -> list[LogLine]:
    """``NuclioBackend.log_lines`` (see the module docstring)."""
    from .nuclio import _path

    if tail <= 0:
        return []
    if backend.cluster is not None:
        await backend.describe(fn)  # FunctionNotFound before any pod is read
        return await backend.cluster.log_lines(fn, tail, ("nuclio", fn), since=since,
                                               instance=instance)
    resp = await backend._request("GET", _path(fn, "replicas"), headers=backend._headers())
    if resp.status_code == 404 and "json" not in resp.headers.get("content-type", ""):
        raise Unsupported("this Nuclio dashboard serves no replica logs",
                          hint="newer Nuclio versions do (GET /api/functions/NAME/logs/REPLICA)")
    if resp.status_code >= 400:
        await backend._raise_for(resp, fn)
    names = (resp.json() or {}).get("names") or []
    params = {"follow": "false", "tailLines": str(tail)}
    if since is not None:
        params["since"] = f"{max(0, int(time.time() - since)) + 1}s"  # whole seconds, rounded up
    lines: list[LogLine] = []
    for replica in names:
        if instance and replica != instance:
            continue
        got = await backend._send("GET", _path(fn, "logs", replica), fn=fn,
                                  headers=backend._headers(), params=params)
        lines += [record(raw, fn, replica) for raw in got.text.splitlines()]
    if since is not None:
        lines = [ln for ln in lines if ln.time is None or ln.time >= since]
    return lines[-tail:]
