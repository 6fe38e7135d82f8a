"""Queue statistics for any Redis server, in one round trip per poll.

Used by the CLI ``queues`` command, watch mode and the dashboard (through the
backends) to show how deep each Redis list queue is, how much is being worked
on, how fast items come and go, and how old the next item to be served is.
``QueueWatcher(url).poll()`` returns ``backends.model.QueueStat`` objects;
``apoll()`` is the same in a thread for async callers.

Conventions, for the producers and consumers that want their numbers shown:

- A queue is a Redis list. Producers LPUSH and consumers pop from the right
  (``pop_end="right"``, the default), so the next item served, the oldest, is
  ``LINDEX Q -1``; with ``pop_end="left"`` it is ``LINDEX Q 0``.
- In-flight items of queue ``Q`` are the lists ``Q:inflight:*`` (one per
  worker, e.g. the target of BLMOVE); their lengths are summed into
  ``in_flight``. Glob patterns never yield such lists as queues of their own.
- Producers MAY ``INCR Q:stats:in`` and consumers ``Q:stats:out``. When a
  counter exists in two successive polls, its rate is the counter delta over
  the elapsed time; otherwise it is estimated from the length delta
  (rate_in = max(0, d)/dt, rate_out = max(0, -d)/dt). The first poll of a
  queue reports 0.0 for both.
- ``oldest_age_s`` is ``now - ts`` where ``ts`` is the first of the JSON
  fields ``task_gen_timestamp``, ``task_emit_timestamp``, ``timestamp``,
  ``ts`` of the oldest item (seconds since the epoch; values > 1e11 are read
  as milliseconds). None when the queue is empty or the item carries no
  timestamp. The script reads it server-side, so only the timestamp travels:
  an item up to ``max_item_bytes`` is decoded as JSON, a bigger one has its
  first ``max_item_bytes`` searched for the fields textually.

With neither ``names`` nor ``patterns``, the workflow's well-known queues are
watched (``DEFAULT_QUEUES``). Patterns (``"jobs:*"``) are expanded with SCAN
inside the script, keeping only lists, so each poll walks the keyspace once
per pattern plus once for the in-flight lists: fine for the thousands of keys
a queue server holds, not meant for a cache with millions, and not for Redis
Cluster (the script touches keys it does not declare).
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from backends.errors import AuthError, BackendError, Unreachable
from backends.model import QueueStat

__all__ = ["DEFAULT_QUEUES", "QueueWatcher", "redact_url"]

DEFAULT_QUEUES = (
    "input_queue",
    "worker_queue",
    "result_queue",
    "output_queue",
    "worker_control_syn_queue",
    "worker_control_ack_queue",
)

# ARGV: pop end ('right'|'left'), max bytes of the oldest item to decode, the
# queue names as one JSON array (one argument packs faster in redis-py than a
# hundred KEYS), then glob patterns. Returns one JSON string (a single
# bulk reply parses far faster in redis-py than hundreds of nested elements):
# a list of [name, length (-1: not a list), in-flight sum, stats:in,
# stats:out, timestamp of the oldest item in seconds]; the last three are
# finite numbers as strings (%.17g keeps their precision) or false.
_SCRIPT = r"""
local pop_index = ARGV[1] == 'left' and 0 or -1
local max_bytes = tonumber(ARGV[2])
local fields = {'task_gen_timestamp', 'task_emit_timestamp', 'timestamp', 'ts'}
local names, known = {}, {}
for _, key in ipairs(cjson.decode(ARGV[3])) do
  if not known[key] then known[key] = true; names[#names + 1] = key end
end
local function scan(pattern, visit)
  local cursor = '0'
  repeat
    local page = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = page[1]
    for _, key in ipairs(page[2]) do visit(key) end
  until cursor == '0'
end
local matched = {}
for i = 4, #ARGV do
  scan(ARGV[i], function(key)
    if not known[key] and not string.find(key, ':inflight:', 1, true)
        and redis.call('TYPE', key)['ok'] == 'list' then
      known[key] = true; matched[#matched + 1] = key
    end
  end)
end
table.sort(matched)
for _, key in ipairs(matched) do names[#names + 1] = key end
if #names == 0 then return {'[]', ''} end
local inflight = {}
scan('*:inflight:*', function(key)
  local from = 1
  while true do
    local at = string.find(key, ':inflight:', from, true)
    if not at then return end
    local queue = string.sub(key, 1, at - 1)
    if known[queue] then
      local n = redis.pcall('LLEN', key)  -- an error reply (a table) if not a list
      if type(n) == 'number' then inflight[queue] = (inflight[queue] or 0) + n end
      return
    end
    from = at + 1
  end
end)
local counters = {}  -- MGET gives nil, not an error, for keys that are not strings
for first = 1, #names, 500 do
  local keys = {}
  for i = first, math.min(first + 499, #names) do
    keys[#keys + 1] = names[i] .. ':stats:in'; keys[#keys + 1] = names[i] .. ':stats:out'
  end
  for _, value in ipairs(redis.call('MGET', unpack(keys))) do counters[#counters + 1] = value end
end
local function raw(v)  -- counters and timestamps travel as their text; Python parses them
  if type(v) == 'number' then return tostring(v) end
  if type(v) == 'string' and v ~= '' and not string.find(v, '%s') then return v end
  return '-'
end
local function textual(head)
  for _, field in ipairs(fields) do
    local found = string.match(head, '"' .. field .. '"%s*:%s*"?(%-?[%d%.eE%+%-]+)')
    if found then return found end
  end
  return nil
end
local function stamp(item)  -- the first timestamp field's text, or nil
  -- a plain search first: decoding every oldest item as JSON costs more than the rest
  local head = string.sub(item, 1, max_bytes)
  local found = textual(head)
  if found or #item > max_bytes then return found end
  local ok, data = pcall(cjson.decode, item)
  if not ok or type(data) ~= 'table' then return nil end
  for _, field in ipairs(fields) do
    if data[field] ~= nil then return data[field] end
  end
  return nil
end
-- one flat line of numbers (nested replies parse slowly in redis-py, and so does
-- formatting numbers in Lua): 5 fields per queue, '-' for none, length -1: not a list
local out = {}
for _, key in ipairs(names) do
  local length = redis.pcall('LLEN', key)
  local ts = nil
  if type(length) ~= 'number' then
    length = -1
  elseif length > 0 then
    ts = stamp(redis.call('LINDEX', key, pop_index))
  end
  local n = #out
  out[n + 1] = length; out[n + 2] = inflight[key] or 0
  out[n + 3] = raw(counters[2 * n / 5 + 1]); out[n + 4] = raw(counters[2 * n / 5 + 2])
  out[n + 5] = raw(ts)
end
return {cjson.encode(matched), table.concat(out, ' ')}
"""


def redact_url(url: str) -> str:
    """The URL with any password (userinfo or ``?password=``) replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:***@{host}" if has_password else f"***@{host}"
    query = parts.query
    if "password" in query:
        query = urlencode([(k, "***" if k == "password" else v) for k, v in parse_qsl(query, keep_blank_values=True)])
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    # urlunsplit would drop the empty host of unix:///path, so rebuild by hand
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


class QueueWatcher:
    """Polls length, in-flight, rates and oldest age of Redis list queues.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL of the server.
        names: queues to watch, in this order.
        patterns: glob patterns (``"jobs:*"``) whose matching lists are also
            watched, sorted by name after ``names``.
        client: a ready ``redis.Redis`` to use instead of one made from ``url``
            (it is not closed by ``close()``).
        pop_end: the end consumers pop from: ``"right"`` (default) or ``"left"``.
        max_item_bytes: oldest items up to this size are JSON-decoded server-side;
            of a bigger one, only this many first bytes are searched for a timestamp.
        timeout: socket connect/read timeout in seconds for a client made here.
    """

    def __init__(
        self,
        url: str,
        names: Sequence[str] | None = None,
        patterns: Sequence[str] | None = None,
        *,
        client: redis.Redis | None = None,
        pop_end: str = "right",
        max_item_bytes: int = 4096,
        timeout: float = 5.0,
    ):
        if pop_end not in ("right", "left"):
            raise ValueError(f"pop_end must be 'right' or 'left', not {pop_end!r}")
        if names is None and not patterns:
            names = DEFAULT_QUEUES
        self.url = url
        self.safe_url = redact_url(url)
        self.names = list(names or ())
        self.patterns = list(patterns or ())
        self.pop_end = pop_end
        self.max_item_bytes = max_item_bytes
        self._owns_client = client is None
        if client is None:
            try:
                client = redis.Redis.from_url(
                    url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 1)
                )
            except ValueError as exc:  # bad scheme or malformed URL
                raise BackendError(f"invalid Redis URL {self.safe_url}: {exc}") from exc
        self.client = client
        self._script = client.register_script(_SCRIPT)  # EVALSHA; SCRIPT LOAD once if missing
        self._args = [pop_end, max_item_bytes, json.dumps(self.names), *self.patterns]
        self._unique_names = list(dict.fromkeys(self.names))  # the script drops repeats too
        self._lock = threading.Lock()
        self._previous: dict[str, tuple[int, float | None, float | None]] = {}
        self._previous_at: float | None = None

    def poll(self) -> list[QueueStat]:
        """One round trip to Redis: the stats of every watched queue.

        Raises:
            Unreachable: the server does not answer (refused, timed out).
            AuthError: the server refused the credentials.
            BackendError: any other Redis error, or a named key that is not a list.
        """
        with self._lock:
            rows = self._run()
            now_wall, now = time.time(), time.monotonic()
            dt = now - self._previous_at if self._previous_at is not None else 0.0
            previous, stats, current = self._previous, [], {}
            for name, length, in_flight, raw_in, raw_out, raw_ts in rows:
                if length < 0:
                    raise BackendError(
                        f"key {name!r} on Redis at {self.safe_url} is not a list",
                        hint="remove it from the watched queue names",
                    )
                count_in, count_out = raw_in, raw_out
                current[name] = (length, count_in, count_out)
                rate_in = rate_out = 0.0
                before = previous.get(name)
                if before is not None and dt > 0:
                    delta = length - before[0]
                    rate_in = (
                        max(0.0, count_in - before[1])
                        if count_in is not None and before[1] is not None
                        else max(0, delta)
                    ) / dt
                    rate_out = (
                        max(0.0, count_out - before[2])
                        if count_out is not None and before[2] is not None
                        else max(0, -delta)
                    ) / dt
                stats.append(
                    QueueStat(
                        name,
                        length,
                        in_flight,
                        rate_in,
                        rate_out,
                        max(0.0, now_wall - raw_ts) if raw_ts is not None else None,
                    )
                )
            self._previous, self._previous_at = current, now
            return stats

    async def apoll(self) -> list[QueueStat]:
        """``poll()`` in a worker thread, so the event loop is not blocked."""
        return await asyncio.to_thread(self.poll)

    def _run(self) -> list:
        try:
            reply = self._script(args=self._args)
        except redis.AuthenticationError as exc:
            raise AuthError(f"Redis at {self.safe_url} refused the credentials: {_one_line(exc)}") from exc
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise Unreachable(
                f"Redis at {self.safe_url} is unreachable: {_one_line(exc)}",
                hint="is the server running and the URL right?",
            ) from exc
        except redis.RedisError as exc:
            raise BackendError(f"Redis at {self.safe_url} failed the queue query: {_one_line(exc)}") from exc
        matched_raw, numbers = reply
        # cjson passes key bytes through as they are; keep odd ones readable
        text = matched_raw.decode("utf-8", "replace") if isinstance(matched_raw, bytes) else matched_raw
        names = [*self._unique_names, *json.loads(text)]
        fields = (numbers.decode() if isinstance(numbers, bytes) else numbers).split()
        rows = []
        for i, name in enumerate(names):
            length, in_flight, raw_in, raw_out, raw_ts = fields[5 * i : 5 * i + 5]
            rows.append(
                (name, int(length), int(in_flight), _number(raw_in), _number(raw_out), _seconds(_number(raw_ts)))
            )
        return rows

    def close(self) -> None:
        """Close the client if this watcher made it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> QueueWatcher:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _number(text: str) -> float | None:
    """A finite number from the script's text, or None ('-', garbage, nan, inf)."""
    if text == "-":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _seconds(value: float | None) -> float | None:
    """Epoch seconds; values over 1e11 are milliseconds."""
    if value is None:
        return None
    return value / 1000.0 if value > 1e11 else value


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
