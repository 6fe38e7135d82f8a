"""The emitter's and the collector's lease: one of each at a time, and proof of life.

A run has one emitter and one collector. Each holds ``workflow:lease:<role>``, a
key whose value is a token of its own and whose TTL a heartbeat thread renews
(only while the value is still its token, in one script). The controller reads
the key: a loop whose lease is gone is dead, and it launches another, which
takes the lease when it is free (``SET NX``). A loop that was only stalled and
finds its lease taken is *fenced*: the emitter's pushes check the token in the
same script that writes (``EMIT_LUA``), so a fenced emitter writes nothing, and
both loops stop as soon as they see it.

Liveness is a lease, not a process id, so it works the same for forked
processes, engine functions and pods on a cluster.
"""

from __future__ import annotations

import threading
import time
import uuid

from . import protocol as P

__all__ = ["Lease", "RENEW_LUA"]

# KEYS: lease; ARGV: token, ttl ms. 1 if renewed, 0 if the lease is not ours (fenced).
RENEW_LUA = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease; ARGV: token. Gives the lease up if it is ours.
RELEASE_LUA = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    """The lease of ``role`` for one loop; ``acquire()``, then ``lost`` tells if fenced.

    Args:
        r: the loop's Redis client.
        url: for the heartbeat thread's own client (a client is not shared across threads
            that block).
        role: "emitter" or "collector".
        ttl_s: the lease's TTL; renewed every third of it.
    """

    def __init__(self, r, url: str, role: str, ttl_s: float = 3.0):
        self.r = r
        self.url = url
        self.key = P.lease_key(role)
        self.ttl_ms = max(100, int(ttl_s * 1000))
        self.token = uuid.uuid4().hex
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, give_up) -> bool:
        """Take the lease once it is free (another live loop holds it: wait).

        ``give_up()`` is asked between tries (the run's stop); False if it said so."""
        while not self.r.set(self.key, self.token, nx=True, px=self.ttl_ms):
            if give_up():
                return False
            time.sleep(min(0.25, self.ttl_ms / 4000))
        old = threading.stack_size(256 * 1024)  # the engine caps a loop's address space
        try:
            self._thread = threading.Thread(target=self._renew, daemon=True, name=f"lease-{self.key}")
            self._thread.start()
        finally:
            threading.stack_size(old)
        return True

    def _renew(self) -> None:
        from ._redis import connect

        r = connect(self.url, timeout=max(1.0, self.ttl_ms / 1000))
        renew = r.register_script(RENEW_LUA)
        try:
            while not self._stop.wait(self.ttl_ms / 3000):
                try:
                    if renew(keys=[self.key], args=[self.token, self.ttl_ms]) == 0:
                        self.lost.set()
                        return
                except Exception:  # Redis away: the lease lapses, or the next beat renews it
                    pass
        finally:
            r.close()

    def release(self) -> None:
        """Stop renewing and give the lease up (a clean end: no one waits for its TTL)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        try:
            self.r.register_script(RELEASE_LUA)(keys=[self.key], args=[self.token])
        except Exception:  # Redis away: the lease lapses by itself
            pass
