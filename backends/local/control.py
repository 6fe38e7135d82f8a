"""Start, stop and inspect the engine daemon (what `faastui up/down/status` call).

The daemon runs as its own session (``start_new_session``) with its output
in ``<state>/engine.log`` (moved to ``engine.log.1`` at start once it passes
``LOG_ROTATE_BYTES``). ``start`` returns once the engine answers, or raises
with the tail of that log; ``stop`` sends SIGTERM, waits (the engine drains
its async calls first), and escalates to SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..errors import BackendError, Conflict
from .client import read_engine_info

__all__ = ["engine_status", "start_engine", "stop_engine", "daemon_command"]

LOG_ROTATE_BYTES = 10 * 1024 * 1024


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive (PID 1 here may never reap it)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def engine_status(state_dir: Path) -> dict | None:
    """The engine.json of a live engine on ``state_dir``, or None."""
    info = read_engine_info(state_dir)
    if info and pid_alive(int(info.get("pid", 0))):
        return info
    return None


def daemon_command(
    state_dir: Path,
    *,
    cluster: Path | None = None,
    nodes: int | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    functions_dir: Path | None = None,
    keep_alive: float | None = None,
    redis_fsync: str | None = None,
    drain: float | None = None,
    http: dict | None = None,
    logs: dict | None = None,
) -> list[str]:
    """The daemon's command line. ``http`` and ``logs`` are settings (``HttpLimits``,
    ``LogLimits``) by name, e.g. ``http={"header_timeout_s": 5}``."""
    cmd = [
        sys.executable,
        "-m",
        "backends.local.daemon",
        "--state-dir",
        str(state_dir),
        "--host",
        host,
        "--port",
        str(port),
    ]
    if cluster is not None:
        cmd += ["--cluster", str(cluster)]
    if nodes is not None:
        cmd += ["--nodes", str(nodes)]
    if functions_dir is not None:
        cmd += ["--functions-dir", str(functions_dir)]
    if keep_alive is not None:
        cmd += ["--keep-alive", str(keep_alive)]
    if redis_fsync is not None:
        cmd += ["--redis-fsync", redis_fsync]
    if drain is not None:
        cmd += ["--drain", str(drain)]
    for flag, settings in (("--http", http), ("--logs", logs)):
        for key, value in (settings or {}).items():
            cmd += [flag, f"{key}={value}"]
    return cmd


def _log_tail(state_dir: Path, lines: int = 8) -> str:
    try:
        text = (Path(state_dir) / "engine.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def start_engine(state_dir: Path, timeout: float = 20.0, **options) -> dict:
    """Start the daemon in the background; returns its engine.json once it answers."""
    state_dir = Path(state_dir)
    running = engine_status(state_dir)
    if running:
        raise Conflict(
            f"an engine is already running at {running['url']} (pid {running['pid']})",
            hint="stop it with `faastui down`",
        )
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        (state_dir / "engine.json").unlink()
    except FileNotFoundError:
        pass
    log_path = state_dir / "engine.log"
    try:
        if log_path.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(log_path, log_path.with_name("engine.log.1"))
    except FileNotFoundError:
        pass
    log = open(log_path, "ab")
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(
        daemon_command(state_dir, **options),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BackendError(
                f"the engine failed to start (exit code {proc.returncode})", hint=_log_tail(state_dir) or None
            )
        info = read_engine_info(state_dir)
        if info and info.get("pid") == proc.pid:
            try:
                with urllib.request.urlopen(info["url"] + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        info["process"] = proc
                        return info
            except OSError:
                pass
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise BackendError(f"the engine did not answer within {timeout:g}s", hint=_log_tail(state_dir) or None)


def stop_engine(state_dir: Path, timeout: float = 30.0) -> bool:
    """Stop the engine on ``state_dir``. Returns False if none was running."""
    info = read_engine_info(state_dir)
    pid = int(info["pid"]) if info else 0
    if not pid:
        try:
            pid = int((Path(state_dir) / "engine.pid").read_text())
        except (OSError, ValueError):
            return False
    if not pid_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return True
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    while pid_alive(pid):
        _reap(pid)
        time.sleep(0.02)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
