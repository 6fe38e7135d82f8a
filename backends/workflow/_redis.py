"""One place that makes the workflow's Redis clients (sync redis-py, short timeouts).

The clients ride out a Redis restart (the engine restarts its Redis within a
second, with its data): a command that fails to connect, or whose connection
drops, is tried again with a backoff for up to about ``ride_out_s()`` (30 s, or
``FAASTUI_REDIS_RIDE_OUT_S``). (A ``from_url`` client retries nothing by
default.) Past that a loop ends quietly (``quiet_redis_errors``: one line on
stderr, reason "redis") and the controller, which waits for Redis as long as
its run allows, launches it again once Redis is back.
"""

from __future__ import annotations

import functools
import os
import sys

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from ..errors import Unreachable

__all__ = ["connect", "connect_checked", "ride_out_s", "quiet_redis_errors", "REDIS_ERRORS", "RIDE_OUT_S"]

RIDE_OUT_S = 30.0
BACKOFF_CAP_S = 0.5
#: what a Redis that went away raises (after the client's own retries)
REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError)


def ride_out_s() -> float:
    """How long a client keeps retrying a command while Redis is away."""
    try:
        return max(0.1, float(os.environ.get("FAASTUI_REDIS_RIDE_OUT_S") or RIDE_OUT_S))
    except ValueError:
        return RIDE_OUT_S


def connect(url: str, timeout: float = 10.0) -> redis.Redis:
    """A client for ``url`` whose socket timeout outlasts the loops' blocking calls."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=0,
        retry=Retry(ExponentialBackoff(cap=BACKOFF_CAP_S, base=0.02), max(1, int(ride_out_s() / BACKOFF_CAP_S))),
        retry_on_error=list(REDIS_ERRORS),
    )


def connect_checked(url: str, timeout: float = 5.0) -> redis.Redis:
    """``connect``, then PING: Redis errors become ``Unreachable`` here, at the boundary."""
    r = connect(url, timeout=timeout)
    try:
        r.ping()
    except REDIS_ERRORS as exc:
        r.close()
        raise Unreachable(
            f"the workflow's Redis does not answer: {exc}", hint="is the engine up? `faastui up`"
        ) from None
    return r


def quiet_redis_errors(role: str):
    """A loop that outlived the clients' ride-out ends with one line and reason "redis"
    (its state in Redis is where it left it: a worker's tasks wait in its in-flight
    list for the reaper, the emitter's item and progress for the next emitter)."""

    def wrap(loop):
        @functools.wraps(loop)
        def run(*args, **kwargs):
            try:
                return loop(*args, **kwargs)
            except REDIS_ERRORS as exc:
                print(
                    f"workflow {role}: Redis did not come back within {ride_out_s():g} s "
                    f"({type(exc).__name__}: {str(exc)[:160]}); this {role} ends",
                    file=sys.stderr,
                    flush=True,
                )
                return {"reason": "redis", "error": str(exc)[:300]}

        return run

    return wrap
