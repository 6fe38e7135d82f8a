"""The engine's HTTP server against hostile clients: slow headers, slow bodies, huge
Content-Length, unauthenticated bodies, header floods, idle keep-alive, too many
connections.

The server is the engine's own ``HttpServer`` on loopback with short limits; the
clients are raw sockets, so they can misbehave. Each test waits for the server's
answer under a generous fail-safe deadline: a server without the limit never answers,
and the test fails at that deadline. No test measures how long anything took.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from backends.local.httpserver import HttpLimits, HttpServer, Response, Router, error_response, json_response

from .conftest import run

FAILSAFE_S = 20.0
SHORT = HttpLimits(
    header_timeout_s=0.3,
    body_timeout_s=0.3,
    idle_timeout_s=0.3,
    max_header_bytes=4096,
    max_body_bytes=1024 * 1024,
    max_connections=3,
    linger_s=0.3,
)


class Served:
    """An HttpServer with a small router; ``ran`` lists the requests its handlers ran."""

    def __init__(self, limits: HttpLimits = SHORT, token: str | None = None):
        self.ran: list[tuple[str, str, int]] = []
        self.release = None
        router = Router()

        async def echo(req):
            self.ran.append((req.method, req.path, len(req.body)))
            return json_response({"n": len(req.body)})

        async def slow(req):
            self.ran.append((req.method, req.path, len(req.body)))
            await self.release.wait()
            return Response(200, "slow")

        router.add("POST", "/echo", echo)
        router.add("GET", "/echo", echo)
        router.add("GET", "/slow", slow)
        auth = None
        if token is not None:

            def auth(req):
                if req.headers.get("authorization") != f"Bearer {token}":
                    return error_response(401, "missing or wrong bearer token", "auth")
                return None

        self.server = HttpServer(router, auth=auth, limits=limits)

    async def __aenter__(self):
        self.release = asyncio.Event()
        self.port = await self.server.start("127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc):
        self.release.set()
        await self.server.close()

    async def connect(self):
        return await asyncio.open_connection("127.0.0.1", self.port)


async def read_answer(reader) -> tuple[int, dict, bytes]:
    """One HTTP answer (status, headers, body), under the fail-safe deadline."""
    async with asyncio.timeout(FAILSAFE_S):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        return status, headers, body


async def closed_by_server(reader) -> bool:
    """True once the server closed the connection (EOF or reset), under the fail-safe."""
    async with asyncio.timeout(FAILSAFE_S):
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
    return True


def test_slow_headers_get_408_while_still_trickling():
    async def main():
        async with Served() as s:
            reader, writer = await s.connect()
            writer.write(b"GET /echo HTTP/1.1\r\n")
            answered = None
            async with asyncio.timeout(FAILSAFE_S):
                while answered is None:  # one more header line each time, never the end
                    writer.write(b"X-Slow: 1\r\n")
                    try:
                        answered = await asyncio.wait_for(read_answer(reader), 0.05)
                    except TimeoutError:
                        continue
            status, headers, body = answered
            assert await closed_by_server(reader)
            writer.close()
            return status, headers, json.loads(body), s.ran

    status, headers, body, ran = run(main())
    assert status == 408 and headers["connection"] == "close"
    assert "headers did not arrive within 0.3s" in body["error"]
    assert ran == []


def test_a_body_announced_but_never_sent_gets_408():
    async def main():
        async with Served() as s:
            reader, writer = await s.connect()
            writer.write(b"POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789")
            status, _, body = await read_answer(reader)
            assert await closed_by_server(reader)
            writer.close()
            return status, json.loads(body), s.ran

    status, body, ran = run(main())
    assert status == 408 and "body did not arrive within 0.3s" in body["error"]
    assert ran == []


@pytest.mark.parametrize("length", ["99999999999", "999999999999999999999999999", "1048577"])
def test_a_huge_content_length_gets_413_before_any_body(length):
    async def main():
        async with Served() as s:
            reader, writer = await s.connect()
            writer.write(f"POST /echo HTTP/1.1\r\nContent-Length: {length}\r\n\r\n".encode())
            status, headers, body = await read_answer(reader)  # no body byte was sent
            writer.close()
            return status, headers, json.loads(body), s.ran

    status, headers, body, ran = run(main())
    assert status == 413 and headers["connection"] == "close"
    assert "over 1 MB" in body["error"]
    assert ran == []


def test_auth_is_checked_before_any_body_byte_is_read():
    async def main():
        async with Served(HttpLimits(max_body_bytes=64 * 1024 * 1024, linger_s=0.3), token="secret") as s:
            reader, writer = await s.connect()
            # 60 MB announced, not a byte sent: the 401 must come from the headers alone
            writer.write(b"POST /echo HTTP/1.1\r\nContent-Length: 62914560\r\n\r\n")
            status, headers, body = await read_answer(reader)
            # what the client still sends is dropped, then the connection ends
            for _ in range(64):
                writer.write(b"x" * 65536)
            try:
                await writer.drain()
            except ConnectionError:
                pass
            assert await closed_by_server(reader)
            writer.close()
            # with the token, the same route works
            reader, writer = await s.connect()
            writer.write(b"POST /echo HTTP/1.1\r\nAuthorization: Bearer secret\r\nContent-Length: 3\r\n\r\nabc")
            ok = await read_answer(reader)
            writer.close()
            return status, json.loads(body), ok, s.ran

    status, body, ok, ran = run(main())
    assert status == 401 and "bearer token" in body["error"]
    assert ok[0] == 200 and ran == [("POST", "/echo", 3)]


def test_the_engine_client_sees_the_early_401_for_a_big_body():
    """A client that writes its whole body before reading still gets the answer (linger)."""
    from backends.local.transport import HttpTransport

    async def main():
        async with Served(HttpLimits(linger_s=5.0), token="secret") as s:
            t = HttpTransport(f"http://127.0.0.1:{s.port}")
            resp = await t.request("POST", "/echo", content=b"x" * (8 * 1024 * 1024))
            await t.aclose()
            return resp.status_code, s.ran

    assert run(main()) == (401, [])


def test_headers_over_the_limit_get_431():
    async def main():
        async with Served() as s:
            reader, writer = await s.connect()
            writer.write(b"GET /echo HTTP/1.1\r\n" + b"X-Big: " + b"a" * 5000 + b"\r\n\r\n")
            status, _, body = await read_answer(reader)
            writer.close()
            return status, json.loads(body), s.ran

    status, body, ran = run(main())
    assert status == 431 and "over 4096 bytes" in body["error"] and ran == []


def test_an_idle_keep_alive_connection_is_closed():
    async def main():
        async with Served() as s:
            reader, writer = await s.connect()
            writer.write(b"GET /echo HTTP/1.1\r\n\r\n")
            status, headers, _ = await read_answer(reader)
            assert "connection" not in headers  # kept alive
            closed = await closed_by_server(reader)
            writer.close()
            return status, closed

    assert run(main()) == (200, True)


def test_a_slow_handler_is_not_cut_by_the_idle_timeout():
    async def main():
        async with Served() as s:
            reader, writer = await s.connect()
            writer.write(b"GET /slow HTTP/1.1\r\n\r\n")
            async with asyncio.timeout(FAILSAFE_S):
                while not s.ran:
                    await asyncio.sleep(0.01)
                # let the sweeper look past the idle timeout a few times while it runs
                first = s.server.sweeps
                while (s.server.sweeps - first) * SHORT.sweep_s < 3 * SHORT.idle_timeout_s:
                    await asyncio.sleep(0.01)
            s.release.set()
            status, _, body = await read_answer(reader)
            writer.close()
            return status, body

    assert run(main()) == (200, b"slow")


def test_connections_beyond_the_bound_get_503():
    async def main():
        async with Served() as s:
            held = [await s.connect() for _ in range(3)]
            for reader, writer in held:  # each served once, so each is surely accepted
                writer.write(b"GET /echo HTTP/1.1\r\n\r\n")
                assert (await read_answer(reader))[0] == 200
            reader, writer = await s.connect()
            writer.write(b"GET /echo HTTP/1.1\r\n\r\n")
            status, _, body = await read_answer(reader)
            writer.close()
            for _, w in held:
                w.close()
            return status, json.loads(body)

    status, body = run(main())
    assert status == 503 and "too many connections (at most 3)" in body["error"]


def test_a_refusal_is_answered_after_the_answers_owed_before_it():
    async def main():
        async with Served(token="secret") as s:
            reader, writer = await s.connect()
            writer.write(
                b"GET /slow HTTP/1.1\r\nAuthorization: Bearer secret\r\n\r\n"
                b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
            )
            async with asyncio.timeout(FAILSAFE_S):
                while not s.ran:
                    await asyncio.sleep(0.01)
            s.release.set()
            first = await read_answer(reader)
            second = await read_answer(reader)
            writer.close()
            return first[0], second[0], s.ran

    assert run(main()) == (200, 401, [("GET", "/slow", 0)])


def test_expect_100_continue_is_answered_so_the_client_sends_its_body():
    async def main():
        async with Served() as s:
            reader, writer = await s.connect()
            writer.write(b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
            async with asyncio.timeout(FAILSAFE_S):
                interim = await reader.readuntil(b"\r\n\r\n")
            writer.write(b"abc")
            status, _, body = await read_answer(reader)
            writer.close()
            return interim, status, json.loads(body)

    assert run(main()) == (b"HTTP/1.1 100 Continue\r\n\r\n", 200, {"n": 3})


def test_limits_come_from_settings_and_bad_ones_are_refused():
    limits = HttpLimits.from_settings({"header_timeout_s": "2.5", "max_connections": 10})
    assert limits.header_timeout_s == 2.5 and limits.max_connections == 10
    assert limits.body_timeout_s == HttpLimits().body_timeout_s
    with pytest.raises(ValueError, match="unknown http setting 'header_timeout'"):
        HttpLimits.from_settings({"header_timeout": 1})
    with pytest.raises(ValueError, match="must be above 0"):
        HttpLimits.from_settings({"idle_timeout_s": 0})
    with pytest.raises(ValueError, match="must be a number"):
        HttpLimits.from_settings({"max_body_bytes": "lots"})
