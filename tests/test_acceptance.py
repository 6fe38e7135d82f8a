"""The engine issue's walk-through, as a user types it: `faastui up`, `faastui deploy`,
then plain HTTP calls (what curl sends) to the OpenFaaS and Invokers routes, then
`faastui down`. Real processes end to end; nothing is left running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.conftest import live

ROOT = Path(__file__).resolve().parents[1]


def faastui(*args, env, code=0):
    proc = subprocess.run(
        [sys.executable, "-m", "faastui", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, (args, proc.returncode, proc.stdout, proc.stderr)
    return proc


def post(url: str, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.read()


def test_up_deploy_curl_dispatch_down(tmp_path):
    env = dict(
        os.environ, XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"), NO_COLOR="1"
    )
    env.pop("FAASTUI_URL", None)
    env.pop("FAASTUI_CONTEXT", None)
    faastui("up", "--port", "0", "--cluster", "demo/cluster.yaml", env=env)
    info = json.loads((tmp_path / "state" / "faastui" / "engine" / "engine.json").read_text())
    base = info["url"]
    try:
        faastui("deploy", "functions/hello", env=env)
        status, body = post(f"{base}/function/hello", b'{"name":"Alex"}')
        assert status == 200 and json.loads(body) == {"message": "Hello, Alex!"}
        plan = {
            "input": '{"name":"Alex"}',
            "steps": [{"node": "edge-1", "function": "hello"}, {"node": "core-1", "function": "hello"}],
        }
        status, body = post(f"{base}/dispatch", json.dumps(plan).encode())
        data = json.loads(body)
        assert status == 200
        assert json.loads(data["results"][0]["output"]) == {"message": "Hello, Alex!"}
        assert len(data["results"]) == 2 and data["output"] == data["results"][1]["output"]
        import psutil

        kids = [p.pid for p in psutil.Process(info["pid"]).children(recursive=True)]
    finally:
        faastui("down", env=env)
    assert not live([info["pid"], *kids])
