"""One place that makes the workflow's Redis clients (sync redis-py, short timeouts)."""

from __future__ import annotations

import redis

from ..errors import Unreachable

__all__ = ["connect", "connect_checked"]


def connect(url: str, timeout: float = 10.0) -> redis.Redis:
    """A client for ``url`` whose socket timeout outlasts the loops' blocking calls."""
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                health_check_interval=0)


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
