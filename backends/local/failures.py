"""What the engine does when one of its parts dies, and how it says so.

A node's zygote that dies is started again with every function loaded (at most
five times a minute, then the node is left down); a worker that dies while idle
(killed from outside, or by the kernel's OOM killer) leaves its pool and becomes
a ``crash`` event with how it ended (a worker that dies during a call is reported
by that call); ``health_errors`` is what is degraded right now, one line each,
for the snapshot's ``errors``. Mixed into ``Engine``.
"""

from __future__ import annotations

import asyncio
import time

from ..errors import BackendError
from .deploy import load_msg
from .nodes import Container, NodeRuntime, describe_exit
from .proc import describe_returncode

__all__ = ["FailuresMixin"]


class FailuresMixin:
    """Zygote restarts, lost containers, the degraded state; mixed into ``Engine``."""

    def health_errors(self) -> list[str]:
        """What is degraded, one line each (the snapshot's ``errors``): Redis, nodes."""
        out = self.redis_link.errors()
        down = [n.name for n in self.nodes.values() if not n.ready]
        if down:
            out.append(f"nodes: {', '.join(down)} down (zygote restarting or given up)")
        return out

    def _on_zygote_lost(self, node: NodeRuntime) -> None:
        """A node's zygote died: its workers died with it; start a new one."""
        self._spawn(self._restart_node(node))

    async def _restart_node(self, node: NodeRuntime) -> None:
        code = await asyncio.get_running_loop().run_in_executor(None, node.reap_zygote)
        now = time.time()
        recent = [t for t in node.restarts if now - t < 60]
        if len(recent) >= 5:
            self.event("error", node=node.name, error=f"zygote exited ({describe_returncode(code)})"
                                                      " 5 times in a minute; node left down")
            return
        node.restarts.append(now)
        self.event("error", node=node.name,
                   error=f"zygote exited ({describe_returncode(code)}); restarting it")
        node.loading = True  # no container is placed here before its functions are back
        try:
            node.start_zygote({"FAASTUI_NODE": node.name})
            for spec in list(self.functions.values()):
                try:
                    await node.request(load_msg(spec, str(self.secret_store.root)))
                except BackendError as exc:
                    self.event("error", node=node.name, function=spec.name, error=f"reload: {exc}")
        finally:
            node.loading = False
        self._notify_freed()

    def _on_container_lost(self, c: Container) -> None:
        pool = self.idle.get(c.unit)
        if pool and c in pool:
            pool.remove(c)
        self._notify_freed()
        if c.state not in ("stopped", "starting") and c not in self.busy and not c.node.stopping:
            self._spawn(self._report_lost(c))  # not ours to close, and no call to report it

    async def _report_lost(self, c: Container) -> None:
        """An idle worker died from outside (killed, or the kernel's OOM killer): an event."""
        info = await c.wait_exit()
        if info is None and (not c.node.ready or c.node.proc is not c.zygote):
            return  # its zygote died and took it along: that has its own event
        self.event("crash", unit=c.unit, node=c.node.name, container=c.id, pid=c.pid,
                   error=f"{c.unit}: container {c.id} (pid {c.pid}) died while {c.state} "
                         f"({describe_exit(info)}); not stopped by the engine")
