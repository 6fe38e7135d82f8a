"""`faastui up/status/down` on a private state dir, and what one-shot commands import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from backends.local.control import engine_status, stop_engine
from faastui import locations
from tests.conftest import cli

ROOT = Path(__file__).resolve().parents[1]


def test_up_status_down():
    state = locations.state_dir() / "engine"
    try:
        r = cli("up", "--port", "0", "--nodes", "1")
        assert "engine up at http://127.0.0.1:" in r.stderr
        info = engine_status(state)
        assert info is not None
        status = json.loads(cli("status", "-o", "json").stdout)
        assert status["url"] == info["url"] and status["pid"] == info["pid"] and status["nodes"] == 1
        assert "functions" in cli("status").stdout
        again = cli("up", "--port", "0", code=1)
        assert "already running" in again.stderr and "faastui down" in again.stderr
        assert "engine stopped" in cli("down").stderr
        assert engine_status(state) is None
        assert "no engine running" in cli("down").stderr
        assert "faastui up" in cli("status", code=4).stderr
    finally:
        stop_engine(state)


def test_up_with_a_missing_cluster_file():
    assert "does not exist" in cli("up", "--cluster", "/nonexistent.yaml", code=2).stderr


def _imported_by(args: list[str]) -> set[str]:
    code = (
        "import sys, runpy; sys.argv = ['faastui'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('faastui', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)), file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "FAASTUI_URL": "http://127.0.0.1:1",
            "XDG_CONFIG_HOME": "/nonexistent",
            "PYTHONPATH": str(ROOT),
        },
    )
    return set(out.stderr.strip().splitlines()[-1].split())


def test_help_and_invoke_import_only_what_they_need():
    for args in (["--help"], ["invoke", "hello"]):
        mods = _imported_by(args)
        assert "typer" in mods
        assert not mods & {"textual", "httpx", "redis", "kubernetes", "pydantic"}, (args, mods)
    assert "rich" not in _imported_by(["--help"])
