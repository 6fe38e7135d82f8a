"""The engine daemon's own hardening: its HTTP limits as settings, the address it prints,
auth before the body on a non-loopback bind, engine.log with tracebacks, and errors
that say what they are (a programming error is never "unreachable")."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from backends.errors import BackendError, Unreachable
from backends.local import daemon
from backends.local.client import LocalBackend
from backends.local.control import start_engine, stop_engine
from backends.local.engine import Engine
from backends.local.httpserver import HttpServer, Router
from backends.local.nodes import NodeSpec
from backends.local.redislink import RedisLink

from .conftest import cli, run, running_engine

FAILSAFE_S = 30.0


def _raw(port: int, data: bytes) -> bytes:
    """Send ``data`` on a fresh loopback connection; return what comes back until close."""
    with socket.create_connection(("127.0.0.1", port), timeout=FAILSAFE_S) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_the_engine_takes_its_http_limits_as_settings(tmp_path):
    with running_engine(tmp_path / "state", nodes=1, http={"header_timeout_s": 0.3, "max_body_bytes": 1000}) as engine:
        slow = _raw(engine.port, b"GET /healthz HTTP/1.1\r\nX-Half: ")  # never finishes
        huge = _raw(engine.port, b"POST /function/x HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n")
    assert slow.startswith(b"HTTP/1.1 408 ") and b"within 0.3s" in slow
    assert huge.startswith(b"HTTP/1.1 413 ") and b"over 1000 bytes" in huge


def test_a_bad_http_setting_stops_the_daemon_with_a_clear_message(tmp_path):
    with pytest.raises(BackendError, match="exit code 2") as info:
        start_engine(tmp_path / "state", port=0, nodes=1, http={"header_timeout": 1})
    assert "unknown http setting 'header_timeout'" in str(info.value.hint)


def test_bound_elsewhere_it_prints_the_address_bound_and_refuses_bodies_unread(tmp_path):
    state = tmp_path / "state"
    info = start_engine(state, port=0, nodes=1, host="0.0.0.0")
    try:
        port = info["port"]
        assert info["listen"] == [f"http://0.0.0.0:{port}"]
        assert info["url"] == f"http://127.0.0.1:{port}"  # where local clients connect
        log = (state / "engine.log").read_text()
        assert f"listening on http://0.0.0.0:{port}" in log
        # 60 MB announced, not a byte sent: the 401 comes from the headers alone
        answer = _raw(port, b"POST /faastui/v1/deploy HTTP/1.1\r\nContent-Length: 62914560\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 401 ") and b"bearer token" in answer
    finally:
        stop_engine(state)
        info["process"].wait(10)


def test_up_prints_the_address_bound(tmp_path):
    up = cli("up", "--port", "0", "--host", "0.0.0.0", "--nodes", "1")
    try:
        assert "engine up at http://0.0.0.0:" in up.stderr
        assert "127.0.0.1" not in up.stderr.splitlines()[0]
    finally:
        cli("down")


@pytest.fixture()
def engine_log(tmp_path):
    """The daemon's logging set up on ``tmp_path`` (handlers removed afterwards)."""
    root = logging.getLogger()
    before = list(root.handlers)
    (tmp_path / "engine.log").touch()
    daemon._setup_logging(tmp_path)
    yield tmp_path / "engine.log"
    for handler in root.handlers[len(before) :]:
        root.removeHandler(handler)
        handler.close()


def test_a_bug_in_a_route_is_a_500_with_its_traceback_in_engine_log(engine_log, tmp_path):
    engine = Engine(tmp_path / "state", [NodeSpec("n")])  # not started: only its events
    router = Router()

    async def broken(req):
        return {"total": 1 / 0}["total"]

    router.add("GET", "/faastui/v1/snapshot", broken)
    server = HttpServer(router, on_error=daemon.route_error_reporter(engine))

    async def main():
        port = await server.start("127.0.0.1", 0)
        try:
            async with LocalBackend(f"http://127.0.0.1:{port}") as b:
                with pytest.raises(BackendError) as info:
                    await b.snapshot()
            return info.value
        finally:
            await server.close()

    error = run(main())
    assert not isinstance(error, Unreachable) and error.exit_code == 1
    assert "internal error: ZeroDivisionError" in error.message
    text = engine_log.read_text()
    assert "GET /faastui/v1/snapshot failed" in text
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError" in text
    assert any("ZeroDivisionError" in str(e.get("error")) for e in engine.events)


def test_the_redis_link_waits_for_redis_errors_only():
    async def main():
        link = RedisLink(client=object(), wait_s=0.05)

        async def bug():
            raise TypeError("a programming error")

        async def down():
            raise RedisConnectionError("Connection refused")

        async def refused():
            raise ResponseError("WRONGTYPE Operation against a key holding the wrong kind")

        out = {}
        for name, op in (("bug", bug), ("down", down), ("refused", refused)):
            try:
                await link.call("storing a result", op)
            except Exception as exc:  # noqa: BLE001 - what it raises is the point
                out[name] = exc
        return out, link.waiting

    out, waiting = run(main())
    assert type(out["bug"]) is TypeError  # never "unreachable"
    assert isinstance(out["down"], Unreachable) and "Redis does not answer" in out["down"].message
    assert type(out["refused"]) is BackendError and out["refused"].exit_code == 1
    assert "WRONGTYPE" in out["refused"].message
    assert waiting == 0


def test_the_redis_link_wakes_as_soon_as_redis_is_back():
    async def main():
        link = RedisLink(client=object(), wait_s=FAILSAFE_S)
        link.changed("down", {"exit": "signal 9 (SIGKILL)"})
        attempts = []

        async def op():
            attempts.append(link.status)
            if link.status != "up":
                raise RedisConnectionError("Connection refused")
            return "stored"

        task = asyncio.create_task(link.call("storing a result", op))
        async with asyncio.timeout(FAILSAFE_S):
            while not link.waiting:
                await asyncio.sleep(0.005)
        assert "1 call(s) waiting" in link.errors()[0]
        assert "signal 9 (SIGKILL)" in link.errors()[0]
        link.changed("up", {"restarts": 1})
        return await task, link.errors(), link.waiting

    assert run(main()) == ("stored", [], 0)


def test_engine_json_names_the_listen_addresses(tmp_path):
    with running_engine(tmp_path / "state", nodes=1) as engine:
        data = json.loads((engine.state_dir / "engine.json").read_text())
    assert data["listen"] == [f"http://127.0.0.1:{data['port']}"]
    assert data["cluster"] == "1 node from --nodes"
