"""The real `faastui` in a real terminal: tmux runs it, send-keys drives it, capture-pane reads it.

The dashboard is started as a user would (the installed ``faastui`` entry
point, bare, on a context that points at the session engine), so this covers
the CLI -> dashboard hand-off, a real pty and real key handling.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
SOCKET = f"faastui-test-{os.getpid()}"  # a private tmux server, no user config
pytestmark = pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed on this machine; the other dashboard tests still run"
)


def _tmux(*args: str, check: bool = True) -> str:
    out = subprocess.run([TMUX, "-L", SOCKET, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=20)
    if check and out.returncode != 0:
        raise AssertionError(f"tmux {' '.join(args)}: {out.stderr}")
    return out.stdout


def _wait_for(session: str, needles: list[str], timeout: float = 30.0, absent: tuple[str, ...] = ()) -> str:
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = _tmux("capture-pane", "-p", "-t", session, check=False)
        if all(n in screen for n in needles) and not any(a in screen for a in absent):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"never saw {needles} on screen:\n{screen}")


def test_faastui_in_tmux_shows_the_panes_and_answers_keys(engine, tmp_path):
    from faastui import config

    cfg = config.load_config()
    cfg.contexts.append(config.Context(name="tmux", backend="local", url=engine.url))
    cfg.current_context = "tmux"
    config.save_config(cfg)
    faastui = Path(sys.executable).with_name("faastui")
    session = f"faastui-test-{uuid.uuid4().hex[:8]}"
    env = {k: os.environ[k] for k in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "PATH", "HOME") if k in os.environ}
    # COLUMNS/LINES left in the test process's environment would pin the app to 80x24
    command = (
        "env -u COLUMNS -u LINES " + " ".join(f"{k}={v!s}" for k, v in env.items()) + f" TERM=xterm-256color {faastui}"
    )
    _tmux("new-session", "-d", "-s", session, "-x", "170", "-y", "48", command)
    try:
        screen = _wait_for(
            session, ["Nodes", "Placement", "Queues", "QoS", "Fusion groups", "Events", "node-1", "hello"]
        )
        assert "context tmux" in screen
        _tmux("send-keys", "-t", session, "?")
        _wait_for(session, ["faastui keys", "prewarm"])
        _tmux("send-keys", "-t", session, "?")  # ? closes help too
        _wait_for(session, ["Placement"], absent=("faastui keys",))
        _tmux("send-keys", "-t", session, ":")
        _wait_for(session, [":ctx NAME"])  # the command bar is open and focused
        _tmux("send-keys", "-t", session, "qos", "Enter")  # maximise the QoS pane
        _wait_for(session, ["P95 TREND", "SUBJECT"], absent=("Placement", "Nodes"))
        _tmux("send-keys", "-t", session, "Escape")
        _wait_for(session, ["Placement", "Nodes"])
        # Enter on a function of Placement opens it; y shows its YAML; escape comes back
        _tmux("send-keys", "-t", session, ":")
        _wait_for(session, [":ctx NAME"])
        _tmux("send-keys", "-t", session, "fn", "Enter")  # Placement alone, focused
        _wait_for(session, ["FUNCTION"], absent=("Nodes",))
        _tmux("send-keys", "-t", session, "Escape")
        _wait_for(session, ["Placement", "Nodes"])
        _tmux("send-keys", "-t", session, "Enter")
        screen = _wait_for(session, ["Kind:         Function", "Placement:", "Recent calls"])
        name = screen.split("Name:", 1)[1].split()[0]
        _tmux("send-keys", "-t", session, "y")
        _wait_for(session, [f"name: {name}", "handler:", "available_replicas:", "yaml · d describe"])
        _tmux("send-keys", "-t", session, "Escape")
        _wait_for(session, ["Placement", "Nodes"])
        _tmux("send-keys", "-t", session, "q")
        end = time.monotonic() + 15
        while time.monotonic() < end:
            if session not in _tmux("list-sessions", "-F", "#{session_name}", check=False):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("faastui did not quit on q")
    finally:
        _tmux("kill-server", check=False)
