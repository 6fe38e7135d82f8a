"""The engine's OpenFaaS routes against OpenFaaS's own OpenAPI spec (openfaas/faas
``api-docs/spec.openapi.yml``): every operation the spec has is either served, with each
status code the engine answers among the ones the spec documents (or, where faas-netes and
faas-cli disagree with the spec, among the ``beyond_spec`` answers, each with its reason) and
each JSON body (each NDJSON line of ``/system/logs``) valid against the spec's schema
(jsonschema), or listed as not served with the reason. The secrets conversation includes a
function deployed with a secret through ``PUT /system/functions``.

The spec's schemas are in ``tests/data/openfaas_gateway_spec.json`` (transcribed to JSON
Schema, MIT licence kept with them). The requests this test sends are checked against the
spec's request schemas too, so a passing test is a conversation OpenFaaS's own clients could
have had. Beyond the spec, and stricter: a FunctionStatus carries no field the spec does not
name (fidelity of field names). The gateway is the real engine (the session fixture).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from .conftest import run

jsonschema = pytest.importorskip("jsonschema")  # the test extras (pyproject.toml) install it

SPEC = json.loads((Path(__file__).parent / "data" / "openfaas_gateway_spec.json").read_text())
OPERATIONS: dict = SPEC["operations"]
BEYOND: dict = SPEC["beyond_spec"]


def _validator(schema):
    if isinstance(schema, str):
        schema = {"$ref": f"#/$defs/{schema}"}
    return jsonschema.Draft202012Validator({**schema, "$defs": SPEC["schemas"]})


def _errors(schema, data) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in _validator(schema).iter_errors(data)]


class Exchange:
    """Requests to the engine, each one matched to its spec operation and checked."""

    def __init__(self, client: httpx.Client):
        self.client = client
        self.seen: set[str] = set()

    def __call__(self, op: str, path: str | None = None, *, json_body=None, content=None,
                 expect: int | None = None, params: dict | None = None) -> httpx.Response:
        assert op in OPERATIONS, f"{op} is not an operation of the spec"
        spec = OPERATIONS[op]
        method, template = op.split(" ", 1)
        if json_body is not None and spec.get("request"):
            problems = _errors(spec["request"], json_body)
            assert not problems, f"the test's own {op} body breaks the spec: {problems}"
        r = self.client.request(method, path or template, json=json_body, content=content,
                                params=params)
        documented = spec["responses"]
        beyond = BEYOND.get(op, {})
        assert str(r.status_code) in documented or str(r.status_code) in beyond, \
            f"{op} ({path}) answered {r.status_code}; the spec documents {sorted(documented)}: {r.text[:300]}"
        if expect is not None:
            assert r.status_code == expect, (op, path, r.status_code, r.text[:300])
        schema = documented.get(str(r.status_code))
        if isinstance(schema, dict) and "ndjson" in schema:
            assert r.headers["content-type"] == "application/x-ndjson"
            for line in r.text.splitlines():
                problems = _errors(schema["ndjson"], json.loads(line))
                assert not problems, f"{op} line breaks the spec's schema: {problems}: {line}"
        elif schema is not None:
            problems = _errors(schema, r.json())
            assert not problems, f"{op} body breaks the spec's schema: {problems}"
        self.seen.add(op)
        return r


@pytest.fixture()
def gw(engine):
    with httpx.Client(base_url=engine.url, timeout=30) as client:
        yield Exchange(client)


def _status_fields_are_the_specs(status: dict) -> None:
    allowed = set(SPEC["schemas"]["FunctionStatus"]["properties"])
    assert set(status) <= allowed, f"fields OpenFaaS does not have: {sorted(set(status) - allowed)}"
    datetime.fromisoformat(status["createdAt"])  # format: date-time (RFC 3339)


def test_every_operation_of_the_spec_is_served_or_said_not_to_be(gw, engine):
    """Each served operation, its success and its documented errors, in one conversation."""
    assert not set(OPERATIONS) & set(SPEC["not_served"])
    gw("GET /healthz", expect=200)
    gw("GET /system/info", expect=200)
    listed = gw("GET /system/functions", expect=200).json()
    assert "hello" in {f["name"] for f in listed}
    for status in listed:
        _status_fields_are_the_specs(status)
    one = gw("GET /system/function/{functionName}", "/system/function/hello", expect=200).json()
    _status_fields_are_the_specs(one)
    gw("GET /system/function/{functionName}", "/system/function/no-such-fn", expect=404)
    namespaces = gw("GET /system/namespaces", expect=200).json()
    assert namespaces == [one["namespace"]]

    ns = namespaces[0]
    gw("POST /system/functions", json_body={"service": "spec-copy", "image": "hello"}, expect=202)
    gw("POST /system/functions", json_body={"service": "spec-bad", "image": "no-such-package"},
       expect=400)
    gw("PUT /system/functions", json_body={"service": "spec-copy", "image": "hello",
                                           "labels": {"team": "spec"}}, expect=200)
    gw("PUT /system/functions", json_body={"service": "never-deployed", "image": "hello"}, expect=404)
    assert gw("GET /system/function/{functionName}", "/system/function/spec-copy").json()[
        "labels"] == {"team": "spec"}
    scaled = gw("POST /system/scale-function/{functionName}", "/system/scale-function/spec-copy",
                json_body={"serviceName": "spec-copy", "namespace": ns, "replicas": 1})
    assert scaled.status_code in (200, 202)
    gw("POST /system/scale-function/{functionName}", "/system/scale-function/no-such-fn",
       json_body={"serviceName": "no-such-fn", "namespace": ns, "replicas": 1}, expect=404)

    r = gw("POST /function/{functionName}", "/function/spec-copy", content=b'{"name": "Spec"}',
           expect=200)
    assert r.json() == {"message": "Hello, Spec!"}
    r = gw("POST /function/{functionName}.{namespace}", f"/function/spec-copy.{ns}",
           content=b'{"name": "Dot"}', expect=200)
    assert r.json() == {"message": "Hello, Dot!"}
    gw("POST /function/{functionName}", "/function/no-such-fn", content=b"{}", expect=404)
    gw("POST /function/{functionName}.{namespace}", "/function/no-such-fn.other", content=b"{}",
       expect=404)
    gw("POST /function/{functionName}", "/function/crash", content=b'{"mode": "raise"}', expect=500)
    r = gw("POST /async-function/{functionName}", "/async-function/spec-copy", content=b"{}",
           expect=202)
    assert r.headers["X-Call-Id"]
    gw("POST /async-function/{functionName}.{namespace}", f"/async-function/spec-copy.{ns}",
       content=b"{}", expect=202)
    gw("POST /async-function/{functionName}", "/async-function/no-such-fn", content=b"{}", expect=404)

    _secrets(gw)
    _logs(gw, engine)
    gw("DELETE /system/functions", json_body={"functionName": "spec-copy"}, expect=200)
    gw("DELETE /system/functions", json_body={"functionName": "spec-copy"}, expect=404)
    r = gw.client.request("DELETE", "/system/functions", json={})  # breaks the request schema
    assert r.status_code == 400 and "functionName" in r.json()["error"]
    assert gw.seen == set(OPERATIONS), f"not exercised: {sorted(set(OPERATIONS) - gw.seen)}"


def _secrets(gw):
    """Create, list, update, use and remove a secret: the conversation faas-cli has."""
    assert "spec-key" not in {s["name"] for s in gw("GET /system/secrets", expect=200).json()}
    gw("POST /system/secrets", json_body={"name": "spec-key", "value": "v1"}, expect=201)
    gw("POST /system/secrets", json_body={"name": "spec-key", "value": "again"}, expect=409)
    gw("POST /system/secrets", json_body={"name": "Not_Valid", "value": "x"}, expect=400)
    gw("POST /system/secrets", json_body={"name": "spec-empty", "value": ""}, expect=400)
    gw("POST /system/secrets", json_body={"name": "spec-raw", "rawValue": "AAEC/w=="}, expect=201)
    listed = gw("GET /system/secrets", expect=200).json()
    assert {"name": "spec-key", "namespace": "local"} in listed
    assert all(set(s) == {"name", "namespace"} for s in listed)  # never a value
    gw("PUT /system/secrets", json_body={"name": "spec-key", "value": "v2"}, expect=200)
    gw("PUT /system/secrets", json_body={"name": "spec-never", "value": "v"}, expect=404)
    # a function given the secret reads it by path, as on OpenFaaS
    gw("PUT /system/functions", json_body={"service": "spec-copy", "image": "hello",
                                           "secrets": ["spec-key"]}, expect=200)
    gw("POST /system/functions", json_body={"service": "spec-bad", "image": "hello",
                                            "secrets": ["spec-never"]}, expect=400)
    status = gw("GET /system/function/{functionName}", "/system/function/spec-copy").json()
    assert status["secrets"] == ["spec-key"]
    for name in ("spec-key", "spec-raw"):
        gw("DELETE /system/secrets", json_body={"name": name}, expect=202)
    gw("DELETE /system/secrets", json_body={"name": "spec-key"}, expect=404)
    assert "spec-key" not in {s["name"] for s in gw("GET /system/secrets").json()}


def _logs(gw, engine):
    """The NDJSON of a function that printed, with its filters, and the errors."""
    from backends.local.client import LocalBackend

    async def printed():
        async with LocalBackend(engine.url) as b:
            await b.deploy_source("def handle(req):\n    print('spec <said> &', req)\n"
                                  "    return 'ok'\n", name="spec-printer")
            for i in range(3):
                await b.invoke("spec-printer", f"call {i}")
    run(printed())
    try:
        r = gw("GET /system/logs", params={"name": "spec-printer", "tail": "2"}, expect=200)
        lines = [json.loads(line) for line in r.text.splitlines()]
        assert [m["text"] for m in lines] == ["spec <said> & call 1", "spec <said> & call 2"]
        assert all(m["name"] == "spec-printer" and m["namespace"] == "local" and m["instance"]
                   for m in lines)
        assert "\\u003csaid\\u003e \\u0026" in r.text  # as Go's json.Encoder writes them
        for m in lines:
            datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00"))
        since = lines[-1]["timestamp"]
        later = gw("GET /system/logs", params={"name": "spec-printer", "since": since,
                                               "namespace": "local"}, expect=200)
        assert [json.loads(x)["text"] for x in later.text.splitlines()] == ["spec <said> & call 2"]
        gw("GET /system/logs", params={"name": "no-such-fn"}, expect=404)
        gw("GET /system/logs", params={"tail": "1"}, expect=422)
        gw("GET /system/logs", params={"name": "spec-printer", "tail": "many"}, expect=422)
        gw("GET /system/logs", params={"name": "spec-printer", "since": "yesterday"}, expect=422)
    finally:
        gw.client.request("DELETE", "/system/functions", json={"functionName": "spec-printer"})


def test_what_is_beyond_the_spec_is_said_and_never_a_documented_code():
    for op, answers in BEYOND.items():
        assert op in OPERATIONS
        for status, why in answers.items():
            assert status not in OPERATIONS[op]["responses"] and len(why) > 40


def test_what_is_not_served_answers_404_naming_the_route(gw):
    for op in SPEC["not_served"]:
        method, path = op.split(" ", 1)
        r = gw.client.request(method, path, json={"name": "x"} if method != "GET" else None)
        assert r.status_code in (404, 405), (op, r.status_code)
        assert r.json()["error"], op


def test_the_schemas_catch_what_they_should():
    """The checks are not vacuous: bodies that break the spec fail them."""
    assert _errors("FunctionStatus", {"name": "x"})  # image is required
    assert _errors("FunctionStatus", {"name": "x", "image": "i", "replicas": "2"})
    assert _errors("FunctionStatus", {"name": "x", "image": "i", "labels": {"a": 1}})
    assert _errors("GatewayInfo", {"provider": {"provider": "p"}, "version": None, "arch": "x"})
    assert _errors("ListNamespaceResponse", [{"name": "openfaas-fn"}])
    assert _errors("ScaleServiceRequest", {"serviceName": "x", "namespace": "n", "replicas": -1})
    assert _errors("LogEntry", {"name": "x", "namespace": "n", "instance": "i", "text": "t"})
    assert _errors("Secret", {"value": "no name"})
    assert _errors({"type": "array", "items": {"$ref": "#/$defs/SecretDescription"}}, {"name": "x"})
    assert not _errors("FunctionStatus", {"name": "x", "image": "i", "labels": None,
                                          "limits": {"memory": "128M"}})
