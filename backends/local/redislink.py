"""The engine's link to its own Redis: one client, what the supervisor says, riding out a restart.

The supervisor (``redis_server.RedisServer.supervise``) restarts a dead Redis within
a second and tells the engine (``changed``, called on the engine's loop). While it is
down the engine is *degraded*: ``degraded()`` says so in a line for the snapshot's
``errors`` (so ``faastui status`` and the dashboard show it), and engine calls that
need Redis (``call``) wait for it to come back, up to ``wait_s``, instead of failing
at once; past that they fail as ``Unreachable`` naming Redis.

Only Redis's own failures are treated so: connection errors and timeouts (the server
is down, restarting or still loading its append-only file) are waited out, any other
Redis error is a ``BackendError``, and anything else (a programming error) propagates
untouched, to be logged with its traceback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import BackendError, Unreachable

__all__ = ["RedisLink", "make_client"]

DEFAULT_WAIT_S = 10.0
_POLL_S = 0.05


def make_client(url: str):
    """A ``redis.asyncio`` client that fails fast: the link does the waiting, not redis-py."""
    import redis.asyncio as aioredis  # deferred: only the daemon needs it
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return aioredis.Redis.from_url(url, socket_timeout=10.0, socket_connect_timeout=2.0, retry=Retry(NoBackoff(), 0))


class RedisLink:
    """Args:
    client: a ``redis.asyncio`` client, or None when the engine has no Redis.
    url: the URL handed to functions (``REDIS_URL``).
    wait_s: how long a call waits for a Redis that is down.
    """

    def __init__(self, client=None, url: str = "", wait_s: float = DEFAULT_WAIT_S):
        self.client = client
        self.url = url
        self.wait_s = wait_s
        self.status = "up" if client is not None else "none"
        self.detail: dict = {}
        self.down_since: float | None = None
        self.waiting = 0  # calls waiting for Redis to come back
        self._back: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._back is None:
            self._back = asyncio.Event()
            if self.status == "up":
                self._back.set()
        return self._back

    def changed(self, event: str, detail: dict) -> None:
        """The supervisor's news (``down``, ``up``, ``failed``), on the engine's loop."""
        self.detail = dict(detail)
        if event == "up":
            self.status, self.down_since = "up", None
            self._event().set()
        else:
            self.status = event
            self.down_since = self.down_since or time.time()
            self._event().clear()

    @property
    def degraded(self) -> bool:
        return self.status in ("down", "failed")

    def errors(self) -> list[str]:
        """One line for the snapshot's ``errors`` while Redis is down; else none."""
        if not self.degraded:
            return []
        since = time.strftime("%H:%M:%S", time.localtime(self.down_since or time.time()))
        waiting = f"; {self.waiting} call(s) waiting for it" if self.waiting else ""
        if self.status == "failed":
            why = self.detail.get("error", "it does not start")
            return [
                f"redis: down since {since}, restarting with backoff ({why}); queues, "
                f"async results and the workflow wait for it{waiting}"
            ]
        how = self.detail.get("exit", "it stopped")
        return [
            f"redis: down since {since} ({how}); restarting it; queues, async results "
            f"and the workflow wait for it{waiting}"
        ]

    async def call(
        self, what: str, op: Callable[..., Awaitable[Any]], *args, wait_s: float | None = None, **kwargs
    ) -> Any:
        """``await op(*args, **kwargs)``, waiting out a Redis restart for up to ``wait_s``.

        Raises:
            Unreachable: no Redis, or it stayed down past ``wait_s``.
            BackendError: Redis refused the command.
        """
        if self.client is None:
            raise Unreachable(f"{what} needs Redis, and the engine has none")
        deadline = time.monotonic() + (self.wait_s if wait_s is None else wait_s)
        waited = False
        try:
            while True:
                try:
                    return await op(*args, **kwargs)
                except (RedisConnectionError, RedisTimeoutError) as exc:
                    if not waited:
                        waited = True
                        self.waiting += 1
                    await self._wait_back(what, exc, deadline)
                except RedisError as exc:
                    raise BackendError(f"{what}: Redis refused it: {_one_line(exc)}") from None
        finally:
            if waited:
                self.waiting -= 1

    async def _wait_back(self, what: str, exc: Exception, deadline: float) -> None:
        """Wait for Redis to come back, until ``deadline``; then ``Unreachable``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Unreachable(
                f"{what}: Redis does not answer ({_one_line(exc)})",
                hint="the engine restarts it; try again in a moment, and see `faastui status`",
            ) from None
        back = self._event()
        if back.is_set():  # the supervisor has not noticed yet: look again shortly
            await asyncio.sleep(min(remaining, _POLL_S))
            return
        try:  # woken as soon as the supervisor says it is back
            async with asyncio.timeout(min(remaining, 0.5)):
                await back.wait()
        except TimeoutError:
            pass


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
