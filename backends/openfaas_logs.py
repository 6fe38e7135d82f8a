"""An OpenFaaS gateway's ``GET /system/logs``, read: its NDJSON messages as ``LogLine``, and
its ``follow=true`` stream followed across the gateway's request timeout.

Each line is a faas-provider ``logs.Message``: ``{"name", "namespace", "instance",
"timestamp", "text"}``, the timestamp in RFC 3339 with up to nine fraction digits (Go's zero
time ``0001-01-01T00:00:00Z`` where the provider has none: read as no time). A gateway ends
a followed stream at its write timeout; ``follow`` opens it again from the newest time seen,
skipping the lines it already gave at that time, so the iterator never ends by itself.
(Lines without a time cannot be told apart across a reopening; providers give times.)
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from .model import LogLine

__all__ = ["parse_time", "message", "messages", "query", "open_stream", "follow"]

#: seconds before a stream that ended with nothing new is opened again
REOPEN_S = 1.0
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def parse_time(text) -> float | None:
    """Epoch seconds of an RFC 3339 time (nanoseconds kept to the microsecond); None for
    Go's zero time, nothing, or text that is not such a time."""
    m = _TIME.match(str(text or "").strip())
    if not m or m.group(1).startswith("0001-01-01"):
        return None
    whole, frac, zone = m.groups()
    try:
        t = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    return t.astimezone(UTC).timestamp() + (int((frac or "0")[:6].ljust(6, "0")) / 1e6)


def message(data, fn: str) -> LogLine | None:
    """A LogLine from one decoded message (None for what is not a message object)."""
    if not isinstance(data, dict):
        return None
    text = data.get("text")
    if not isinstance(text, str):
        return None
    return LogLine(function=str(data.get("name") or fn), text=text.rstrip("\n"),
                   time=parse_time(data.get("timestamp")), instance=str(data.get("instance") or ""))


def messages(body: str, fn: str) -> list[LogLine]:
    """Every message of an NDJSON body (a line that is not one is skipped)."""
    out = []
    for raw in body.splitlines():
        if not raw.strip():
            continue
        try:
            line = message(json.loads(raw), fn)
        except ValueError:
            continue
        if line is not None:
            out.append(line)
    return out


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace(
        "+00:00", "Z")


def query(fn: str, namespace: str | None, *, tail: int | None, since: float | None,
          instance: str | None, follow: bool) -> dict:
    """The query of a log request, as faas-cli writes it."""
    q = {"name": fn, "follow": "true" if follow else "false"}
    if namespace:
        q["namespace"] = namespace
    if instance:
        q["instance"] = instance
    if since is not None:
        q["since"] = rfc3339(since)
    if tail:
        q["tail"] = str(tail)
    return q


async def open_stream(client, params: dict, *, where: str, hint: str):
    """``GET /system/logs`` as a stream on ``client`` (an ``httpx.AsyncClient``), with no
    read timeout (a quiet log is not a dead gateway): ``(status, error body, lines)``, the
    lines an async iterator of the stream's text lines (None for an error answer).
    Raises: Unreachable."""
    import httpx  # deferred: the adapter's client is httpx

    from .errors import Unreachable

    request = client.build_request("GET", "/system/logs", params=params,
                                   timeout=httpx.Timeout(None, connect=5.0))
    try:
        resp = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise Unreachable(f"{where} does not answer: {exc}".rstrip(": "), hint=hint) from None
    if resp.status_code >= 400:
        await resp.aread()
        await resp.aclose()
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
        return resp.status_code, body, None

    async def lines():
        try:
            async for line in resp.aiter_lines():
                yield line
        except httpx.HTTPError:
            return  # the gateway cut it: it is opened again
        finally:
            await resp.aclose()
    return resp.status_code, None, lines()


async def follow(open_stream: Callable[[int | None, float | None], Awaitable[AsyncIterator[str]]],
                 tail: int, since: float | None, fn: str) -> AsyncIterator[LogLine]:
    """Follow through ``open_stream(tail, since)`` (an async iterator of the stream's lines),
    opened again whenever the gateway ends it."""
    newest: float | None = None
    at_newest: set[tuple[str, str]] = set()
    first = True
    while True:
        lines = await open_stream(tail if first else None,
                                  since if newest is None else newest)
        got_any = False
        async for raw in lines:
            if not raw.strip():
                continue
            try:
                line = message(json.loads(raw), fn)
            except ValueError:
                continue
            if line is None:
                continue
            if newest is not None and line.time is not None and (
                    line.time < newest or (line.time == newest
                                           and (line.instance, line.text) in at_newest)):
                continue  # given before the stream was opened again
            got_any = True
            if line.time is not None:
                if newest is None or line.time > newest:
                    newest, at_newest = line.time, set()
                at_newest.add((line.instance, line.text))
            yield line
        first = False
        if not got_any:
            await asyncio.sleep(REOPEN_S)  # a gateway that ends the stream at once: no spin
