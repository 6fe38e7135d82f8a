"""Launchers: how the controller starts the emitter, the collector and workers.

- ``ProcessLauncher`` forks real processes on this machine (tests, benches,
  and a workflow without an engine). ``kill(worker_id)`` sends SIGKILL.
- ``EngineLauncher`` starts each loop as an async invocation of the
  ``emitter``, ``collector`` and ``worker`` functions on a ``Backend``
  (the embedded engine or any backend that can ``invoke_async``).
- ``ClusterLauncher`` runs the workflow on a cluster as the seed does on
  OpenFaaS: one function per loop, ``emitter``, ``collector`` and ``worker-1..N``
  (freed numbers are used again), deployed as handler source (``bundle.py``,
  no image is built; on OpenFaaS from ``image``) and started by one call each;
  a worker that left (its ACK) has its function removed, as the seed's scaler
  removes it.

All have ``launch(role, payload)``, ``poll()`` (reap what ended) and
``close(timeout)``; ``retire(key)`` (optional) is told when a worker has left.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import sys
import threading
import time

__all__ = ["ProcessLauncher", "EngineLauncher", "ClusterLauncher", "ROLES"]

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
        proc = self._ctx.Process(
            target=_run_role, args=(role, self.url, dict(payload)), name=f"workflow-{key}", daemon=True
        )
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
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="engine-launcher")
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


class ClusterLauncher:
    """The loops as functions of a cluster backend (Knative, Nuclio, OpenFaaS).

    Args:
        backend_factory: a zero-argument callable returning the Backend.
        url: the Redis URL the functions use (one the cluster reaches).
        image: an image to deploy instead of source (OpenFaaS, which builds nothing).
    """

    def __init__(self, backend_factory, url: str, image: str | None = None, stop_wait_s: float = 15.0):
        self.url = url
        self.image = image
        self.stop_wait_s = stop_wait_s
        self._engine = EngineLauncher(backend_factory)
        self.call = self._engine.call
        self.backend = self._engine.backend
        self.functions: dict[str, str] = {}  # key (worker id, role-n) -> function name

    def _free_worker_name(self) -> str:
        """The lowest worker-k not in use (nor fenced: a reaped worker's name stays dead)."""
        from . import protocol as P
        from ._redis import connect

        used = set(self.functions.values())
        r = connect(self.url)
        try:
            k = 1
            while f"worker-{k}" in used or r.exists(P.dead_key(f"worker-{k}")):
                k += 1
        finally:
            r.close()
        return f"worker-{k}"

    async def _deploy_and_start(self, name: str, role: str, payload: dict) -> None:
        from .bundle import handler_source

        if self.image:  # a platform that runs images: a folder naming it
            import tempfile
            from pathlib import Path

            with tempfile.TemporaryDirectory(prefix="faastui-wf-") as tmp:
                (Path(tmp) / "function.yaml").write_text(
                    f"name: {name}\nimage: {self.image}\ntimeout: 86400\n"
                    f'labels:\n  faastui.io/long-running: "true"\n'
                    f"  faastui.io/workflow-role: {role}\n"
                )
                await self.backend.deploy(tmp, name=name)
            await self._await_available(name)
        else:
            await self.backend.deploy_source(handler_source(role), name=name)
        inv = await self.backend.invoke(name, {"redis_url": self.url, "role": role, **payload})
        if inv.status != "ok":
            from ..errors import BackendError

            raise BackendError(f"starting {name} failed: {inv.error}")

    async def _await_available(self, name: str, timeout: float = 120.0) -> None:
        """An image platform answers calls only once a replica is ready (the gateway's
        proxy refuses them before): wait for one."""
        end = time.monotonic() + timeout
        while (await self.backend.describe(name)).available_replicas < 1:
            if time.monotonic() > end:
                from ..errors import BackendError

                raise BackendError(f"{name} has no ready replica after {timeout:g} s")
            await asyncio.sleep(0.1)

    def launch(self, role: str, payload: dict) -> str:
        name = self._free_worker_name() if role == "worker" else role
        payload = dict(payload)
        if role == "worker":
            payload["worker_id"] = name  # the pod_name of its START and ACK, as the seed's
        elif role == "emitter":
            payload.setdefault("emitter_id", name)
        else:
            payload.setdefault("collector_id", name)
        key = payload.get("worker_id") or role
        self.functions[key] = name
        print(f"workflow: starting {name}", file=sys.stderr, flush=True)
        try:
            self.call(self._deploy_and_start(name, role, payload), timeout=120.0)
        except BaseException:
            self.retire(key)
            raise
        return key

    def worker_id_for(self, key: str) -> str:
        return key

    def retire(self, key: str) -> None:
        """A worker left: remove its function (the seed's scaler does the same)."""
        name = self.functions.pop(key, None)
        if name is not None:
            self._remove(name)

    def _remove(self, name: str, tries: int = 20) -> None:
        """Remove a function, waiting out a platform still deploying it; never raises."""
        from ..errors import BackendError, Conflict, NotFound

        print(f"workflow: removing {name}", file=sys.stderr, flush=True)
        for _ in range(tries):
            try:
                self.call(self.backend.remove(name), timeout=60.0)
                return
            except NotFound:
                return
            except Conflict:
                time.sleep(0.5)
            except (BackendError, TimeoutError) as exc:
                print(f"workflow: removing {name} failed: {exc}", file=sys.stderr, flush=True)
                return
        print(f"workflow: {name} is still deploying; left in place", file=sys.stderr, flush=True)

    def poll(self) -> list[str]:
        return []

    def close(self, timeout: float = 10.0) -> None:
        """Wait (a little) for the loops to end after the run's stop, then remove them."""
        from . import protocol as P
        from ._redis import connect

        r = connect(self.url)
        try:
            end = time.monotonic() + min(timeout, self.stop_wait_s)
            while time.monotonic() < end:
                roles = {v for v in r.hvals(P.ROLES_KEY)}
                if not r.hlen(P.WORKERS_KEY) and b"running" not in roles:
                    break
                time.sleep(0.05)
        finally:
            r.close()
        try:
            for name in list(self.functions.values()):
                self._remove(name)
            self.functions.clear()
        finally:
            self._engine.close(timeout)
