"""The engine client's HTTP transport: no request runs twice, and Ctrl-C is never lost.

The servers here are small raw asyncio servers written in the test (not the engine's
HTTP server), so they can do what a real server does at its worst: read a request and
close the connection without answering.
"""

from __future__ import annotations

import asyncio

import pytest

from backends.errors import Unreachable
from backends.local.client import LocalBackend
from backends.local.transport import HttpTransport, ProtocolError

from .conftest import run


class ScriptedServer:
    """Answers requests on loopback from a script: 'answer' or 'drop' (read it, then close).

    ``seen`` counts every request whose body the server read in full: each is one
    execution as far as the client can know.
    """

    def __init__(self, script: list[str]):
        self.script = list(script)
        self.seen: list[tuple[str, str, bytes]] = []
        self.connections = 0
        self.server: asyncio.base_events.Server | None = None

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.seen.append((method, path, body))
                what = self.script.pop(0) if self.script else "answer"
                if what == "drop":
                    return  # read it in full, close without a byte of answer
                out = b'{"ok": true}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(out), out)
                )
                await writer.drain()
        finally:
            writer.close()


def test_a_post_the_server_read_and_dropped_is_not_sent_again():
    async def main():
        async with ScriptedServer(["answer", "drop"]) as server:
            t = HttpTransport(server.url)
            assert (await t.request("GET", "/warm")).status_code == 200  # a keep-alive conn
            with pytest.raises(ProtocolError) as info:
                await t.request("POST", "/function/count", content=b'{"n": 1}')
            await t.aclose()
            return server, str(info.value)

    server, message = run(main())
    posts = [s for s in server.seen if s[0] == "POST"]
    assert len(posts) == 1, server.seen
    assert "not re-sent" in message and "may have run" in message


def test_a_post_on_a_fresh_connection_dropped_is_not_sent_again_and_maps_to_one_error():
    async def main():
        async with ScriptedServer(["drop"]) as server:
            async with LocalBackend(server.url) as b:
                with pytest.raises(Unreachable) as info:
                    await b.invoke("count", {"n": 1})
            return server, info.value

    server, error = run(main())
    assert [s[0] for s in server.seen] == ["POST"]
    assert "may have run" in error.message


def test_a_get_on_a_stale_connection_is_retried_once_on_a_new_one():
    async def main():
        async with ScriptedServer(["answer", "drop", "answer"]) as server:
            t = HttpTransport(server.url)
            await t.request("GET", "/a")
            resp = await t.request("GET", "/b")  # dropped on the reused conn, re-sent on a new one
            await t.aclose()
            return server, resp

    server, resp = run(main())
    assert resp.status_code == 200
    assert [s[1] for s in server.seen] == ["/a", "/b", "/b"]
    assert server.connections == 2


def test_a_post_does_not_reuse_a_connection_idle_past_the_limit():
    async def main():
        async with ScriptedServer([]) as server:
            t = HttpTransport(server.url, reuse_idle_s=0.0)
            await t.request("GET", "/a")
            await t.request("GET", "/b")  # GETs reuse it
            connections = server.connections
            await t.request("POST", "/c", content=b"x")  # a POST takes a fresh one
            await t.aclose()
            return connections, server.connections

    assert run(main()) == (1, 2)


def test_a_cancelled_request_always_raises_cancelled():
    """Ctrl-C cancels the main task; the cancellation must reach it at every step.

    (asyncio.wait_for on Python 3.11 returns the result instead when the inner call
    has just finished: `optimize-fusion --every` then ran on after Ctrl-C.)
    """

    async def main():
        async with ScriptedServer([]) as server:
            t = HttpTransport(server.url)
            swallowed = []
            for steps in range(40):
                task = asyncio.create_task(t.request("GET", "/x"))
                for _ in range(steps):
                    await asyncio.sleep(0)
                if not task.cancel():
                    await task  # it had finished already: nothing to check
                    continue
                try:
                    await task
                except asyncio.CancelledError:
                    continue
                swallowed.append(steps)
            await t.aclose()
            return swallowed

    assert run(main()) == []


def test_a_cancel_as_the_answer_lands_is_not_swallowed():
    """The same, made deterministic: an exchange that finishes without waiting."""

    async def main():
        t = HttpTransport("http://127.0.0.1:9")

        async def instant(*_args):
            return "answer"

        t._exchange = instant
        swallowed = []
        for steps in range(6):
            task = asyncio.create_task(t.request("GET", "/x"))
            for _ in range(steps):
                await asyncio.sleep(0)
            if task.cancel():
                try:
                    await task
                    swallowed.append(steps)
                except asyncio.CancelledError:
                    pass
        return swallowed

    assert run(main()) == []


def test_a_function_calling_another_through_the_gateway_never_sends_a_post_twice():
    """runtime.Runner's own HTTP path (a handler's call to a function it is not fused with)."""
    import http.client
    import threading

    from backends.local.runtime import Runner

    loop = asyncio.new_event_loop()
    server = ScriptedServer(["answer", "drop"])
    started = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.__aenter__())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        runner = Runner({}, gateway=server.url)
        assert runner.call_other("count", {"n": 1}) == (200, b'{"ok": true}')
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            runner.call_other("count", {"n": 2})  # read by the server, then dropped
    finally:

        async def shut():
            await server.__aexit__()
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    assert [body for method, _, body in server.seen if method == "POST"] == [b'{"n": 1}', b'{"n": 2}']
