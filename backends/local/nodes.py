"""Nodes and containers as the engine's gateway sees them.

A ``NodeRuntime`` is one named node: a capacity (cpus, memory, max
containers) and a zygote process that forks its workers. A ``Container`` is
one worker process hosting a function, or a whole fusion group, reached over
its own Unix socket pair with the frames of ``wire``; its stdout and stderr
are a pipe the engine reads into the unit's log (``logs.FunctionLog``).

The zygote reaps every worker and reports how it ended (``exit_info``:
``{"code": N}`` or ``{"signal": S}``); ``describe_exit`` words it the way
reports say it: ``exit code N`` or ``signal S (SIGNAME)``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from ..errors import BackendError
from . import wire
from .logs import FunctionLog, LogPipe
from .proc import set_pdeathsig

__all__ = ["NodeSpec", "NodeRuntime", "Container", "WorkerGone", "describe_exit"]


def describe_exit(info: dict | None) -> str:
    """``exit code N`` or ``signal S (SIGNAME)`` from a zygote's exit report."""
    if not info:
        return "exit status unknown"
    if "signal" in info:
        try:
            name = signal.Signals(int(info["signal"])).name
        except ValueError:
            name = "?"
        return f"signal {info['signal']} ({name})"
    return f"exit code {info.get('code', '?')}"

_HEAD = wire.HEAD
_loads = json.loads


_FN_HEADERS: dict[str, bytes] = {}  # the encoded {"fn": name} header, per function
try:
    _TICKS = os.sysconf("SC_CLK_TCK")
except (ValueError, OSError, AttributeError):
    _TICKS = 100


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process, or None if it is gone (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


class WorkerGone(Exception):
    """The worker closed its socket (crashed, killed, out of memory)."""


@dataclass
class NodeSpec:
    name: str
    cpus: float = 2.0
    memory_mb: float = 2048.0
    max_containers: int = 16
    labels: dict[str, str] = field(default_factory=dict)


class _WorkerProtocol(asyncio.Protocol):
    """Frames in, futures out: one call at a time per worker."""

    def __init__(self, container: "Container"):
        self.container = container
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.early: deque = deque()
        self.transport = None
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes):
        buf = self.buf
        buf += data
        while len(buf) >= 8:
            hlen, blen = _HEAD.unpack_from(buf)
            end = 8 + hlen + blen
            if len(buf) < end:
                return
            header = _loads(bytes(buf[8:8 + hlen]))
            body = bytes(buf[8 + hlen:end])
            del buf[:end]
            waiter = self.waiter
            self.waiter = None
            if waiter is not None and not waiter.done():
                waiter.set_result((header, body))
            else:  # arrived before anyone waited (the ready frame can)
                self.early.append((header, body))

    def connection_lost(self, exc):
        self.closed = True
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(WorkerGone("worker closed its socket"))
        self.container.on_lost()


class Container:
    """One worker process. ``state`` is prewarm (never used), warm or busy."""

    _ids = itertools.count(1)

    def __init__(self, node: "NodeRuntime", unit: str, fns: tuple[str, ...], memory_mb: float,
                 cpus: float, group: str | None = None):
        self.id = f"{node.name}-{next(self._ids)}"
        self.node = node
        self.unit = unit  # the function name, or the fusion group name
        self.fns = fns
        self.group = group
        self.memory_mb = memory_mb
        self.cpus = cpus
        self.pid = 0
        self.state = "starting"
        self.used = False
        self.created = time.time()
        self.last_used = self.created
        self.calls = 0
        self.cold_start_ms = 0.0
        self.stale = False  # set on redeploy: retire after the current call
        self.deadline = 0.0  # loop time by which the current call must end (0: idle)
        self.timed_out = False
        self.proto: _WorkerProtocol | None = None
        self.exit_info: dict | None = None
        self._exited: asyncio.Future | None = None
        self.zygote = node.proc  # the zygote that forked it (a restarted node has another)

    @property
    def alive(self) -> bool:
        return self.proto is not None and not self.proto.closed

    async def start(self, gateway: str, token: str, env: dict,
                    log: FunctionLog | None = None, secrets: dict | None = None,
                    secrets_dir: str = "") -> float:
        """Fork the worker from the node's zygote; returns cold start ms.

        The socket is wired up while the zygote forks, and the worker's own
        ready frame (which carries its pid) ends the cold start; the zygote's
        reply is only read when something went wrong. The worker's stdout and
        stderr go to ``log`` through a pipe (to /dev/null without one).
        """
        t0 = time.perf_counter()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_r, log_w = os.pipe2(os.O_CLOEXEC) if log is not None else (None, None)
        try:
            msg = {"op": "fork", "fns": list(self.fns), "memory_mb": self.memory_mb,
                   "gateway": gateway, "token": token, "env": env, "wid": self.id}
            if secrets and any(secrets.values()):  # names only: values stay in their files
                msg.update(secrets=secrets, secrets_dir=secrets_dir)
            reply = self.node.send_request(
                msg,
                fds=[theirs.fileno()] + ([log_w] if log_w is not None else []))
        except BaseException:
            ours.close()
            if log_r is not None:
                os.close(log_r)
            raise
        finally:
            theirs.close()
            if log_w is not None:
                os.close(log_w)
        loop = asyncio.get_running_loop()
        if log_r is not None:
            await loop.connect_read_pipe(lambda: LogPipe(log), os.fdopen(log_r, "rb", buffering=0))
        ours.setblocking(False)
        _, self.proto = await loop.create_unix_connection(lambda: _WorkerProtocol(self), sock=ours)
        try:
            header, _ = await self._await_frame(timeout=30)
        except (WorkerGone, asyncio.TimeoutError):
            self.close()
            msg = await asyncio.wait_for(reply, 5)
            raise BackendError(f"node {self.node.name}: worker did not start: "
                               f"{msg.get('err') or 'no ready signal'}") from None
        if not header.get("ready"):
            raise BackendError(f"worker {self.id} did not start: {header}")
        self.pid = int(header["pid"])
        self.node.by_pid[self.pid] = self
        early_exit = self.node.unclaimed_exits.pop(self.pid, None)
        if early_exit is not None:  # it died before its ready frame was read
            self.set_exit(early_exit)
        self.cold_start_ms = (time.perf_counter() - t0) * 1000.0
        self.state = "prewarm"
        return self.cold_start_ms

    async def _await_frame(self, timeout: float | None):
        proto = self.proto
        if proto is None or proto.closed:
            raise WorkerGone("worker is gone")
        if proto.early:
            return proto.early.popleft()
        fut = asyncio.get_running_loop().create_future()
        proto.waiter = fut
        if timeout is None:
            return await fut
        return await asyncio.wait_for(fut, timeout)

    async def call(self, fn: str, body: bytes, headers: dict | None, deadline: float):
        """Send one call; returns (reply header, body). Raises WorkerGone.

        ``deadline`` (loop time) is enforced by the engine's watchdog, which
        kills the worker; that surfaces here as WorkerGone with ``timed_out``.
        """
        proto = self.proto
        if proto is None or proto.closed:
            raise WorkerGone("worker is gone")
        fut = asyncio.get_running_loop().create_future()
        proto.waiter = fut
        self.deadline = deadline
        if headers:
            frame = wire.pack({"fn": fn, "h": headers}, body)
        else:
            head = _FN_HEADERS.get(fn)
            if head is None:
                head = _FN_HEADERS[fn] = wire.pack({"fn": fn})[8:]
            frame = _HEAD.pack(len(head), len(body)) + head + body
        proto.transport.write(frame)
        try:
            return await fut
        finally:
            self.deadline = 0.0

    def set_exit(self, info: dict) -> None:
        self.exit_info = info
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(info)

    async def wait_exit(self, timeout: float = 2.0) -> dict | None:
        """How the worker ended, once the zygote has reaped it (None if not within ``timeout``)."""
        if self.exit_info is None and self.pid:
            if self._exited is None:
                self._exited = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(self._exited)
            except TimeoutError:
                pass
        return self.exit_info

    def kill(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.close()

    def close(self) -> None:
        """Close the socket; the worker exits on EOF."""
        self.state = "stopped"
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()

    def on_lost(self) -> None:
        self.node.on_container_lost(self)


class NodeRuntime:
    """One node: its capacity, its zygote and the containers it runs."""

    def __init__(self, spec: NodeSpec, on_lost=None, on_zygote_lost=None):
        self.spec = spec
        self.name = spec.name
        self.containers: dict[str, Container] = {}
        self.by_pid: dict[int, Container] = {}
        self.unclaimed_exits: dict[int, dict] = {}  # exits reported before the ready frame
        self.proc: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self._rids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._on_lost = on_lost
        self._on_zygote_lost = on_zygote_lost
        self.ready = False
        self.loading = False  # a restarted zygote is loading the functions again
        self.stopping = False
        self.restarts: deque[float] = deque(maxlen=10)
        self._cpu_seen: dict[int, tuple[float, float]] = {}  # pid -> (cpu seconds, when)

    # ---- zygote ----------------------------------------------------------------
    def start_zygote(self, env: dict | None = None) -> None:
        """Spawn the zygote (from the main thread: it dies with the engine)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cmd = [sys.executable, "-m", "backends.local.zygote", str(theirs.fileno())]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, pass_fds=[theirs.fileno()], env=full_env,
                                     stdin=subprocess.DEVNULL, close_fds=True,
                                     preexec_fn=set_pdeathsig)
        theirs.close()
        ours.setblocking(False)
        self.control = ours
        asyncio.get_running_loop().add_reader(ours.fileno(), self._on_control)
        self.ready = True

    def _on_control(self) -> None:
        while True:
            try:
                data = self.control.recv(1 << 20)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._zygote_lost()
                return
            msg = _loads(data)
            if "ev" in msg:
                self._on_event(msg)
                continue
            fut = self._pending.pop(msg.get("rid"), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)

    def _on_event(self, msg: dict) -> None:
        if msg.get("ev") == "exit":
            container = self.by_pid.pop(msg["pid"], None)
            if container is not None:
                container.set_exit(msg)
            else:
                if len(self.unclaimed_exits) >= 256:
                    self.unclaimed_exits.pop(next(iter(self.unclaimed_exits)))
                self.unclaimed_exits[msg["pid"]] = msg

    def _zygote_lost(self) -> None:
        self.ready = False
        loop = asyncio.get_running_loop()
        try:
            loop.remove_reader(self.control.fileno())
        except (ValueError, OSError):
            pass
        self.control.close()
        self.control = None
        self.by_pid.clear()  # its workers died with it; no exit report will come for them
        for fut in list(self._pending.values()):
            if not fut.done():
                fut.set_exception(BackendError(f"node {self.name}: zygote exited"))
        self._pending.clear()
        if not self.stopping and self._on_zygote_lost is not None:
            self._on_zygote_lost(self)

    def reap_zygote(self) -> int | None:
        """Collect the exit status of a dead zygote (never blocks for long)."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def send_request(self, msg: dict, fds: list[int] | None = None) -> asyncio.Future:
        """Send a control message; returns the future of its reply."""
        if not self.ready or self.control is None:
            raise BackendError(f"node {self.name} is not running")
        rid = next(self._rids)
        msg["rid"] = rid
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        fut.add_done_callback(lambda _f: self._pending.pop(rid, None))
        data = json.dumps(msg).encode()
        if fds:
            socket.send_fds(self.control, [data], fds)
        else:
            self.control.send(data)
        return fut

    async def request(self, msg: dict, fds: list[int] | None = None, timeout: float = 60.0):
        fut = self.send_request(msg, fds)
        try:
            reply = await asyncio.wait_for(fut, timeout)
        finally:
            fut.cancel()
        if not reply.get("ok"):
            raise BackendError(f"node {self.name}: {reply.get('err')}")
        return reply.get("pid", reply)

    def stop_zygote(self, timeout: float = 5.0) -> None:
        self.stopping = True
        for c in list(self.containers.values()):
            c.kill()
        if self.control is not None:
            try:
                asyncio.get_running_loop().remove_reader(self.control.fileno())
            except (RuntimeError, ValueError, OSError):
                pass
            self.control.close()
        self.ready = False
        if self.proc is not None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # ---- capacity ----------------------------------------------------------------
    @property
    def used_memory_mb(self) -> float:
        return sum(c.memory_mb for c in self.containers.values())

    def cpu_usage(self) -> float:
        """CPUs the node's workers used since the last reading (from /proc; 0 elsewhere).

        Each reading keeps the workers' CPU time, so a dashboard polling at
        1-4 Hz sees the recent rate. A worker seen for the first time counts
        from its start.
        """
        now = time.monotonic()
        total = 0.0
        seen: dict[int, tuple[float, float]] = {}
        for c in self.containers.values():
            if not c.pid:
                continue
            used = _cpu_seconds(c.pid)
            if used is None:
                continue
            before = self._cpu_seen.get(c.pid)
            if before is None:
                before = (0.0, now - max(time.time() - c.created, 1e-3))
            seen[c.pid] = (used, now)
            elapsed = now - before[1]
            if elapsed > 0:
                total += max(0.0, used - before[0]) / elapsed
        self._cpu_seen = seen
        return round(total, 3)

    def has_room(self, memory_mb: float) -> bool:
        return (not self.loading and len(self.containers) < self.spec.max_containers
                and self.used_memory_mb + memory_mb <= self.spec.memory_mb)

    def on_container_lost(self, container: Container) -> None:
        self.containers.pop(container.id, None)
        if self._on_lost is not None:
            self._on_lost(container)
