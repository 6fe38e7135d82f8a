"""`faastui workflow run` while its Redis stays away longer than the clients ride out.

A real redis-server with an append-only file (as the engine runs it) is SIGKILLed
mid-run and kept down past the clients' ride-out (shortened here with
FAASTUI_REDIS_RIDE_OUT_S, so the test takes seconds, not the default 30 s): the run
says so in one line and waits; the loops end quietly; once Redis is back (same
socket, same data) the controller launches them again and every task is collected
exactly once. When Redis does not come back within --redis-wait, the run ends
with one line and exit 4. Never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from backends.local.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]
FAILSAFE_S = 90.0


def start_run(url: str, log: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, FAASTUI_REDIS_RIDE_OUT_S="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "faastui",
            "workflow",
            "run",
            "--processes",
            "--redis-url",
            url,
            "--tasks",
            "300",
            "--workers",
            "2",
            "--rate",
            "100",
            "--duration-ms",
            "2",
            "--no-progress",
            "-o",
            "json",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=open(log, "wb"),
        env=env,
        cwd=ROOT,
    )


def wait_for(what: str, check, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + FAILSAFE_S
    while not check():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{what}: exit {proc.poll()}\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def completed(r) -> int:
    try:
        return int(r.hget("workflow:stats", "completed") or 0)
    except redis.ConnectionError:
        return 0


def test_a_run_waits_for_redis_past_the_ride_out_and_resumes(tmp_path):
    srv = RedisServer(tmp_path / "redis", persist=True).start()
    log = tmp_path / "run.log"
    proc = None
    try:
        r = redis.Redis.from_url(srv.url)
        proc = start_run(srv.url, log)
        wait_for("a third collected", lambda: completed(r) >= 100, proc, log)
        os.kill(srv.pid, signal.SIGKILL)
        wait_for("the run to say it waits", lambda: b"waiting up to 300 s" in log.read_bytes(), proc, log)
        srv.start()  # the same socket and append-only file
        out, _ = proc.communicate(timeout=FAILSAFE_S)
        text = log.read_text()
        assert proc.returncode == 0, text[-3000:]
        summary = json.loads(out)
        ids = [json.loads(x)["task_id"] for x in r.lrange("output_queue", 0, -1)]
        r.close()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        srv.stop()
    assert "Traceback" not in text and "Traceback" not in out.decode()
    assert summary["state"] == "done" and summary["lost"] == 0 and summary["duplicates"] == 0
    assert len(ids) == len(set(ids)) == 300 == summary["enqueued_total"], (
        "every task collected exactly once, none emitted twice"
    )
    assert text.count("waiting up to") == 1 and "the run resumes" in text


def test_a_run_whose_redis_never_comes_back_ends_with_one_line_and_exit_4(tmp_path):
    srv = RedisServer(tmp_path / "redis", persist=True).start()
    log = tmp_path / "run.log"
    r = redis.Redis.from_url(srv.url)
    proc = start_run(srv.url, log, "--redis-wait", "1")
    try:
        wait_for("tasks collected", lambda: completed(r) >= 30, proc, log)
        os.kill(srv.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=FAILSAFE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        srv.stop()
    text = log.read_text()
    assert proc.returncode == 4, text[-3000:]
    assert "Traceback" not in text and not out
    assert "error: the workflow's Redis did not come back within 1 s" in text
