"""The agent style: handler source checked once, then run by the Knative harness (a real
process serving real HTTP on loopback) and by the Nuclio adapter, in every signature."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from backends.agent import HARNESS, HandlerSource, harness_env, nuclio_source, prepare
from backends.errors import InvalidRequest

SOURCES = {
    "classic": "def handle(req):\n    return {'got': req, 'kind': 'classic'}\n",
    "http": (
        "def handle(event, context):\n"
        "    return {'statusCode': 201, 'body': {'len': len(event.body), 'path': event.path}}\n"
    ),
    "iluvatar": "def main(args):\n    return {'hello': args.get('name', 'world')}\n",
    "nuclio": ("def handler(context, event):\n    return 'nuclio:' + event.body.decode()\n"),
}


@pytest.mark.parametrize(
    "source, requirements, message",
    [
        ("", None, "empty"),
        ("def handle(req:\n  pass", None, "does not compile: line 1"),
        ("x = 1\n", None, "defines none of handle(), main(), handler()"),
        ("def handle(r): return r\n", ["requests\nrm -rf /"], "bad requirement"),
        ("def handle(r): return r\n", ["--index-url=http://evil"], "bad requirement"),
        ("def handle(r): return r\n" + "#" * 600_000, None, "over 512 KiB"),
        ("def faastui_entry(c, e): pass\ndef handle(r): return r\n", None, "faastui_entry"),
    ],
)
def test_bad_source_is_refused_with_a_clear_message(source, requirements, message):
    with pytest.raises(InvalidRequest) as err:
        prepare(source, "fn", requirements)
    assert message in str(err.value)


def test_names_and_requirements():
    with pytest.raises(InvalidRequest):
        prepare("def handle(r): return r\n", "Bad_Name")
    h = prepare("async def x(): pass\ndef main(a): return a\n", "ok-1", [" requests>=2 ", ""])
    assert h == HandlerSource("ok-1", h.source, "main", ("requests>=2",))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, path: str, body: bytes) -> tuple[int, str, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


@pytest.fixture
def harness():
    procs = []

    def start(source: str, name: str = "fn"):
        port = _free_port()
        env = dict(os.environ, PORT=str(port), **harness_env(prepare(source, name)))
        proc = subprocess.Popen(
            [sys.executable, "-c", HARNESS], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        procs.append(proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.read() == b"ok":
                        return port
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stderr.read().decode()) from None
                time.sleep(0.05)
        raise AssertionError("the harness never answered")

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()


def test_the_harness_serves_each_signature_over_real_http(harness):
    port = harness(SOURCES["classic"])
    assert _post(port, "/", b"hi") == (200, "application/json", json.dumps({"got": "hi", "kind": "classic"}))
    port = harness(SOURCES["http"])
    status, _, body = _post(port, "/some/path?q=1", b"12345")
    assert status == 201 and json.loads(body) == {"len": 5, "path": "/some/path"}
    port = harness(SOURCES["iluvatar"])
    assert json.loads(_post(port, "/", b'{"name": "ada"}')[2]) == {"hello": "ada"}
    assert json.loads(_post(port, "/", b"")[2]) == {"hello": "world"}
    port = harness(SOURCES["nuclio"])
    assert _post(port, "/", b"x") == (200, "text/plain; charset=utf-8", "nuclio:x")


def test_a_failing_handler_answers_500_and_the_harness_goes_on(harness):
    port = harness("def handle(req):\n    if req == 'boom':\n        raise ValueError('no')\n    return req\n")
    status, ctype, body = _post(port, "/", b"boom")
    assert status == 500 and json.loads(body) == {"error": "ValueError: no"}
    assert _post(port, "/", b"fine")[::2] == (200, "fine")


def test_the_harness_refuses_a_handler_that_cannot_load():
    env = dict(
        os.environ,
        PORT=str(_free_port()),
        **harness_env(prepare("import no_such_module_here\ndef handle(r): return r\n", "f")),
    )
    proc = subprocess.run([sys.executable, "-c", HARNESS], env=env, capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2 and "failed to load" in proc.stderr


class _Event:
    def __init__(self, body):
        self.body = body


class _Context:
    class Response:  # nuclio-sdk-py's Response(headers, body, content_type, status_code)
        def __init__(self, headers=None, body=None, content_type=None, status_code=200):
            self.headers, self.body = headers, body
            self.content_type, self.status_code = content_type, status_code


@pytest.mark.parametrize(
    "kind, body, expect",
    [
        ("classic", b"hi", {"got": "hi", "kind": "classic"}),
        ("iluvatar", {"name": "bo"}, {"hello": "bo"}),  # Nuclio hands JSON bodies over parsed
        ("nuclio", b"z", "nuclio:z"),
    ],
)
def test_the_nuclio_adapter_calls_each_signature(kind, body, expect):
    namespace: dict = {}
    exec(compile(nuclio_source(prepare(SOURCES[kind], "f")), "main.py", "exec"), namespace)
    out = namespace["faastui_entry"](_Context(), _Event(body))
    assert (json.loads(out) if isinstance(expect, dict) else out) == expect


def test_the_nuclio_adapter_keeps_a_status_code():
    namespace: dict = {}
    exec(compile(nuclio_source(prepare(SOURCES["http"], "f")), "main.py", "exec"), namespace)
    event = _Event(b"abc")
    event.path = "/p"
    out = namespace["faastui_entry"](_Context(), event)
    assert isinstance(out, _Context.Response) and out.status_code == 201
    assert out.content_type == "application/json" and json.loads(out.body) == {"len": 3, "path": "/p"}
