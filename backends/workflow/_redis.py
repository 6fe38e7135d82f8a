"""One place that makes the workflow's Redis clients (sync redis-py, short timeouts)."""

from __future__ import annotations

import redis

__all__ = ["connect"]


def connect(url: str, timeout: float = 10.0) -> redis.Redis:
    """A client for ``url`` whose socket timeout outlasts the loops' blocking calls."""
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                health_check_interval=0)
