"""Keeps a run's emitter and collector alive: the controller's part that relaunches them.

The controller launches one emitter and one collector per run. Each holds its
lease (``lease.py``) while it lives; ``RoleKeeper.check()`` (every tick) launches
another when a lease is gone and the loop did not end on purpose: a TERMINATE
("terminated") or the run's stop ("stopped") is final, a kill, a crash or a
Redis that stayed away too long ("failed", or still "running" with no lease) is
not. The new emitter resumes the item its predecessor left in flight from the
progress both keep in Redis (nothing re-emitted, nothing skipped); the new
collector takes over the results in flight (it keeps each task id once).

A launch is pending until its lease appears; one that does not appear within
the launch timeout is tried again.
"""

from __future__ import annotations

import time

from . import protocol as P

__all__ = ["RoleKeeper", "KEPT_ROLES"]

KEPT_ROLES = ("collector", "emitter")
FINAL_STATES = ("terminated", "stopped")


class RoleKeeper:
    """Args: r (the controller's client), launch(role) (starts one; may raise
    BackendError), note(text) (a line for the run's log), launch_timeout_s."""

    def __init__(self, r, launch, note, launch_timeout_s: float):
        self.r = r
        self.launch = launch
        self.note = note
        self.launch_timeout_s = launch_timeout_s
        self.pending: dict[str, float] = {}  # role -> when launched, until its lease shows
        self.relaunched: dict[str, int] = {role: 0 for role in KEPT_ROLES}

    def start(self, role: str) -> None:
        """The run's first launch of ``role``."""
        self.pending[role] = time.monotonic()
        self.launch(role)

    def check(self, roles: dict) -> None:
        """One look (``roles``: the ``workflow:roles`` hash, decoded)."""
        from ..errors import BackendError

        pipe = self.r.pipeline(transaction=False)
        for role in KEPT_ROLES:
            pipe.exists(P.lease_key(role))
        alive = dict(zip(KEPT_ROLES, pipe.execute()))
        now = time.monotonic()
        for role in KEPT_ROLES:
            if alive[role]:
                self.pending.pop(role, None)
                continue
            if roles.get(role) in FINAL_STATES:
                continue
            since = self.pending.get(role)
            if since is not None and now - since < self.launch_timeout_s:
                continue
            if since is not None:
                self.note(f"the {role} did not start within {self.launch_timeout_s:g} s; starting it again")
            else:
                self.note(f"the {role} is gone (its lease lapsed); starting another")
            self.pending[role] = now
            self.relaunched[role] += 1
            try:
                self.launch(role)
            except BackendError as exc:  # the next tick tries again
                self.note(f"starting the {role} failed: {exc}")
