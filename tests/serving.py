"""Running ``faastui serve NAME`` for tests: a real process of the real CLI, on a free loopback
port, with its own config dir (contexts written as files, never the user's), stopped with
SIGINT at the end, and checked to have stopped cleanly and never printed a traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_READY = re.compile(r"^serving the (\S+) API on (\w+)://([^ ]+):(\d+) over context (\S+)$")


def serve_env(tmp: Path, contexts: list[dict] | None = None, current: str = "local", **extra: str) -> dict:
    """An environment whose config dir (under ``tmp``) holds ``contexts`` (Context fields)."""
    config = tmp / "config"
    (config / "faastui").mkdir(parents=True, exist_ok=True)
    (config / "faastui" / "config.yaml").write_text(
        yaml.safe_dump({"current-context": current, "contexts": contexts or []})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAASTUI_")}
    env.update(XDG_CONFIG_HOME=str(config), XDG_STATE_HOME=str(tmp / "state"), PYTHONUNBUFFERED="1", **extra)
    return env


def serve_command(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "faastui", "serve", name, *args]


def run_serve(name: str, *args: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a ``faastui serve`` that is expected to exit by itself (a refusal, an error)."""
    proc = subprocess.run(
        serve_command(name, *args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@dataclass
class Served:
    api: str
    scheme: str
    host: str
    port: int
    context: str
    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stderr(self) -> str:
        return "\n".join(self.lines)


@contextlib.contextmanager
def serving(name: str, *args: str, env: dict, ready_timeout: float = 60, stop_signal: int = signal.SIGINT):
    """``faastui serve name --port 0 *args`` until the block ends; yields a Served."""
    proc = subprocess.Popen(
        serve_command(name, "--port", "0", *args),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if _READY.match(lines[-1]):
                ready.set()
        ready.set()  # the process ended

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + ready_timeout
        while not ready.wait(0.05):
            if time.monotonic() > deadline:
                raise AssertionError(f"faastui serve {name} not ready: {lines}")
        match = next((m for m in map(_READY.match, lines) if m), None)
        if match is None:
            raise AssertionError(f"faastui serve {name} exited ({proc.wait(10)}): {lines}")
        served = Served(match[1], match[2], match[3], int(match[4]), match[5], proc, lines)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(stop_signal)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            raise AssertionError(f"faastui serve {name} did not stop: {lines}") from None
        reader.join(10)
    assert "Traceback" not in "\n".join(lines), "\n".join(lines)
    assert code == 0 and lines[-1] == f"stopped the {name} API", (code, lines)
