"""One place that makes the workflow's Redis clients (sync redis-py, short timeouts).

The clients ride out a Redis restart (the engine restarts its Redis within a
second, with its data): a command that fails to connect, or whose connection
drops, is tried again with a backoff for up to about ``RIDE_OUT_S``. (A
``from_url`` client retries nothing by default.)
"""

from __future__ import annotations

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from ..errors import Unreachable

__all__ = ["connect", "connect_checked", "RIDE_OUT_S"]

RIDE_OUT_S = 30.0


def connect(url: str, timeout: float = 10.0) -> redis.Redis:
    """A client for ``url`` whose socket timeout outlasts the loops' blocking calls."""
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                health_check_interval=0,
                                retry=Retry(ExponentialBackoff(cap=0.5, base=0.02),
                                            int(RIDE_OUT_S / 0.5)),
                                retry_on_error=[redis.ConnectionError, redis.TimeoutError])


def connect_checked(url: str, timeout: float = 5.0) -> redis.Redis:
    """``connect``, then PING: Redis errors become ``Unreachable`` here, at the boundary."""
    r = connect(url, timeout=timeout)
    try:
        r.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        r.close()
        raise Unreachable(f"the workflow's Redis does not answer: {exc}",
                          hint="is the engine up? `faastui up`") from None
    return r
