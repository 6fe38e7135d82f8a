"""Launchers: how the controller starts the emitter, the collector and workers.

- ``ProcessLauncher`` forks real processes on this machine (tests, benches,
  and a workflow without an engine). ``kill(worker_id)`` sends SIGKILL.
- ``EngineLauncher`` starts each loop as an async invocation of the
  ``emitter``, ``collector`` and ``worker`` functions on a ``Backend``
  (the embedded engine or any backend that can ``invoke_async``).

Both have ``launch(role, payload)``, ``poll()`` (reap what ended; return
their summaries if known) and ``close(timeout)``.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import threading
import time

__all__ = ["ProcessLauncher", "EngineLauncher", "ROLES"]

ROLES = ("emitter", "collector", "worker")


def _run_role(role: str, url: str, payload: dict) -> None:
    from .collector import run_collector
    from .emitter import run_emitter
    from .worker import run_worker

    os.environ.setdefault("REDIS_URL", url)
    target = {"emitter": run_emitter, "collector": run_collector, "worker": run_worker}[role]
    target(url, **payload)


class ProcessLauncher:
    """Each loop a forked process; every process is joined (PID 1 here reaps nothing)."""

    def __init__(self, url: str):
        self.url = url
        self._ctx = mp.get_context("fork")
        self.procs: dict[str, tuple[str, mp.Process]] = {}  # key -> (role, process)
        self._n = 0

    def launch(self, role: str, payload: dict) -> str:
        key = payload.get("worker_id") or f"{role}-{self._n}"
        self._n += 1
        proc = self._ctx.Process(target=_run_role, args=(role, self.url, dict(payload)),
                                 name=f"workflow-{key}", daemon=True)
        proc.start()
        self.procs[key] = (role, proc)
        return key

    def kill(self, key: str, sig: int = signal.SIGKILL) -> bool:
        entry = self.procs.get(key)
        if entry is None or not entry[1].is_alive():
            return False
        os.kill(entry[1].pid, sig)
        return True

    def pid(self, key: str) -> int | None:
        entry = self.procs.get(key)
        return entry[1].pid if entry else None

    def poll(self) -> list[str]:
        """Join the processes that ended; their keys."""
        ended = [k for k, (_, p) in self.procs.items() if not p.is_alive()]
        for k in ended:
            self.procs.pop(k)[1].join()
        return ended

    def alive(self, role: str | None = None) -> list[str]:
        return [k for k, (r, p) in self.procs.items() if p.is_alive() and role in (None, r)]

    def close(self, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        for _, proc in self.procs.values():
            proc.join(max(0.0, end - time.monotonic()))
        for _, proc in self.procs.values():
            if proc.is_alive():
                proc.kill()
                proc.join()
        self.procs.clear()


class EngineLauncher:
    """Starts loops as async invocations through a Backend, from sync code.

    The backend's coroutines run on a private event loop in a thread, so the
    controller stays a plain synchronous loop.

    Args:
        backend_factory: a zero-argument callable returning a Backend (it is
            created and closed on the private loop).
        functions: role -> function name (default: the role's own name).
    """

    def __init__(self, backend_factory, functions: dict[str, str] | None = None):
        self.functions = {r: r for r in ROLES}
        self.functions.update(functions or {})
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="engine-launcher")
        self._thread.start()
        self.backend = self.call(self._make(backend_factory))
        self.call_ids: dict[str, str] = {}
        self._n = 0

    @staticmethod
    async def _make(factory):
        return factory()

    def call(self, coro, timeout: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def launch(self, role: str, payload: dict) -> str:
        key = payload.get("worker_id") or f"{role}-{self._n}"
        self._n += 1
        self.call_ids[key] = self.call(self.backend.invoke_async(self.functions[role], payload))
        return key

    def poll(self) -> list[str]:
        return []

    def close(self, timeout: float = 10.0) -> None:
        try:
            self.call(self.backend.aclose(), timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            self._loop.close()
