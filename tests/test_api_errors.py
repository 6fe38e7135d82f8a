"""Every bad request to the engine's API is a clear 4xx that names what is wrong: the
parameter or field, what it must be, what it was (issue 16's list, and their kin), against
the real engine. Each case: the status code and the message."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from tests.conftest import cli


@pytest.fixture()
def http(engine):
    with httpx.Client(base_url=engine.url, timeout=30) as client:
        yield client


def _error(r: httpx.Response, status: int, *needles: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    message = r.json()["error"]
    for needle in needles:
        assert needle in message, message
    assert "invalid literal" not in message and "could not convert" not in message, message
    return message


@pytest.mark.parametrize(
    "path,name,kind",
    [
        ("/faastui/v1/logs/hello?tail=abc", "tail", "an integer"),
        ("/faastui/v1/logs/hello?tail=-1", "tail", "at least 0"),
        ("/faastui/v1/events?limit=abc", "limit", "an integer"),
        ("/faastui/v1/events?limit=0", "limit", "at least 1"),
        ("/faastui/v1/events?since=yesterday", "since", "a number"),
        ("/faastui/v1/qos?window=abc", "window", "a number"),
        ("/faastui/v1/qos?window=nan", "window", "a number"),
        ("/faastui/v1/invocations?limit=ten", "limit", "an integer"),
        ("/faastui/v1/results/nope?wait=soon", "wait", "a number"),
        ("/faastui/v1/results/nope?wait=-1", "wait", "at least 0"),
    ],
)
def test_a_bad_query_parameter_is_400_naming_it(http, path, name, kind):
    message = _error(http.get(path), 400, f"'{name}'", kind)
    assert message.startswith(f"query parameter '{name}' must be"), message


def test_events_limit_is_honoured_not_ignored(http):
    every = http.get("/faastui/v1/events").json()
    assert len(every) >= 3
    assert http.get("/faastui/v1/events?limit=2").json() == every[-2:]  # the newest two


@pytest.mark.parametrize(
    "body,needles",
    [
        ({"handler": 123}, ["'handler' must be a string", "got an integer: 123"]),
        (
            {"handler": "def handle(r):\n    return r\n", "requirements": 5},
            ["'requirements' must be an array or a string"],
        ),
        (
            {"handler": "def handle(r):\n    return r\n", "requirements": ["ok", 7]},
            ["'requirements' must be an array of strings"],
        ),
        ({"handler": "def handle(r):\n    return r\n", "memory": "lots"}, ["'memory' must be a number"]),
        ({"handler": "def handle(r):\n    return r\n", "id": ["x"]}, ["'id' must be a string"]),
        ({"path": 5}, ["'path' must be a string"]),
        ({"neither": 1}, ["'handler'", "'path'"]),
    ],
)
def test_deploy_json_fields_of_the_wrong_type_are_400_naming_them(http, body, needles):
    _error(http.post("/faastui/v1/deploy", json=body), 400, *needles)


@pytest.mark.parametrize(
    "path,body,needles",
    [
        ("/faastui/v1/prewarm", {"function": 5}, ["'function' must be a string"]),
        ("/faastui/v1/prewarm", {"function": "hello", "count": "2"}, ["'count' must be an integer"]),
        ("/faastui/v1/prewarm", {"function": "hello", "node": 1}, ["'node' must be a string"]),
        (
            "/faastui/v1/scale",
            {"function": "hello", "replicas": 1.5},
            ["'replicas' must be an integer", "got a number: 1.5"],
        ),
        (
            "/faastui/v1/scale",
            {"function": "hello", "replicas": True},
            ["'replicas' must be an integer", "got a boolean"],
        ),
        ("/faastui/v1/scale", {"replicas": 1}, ["'function' is required"]),
        ("/faastui/v1/unfuse", {"group": ["g"]}, ["'group' must be a string"]),
        ("/faastui/v1/fuse", {"functions": ["a", "b"], "name": 3}, ["'name' must be a string"]),
        ("/faastui/v1/dispatch", {"steps": [{"function": "hello"}], "mode": 1}, ["'mode' must be a string"]),
        ("/system/functions", {"service": 5, "image": "hello"}, ["'service' must be a string"]),
        (
            "/system/scale-function/hello",
            {"serviceName": "hello", "replicas": "two"},
            ["'replicas' must be an integer"],
        ),
        ("/prewarm", {"nodes": [{"node": "node-1", "function": "hello", "warm": "yes"}]}, ["'warm' must be a boolean"]),
    ],
)
def test_action_fields_of_the_wrong_type_are_400_naming_them(http, path, body, needles):
    _error(http.post(path, json=body), 400, *needles)


def test_a_zip_that_fails_its_crc_is_400_not_500(http):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handle(req):\n    return 'x'\n" * 20)
    data = bytearray(buf.getvalue())
    data[data.find(b"def handle")] ^= 0xFF  # the stored (uncompressed) data no longer matches its CRC
    r = http.post("/faastui/v1/deploy?name=crc", content=bytes(data), headers={"content-type": "application/zip"})
    _error(r, 400, "damaged", "CRC")


def test_a_malformed_function_yaml_says_its_line(http, engine, tmp_path):
    pkg = tmp_path / "badyaml"
    pkg.mkdir()
    (pkg / "handler.py").write_text("def handle(req):\n    return 1\n")
    (pkg / "function.yaml").write_text("name: badyaml\nhandler: handler:handle\n  memory: [1\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in pkg.iterdir():
            z.write(f, f.name)
    _error(
        http.post("/faastui/v1/deploy", content=buf.getvalue(), headers={"content-type": "application/zip"}),
        400,
        "function.yaml",
        "line 3",
    )
    cli("context", "add", "t", "--url", engine.url, "--use")
    r = cli("deploy", str(pkg), code=2)
    assert "function.yaml is not valid YAML at line 3" in r.stderr
