"""Pods' logs with their times, as the Kubernetes API gives them (``GET
/api/v1/namespaces/{ns}/pods/{name}/log?timestamps=true``): each line after its RFC3339Nano
time and a space. A function's lines are its pods' lines, merged in time order, each with
the pod's name as its instance, so ``--since`` and ``--instance`` work on every backend that
reads pods (Knative, OpenFaaS and Nuclio with a cluster).

``sinceTime`` is sent to the API (it keeps whole seconds), and the lines are filtered here
to the exact time too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ..model import LogLine

__all__ = ["query", "parse", "merge", "rfc3339"]

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d) (.*)$",
                    re.DOTALL)


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def query(container: str | None, tail: int, since: float | None) -> dict:
    """The log request's query: the last ``tail`` lines, with their times."""
    q = {"tailLines": str(max(0, tail)), "timestamps": "true"}
    if container:
        q["container"] = container
    if since is not None:
        q["sinceTime"] = rfc3339(int(since))  # the API keeps seconds; exact below
    return q


def _time(whole: str, frac: str | None, zone: str) -> float | None:
    try:
        t = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    return t.timestamp() + (int((frac or "0")[:6].ljust(6, "0")) / 1e6)


def parse(text: str, fn: str, instance: str) -> list[LogLine]:
    """The lines of one pod's log read with ``timestamps=true`` (a line without a stamp
    keeps the time of the one before it)."""
    out: list[LogLine] = []
    last: float | None = None
    for raw in text.splitlines():
        m = _STAMP.match(raw)
        if m:
            last = _time(m.group(1), m.group(2), m.group(3))
            raw = m.group(4)
        out.append(LogLine(function=fn, text=raw, time=last, instance=instance))
    return out


def merge(per_pod: list[list[LogLine]], tail: int, since: float | None) -> list[LogLine]:
    """Every pod's lines in time order (a pod's own order kept), since ``since``, the last
    ``tail`` of them."""
    lines = [ln for pod in per_pod for ln in pod
             if since is None or (ln.time is not None and ln.time >= since)]
    lines.sort(key=lambda ln: ln.time if ln.time is not None else float("-inf"))
    return lines[-tail:] if tail > 0 else []
