"""Log lines as text, for both faces: plain, with their time and instance, as faas-cli's
JSON messages; and the ``--since`` values (``5m``, ``1h30m``, an RFC 3339 time).

``faastui logs -o json`` prints one JSON object per line in the shape of OpenFaaS's log
messages (``faas-provider/logs.Message``, what ``faas-cli logs -o json`` prints):
``{"name", "namespace", "instance", "timestamp", "text"}``, the timestamp in RFC 3339
(``0001-01-01T00:00:00Z``, Go's zero time, where the backend gives no time). No rich,
no textual: the CLI imports this for every ``faastui logs``.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

from backends.errors import InvalidRequest
from backends.model import LogLine

__all__ = ["parse_since", "rfc3339", "plain", "faas_json", "ZERO_TIME"]

ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, as faas-cli prints an unknown time
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_since(text: str, now: float | None = None) -> float:
    """``5m``, ``90s``, ``1h30m``, ``2d`` (that long ago) or an RFC 3339 time -> epoch seconds.
    Raises: InvalidRequest (a usage error) for anything else."""
    value = text.strip()
    now = time.time() if now is None else now
    if value and _DURATION.sub("", value) == "" and _DURATION.match(value):
        return now - sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(value))
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"--since {text!r} is neither a duration nor a time",
            hint="e.g. --since 5m, --since 1h30m, --since 2026-01-31T12:00:00Z",
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def rfc3339(t: float | None) -> str:
    """``2026-01-31T12:00:00.123456Z`` (UTC); Go's zero time for None."""
    if t is None:
        return ZERO_TIME
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def plain(line: LogLine, timestamps: bool = False, prefix: bool = False) -> str:
    """The line as ``faastui logs`` prints it: its text, after its time and ``[instance]``
    when asked (kubectl's ``--timestamps`` and ``--prefix``)."""
    head = ""
    if timestamps:
        head = rfc3339(line.time) + " "
    if prefix and line.instance:
        head += f"[{line.instance}] "
    return head + line.text


def faas_json(line: LogLine, namespace: str = "") -> str:
    """One OpenFaaS log message as a JSON line (see the module)."""
    return json.dumps(
        {
            "name": line.function,
            "namespace": namespace,
            "instance": line.instance,
            "timestamp": rfc3339(line.time),
            "text": line.text,
        },
        ensure_ascii=False,
    )
