"""The engine's wire APIs against a real daemon: OpenFaaS subset, Invokers, /faastui/v1.

Real daemon, real Redis, real worker processes, real HTTP on loopback.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import datetime

import httpx
import pytest


@pytest.fixture()
def http(engine):
    with httpx.Client(base_url=engine.url, timeout=30) as client:
        yield client


def _error(resp, status):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert isinstance(body.get("error"), str) and body["error"]
    return body


# ---- OpenFaaS gateway subset ---------------------------------------------------------


def test_healthz_and_info(http):
    assert http.get("/healthz").status_code == 200
    info = http.get("/system/info").json()
    assert info["provider"]["provider"] == "faastui"
    assert info["version"]["release"]


def test_system_functions_lists_openfaas_fields(http):
    fns = {f["name"]: f for f in http.get("/system/functions").json()}
    assert {"hello", "echo", "data-processor", "json-transformer"} <= fns.keys()
    hello = fns["hello"]
    for key in (
        "image",
        "namespace",
        "envProcess",
        "labels",
        "annotations",
        "replicas",
        "availableReplicas",
        "invocationCount",
        "limits",
    ):
        assert key in hello
    one = http.get("/system/function/hello").json()
    assert one["name"] == "hello" and one["image"] == "faastui/hello:latest"
    _error(http.get("/system/function/nope"), 404)


def test_function_route_invokes_hello(http):
    r = http.post("/function/hello", content=b'{"name":"Alex"}')
    assert r.status_code == 200
    assert r.json() == {"message": "Hello, Alex!"}
    assert r.headers["X-Call-Id"]
    assert r.headers["X-Faastui-Container-State"] in ("cold", "prewarm", "warm")
    assert float(r.headers["X-Duration-Seconds"]) >= 0


def test_function_route_reports_a_failing_function(http):
    r = http.post("/function/crash", json={"mode": "raise"})
    body = _error(r, 500)
    assert "asked to raise" in body["error"] and body["status"] == "error"
    assert r.headers["X-Call-Id"] == body["call_id"]
    r = http.post("/function/crash", json={"mode": "hang"})
    assert _error(r, 504)["status"] == "timeout"


def test_openfaas_deploy_update_scale_delete(http, engine):
    body = {"service": "hello-copy", "image": "hello", "labels": {"team": "a"}}
    r = http.post("/system/functions", json=body)
    assert r.status_code == 202, r.text
    assert http.post("/function/hello-copy", content=b'{"name":"Copy"}').json() == {"message": "Hello, Copy!"}
    r = http.put("/system/functions", json={"service": "hello-copy", "image": "hello"})
    assert r.status_code == 200  # OpenFaaS's spec (faas-netes sends 202; faas-cli takes both)
    r = http.post("/system/scale-function/hello-copy", json={"serviceName": "hello-copy", "replicas": 2})
    assert r.status_code == 202
    assert http.get("/system/function/hello-copy").json()["availableReplicas"] == 2
    _error(http.post("/system/scale-function/hello-copy", json={"replicas": "two"}), 400)
    r = http.request("DELETE", "/system/functions", json={"functionName": "hello-copy"})
    assert r.status_code == 200 and r.content == b""  # the spec's 200, no body
    _error(http.post("/function/hello-copy", content=b"{}"), 404)
    _error(http.request("DELETE", "/system/functions", json={"functionName": "hello-copy"}), 404)
    _error(http.post("/system/functions", json={"service": "x", "image": "no-such-package"}), 400)
    _error(http.put("/system/functions", json={"service": "never-deployed", "image": "hello"}), 404)


def test_async_function_returns_call_id_and_result(http):
    r = http.post("/async-function/data-processor", content=b'{"numbers":[1,2,3]}')
    assert r.status_code == 202
    call_id = r.headers["X-Call-Id"]
    assert r.json()["call_id"] == call_id
    res = http.get(f"/faastui/v1/results/{call_id}", params={"wait": 10})
    assert res.status_code == 200
    record = res.json()
    assert record["status"] == "ok" and record["result"] == {"count": 3, "sum": 6, "average": 2.0}
    # fetched results are gone
    _error(http.get(f"/faastui/v1/results/{call_id}"), 404)
    _error(http.get("/faastui/v1/results/0000"), 404)


# ---- Invokers gateway ---------------------------------------------------------------


def test_nodes_route(http):
    nodes = http.get("/nodes").json()
    assert [n["NodeName"] for n in nodes] == ["node-1", "node-2", "node-3"]
    assert all(n["ClusterIP"] == "127.0.0.1" for n in nodes)


def test_prewarm_route_then_calls_find_prewarm_then_warm(http):
    r = http.post("/prewarm", json={"nodes": [{"node": "node-3", "function": "json-transformer", "warm": True}]})
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["coldStartDuration"] > 0
    first = http.post("/function/json-transformer?node=node-3", json={"A": 1})
    assert first.headers["X-Faastui-Container-State"] == "prewarm"
    second = http.post("/function/json-transformer?node=node-3", json={"A": 1})
    assert second.headers["X-Faastui-Container-State"] == "warm"
    r = http.post("/prewarm", json={"nodes": [{"node": "node-3", "function": "json-transformer", "warm": False}]})
    assert r.json()["results"][0]["stopped"] >= 1
    _error(http.post("/prewarm", json={"nodes": [{"node": "node-9", "function": "hello"}]}), 404)
    _error(http.post("/prewarm", json={"nodes": [{"node": "node-1", "function": "nope"}]}), 404)
    _error(http.post("/prewarm", json={"nodes": []}), 400)


def _ns(value):
    assert isinstance(value, int) and value >= 0
    return value


def test_dispatch_chain_three_steps(http):
    steps = [
        {"node": "node-1", "function": "json-transformer"},
        {"node": "node-2", "function": "json-transformer"},
        {"node": "node-3", "function": "data-processor"},
    ]
    # json-transformer doubles numbers twice: [1,2,3] -> [4,8,12]; keys upper-cased twice
    r = http.post("/dispatch", json={"input": json.dumps({"numbers": [1, 2, 3]}), "steps": steps[:2]})
    assert r.status_code == 200, r.text
    assert json.loads(r.json()["output"]) == {"NUMBERS": [4, 8, 12]}
    chain = [
        {"node": "node-1", "function": "echo"},
        {"node": "node-2", "function": "echo"},
        {"node": "node-3", "function": "data-processor"},
    ]
    r = http.post("/dispatch", json={"input": '{"numbers": [2, 4]}', "steps": chain})
    data = r.json()
    assert json.loads(data["output"]) == {"count": 2, "sum": 6, "average": 3.0}
    assert len(data["results"]) == 3
    assert json.loads(data["results"][0]["output"]) == {"numbers": [2, 4]}
    for step in data["results"]:
        _ns(step["coldStartDuration"])
        assert _ns(step["runningDuration"]) > 0
        start = datetime.fromisoformat(step["startAt"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(step["endAt"].replace("Z", "+00:00"))
        assert end >= start
    starts = [datetime.fromisoformat(s["startAt"].replace("Z", "+00:00")) for s in data["results"]]
    assert starts == sorted(starts), "a chain runs its steps in order"


def test_dispatch_names_function_by_image(http):
    r = http.post(
        "/dispatch", json={"input": '{"name":"Img"}', "steps": [{"node": "node-1", "function": "faastui/hello:latest"}]}
    )
    assert json.loads(r.json()["output"]) == {"message": "Hello, Img!"}


def test_dispatch_bad_plans(http):
    _error(http.post("/dispatch", json={"input": "x", "steps": []}), 400)
    _error(http.post("/dispatch", json={"input": "x", "steps": [{"node": "node-1"}]}), 400)
    _error(http.post("/dispatch", json={"input": "x", "steps": [{"node": "zz", "function": "hello"}]}), 404)
    _error(http.post("/dispatch", content=b"{not json"), 400)


# ---- /faastui/v1 ---------------------------------------------------------------------


def test_v1_reads(http):
    http.post("/function/hello", content=b"{}")
    snap = http.get("/faastui/v1/snapshot").json()
    for key in ("nodes", "functions", "placements", "queues", "qos", "fusion_groups", "taken_at"):
        assert key in snap
    assert {q["name"] for q in snap["queues"]} >= {"input_queue", "worker_queue"}
    assert any(q["subject"] == "hello" and q["count"] >= 1 for q in snap["qos"])
    placements = http.get("/faastui/v1/placements").json()
    states = {p["state"] for p in placements}
    assert states <= {"cold", "prewarm", "warm", "busy"} and "cold" in states
    assert http.get("/faastui/v1/nodes").json()[0]["max_containers"] > 0
    assert http.get("/faastui/v1/functions/hello").json()["name"] == "hello"
    assert isinstance(http.get("/faastui/v1/events").json(), list)
    assert http.get("/faastui/v1/redis").json()["url"].startswith("unix://")
    assert "lines" in http.get("/faastui/v1/logs/hello").json()
    assert http.get("/faastui/v1/info").json()["nodes"] == 3
    assert isinstance(http.get("/faastui/v1/qos", params={"window": 30}).json(), list)
    assert isinstance(http.get("/faastui/v1/callgraph").json(), list)


def test_v1_invoke_records_timings(http):
    inv = http.post("/faastui/v1/invoke/hello?node=node-2", content=b'{"name":"T"}').json()
    assert inv["node"] == "node-2" and inv["status"] == "ok"
    assert inv["result"] == {"message": "Hello, T!"}
    assert inv["duration_ms"] > 0 and inv["overhead_ms"] >= 0
    assert inv["container_state"] in ("cold", "prewarm", "warm")
    if inv["container_state"] == "cold":
        assert inv["cold_start_ms"] > 0


def test_v1_fanout(http):
    r = http.post(
        "/faastui/v1/dispatch",
        json={
            "input": {"numbers": [1, 1]},
            "mode": "fanout",
            "steps": [{"node": n, "function": "data-processor"} for n in ("node-1", "node-2", "node-3")],
        },
    )
    data = r.json()
    assert data["output"] == [{"count": 2, "sum": 2, "average": 1.0}] * 3
    assert [s["node"] for s in data["steps"]] == ["node-1", "node-2", "node-3"]
    _error(
        http.post("/faastui/v1/dispatch", json={"input": 1, "mode": "zigzag", "steps": [{"function": "hello"}]}), 400
    )


def test_unknown_routes_and_methods(http):
    _error(http.get("/no/such/route"), 404)
    _error(http.delete("/healthz"), 405)
    _error(http.post("/function/", content=b""), 404)


def test_bad_json_bodies(http):
    _error(http.post("/faastui/v1/prewarm", content=b"{oops"), 400)
    _error(http.post("/faastui/v1/prewarm", json=[1, 2]), 400)
    _error(http.post("/faastui/v1/scale", json={"function": "hello", "replicas": "x"}), 400)
    _error(http.post("/faastui/v1/fuse", json={"functions": "hello"}), 400)


# ---- deploy: zip, source, bad archives ------------------------------------------------------


def _zip(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return buf.getvalue()


def test_deploy_zip_and_zip_slip(http):
    good = _zip({"handler.py": b"def handle(req):\n    return 'zipped:' + req\n", "function.yaml": b"name: zipped\n"})
    r = http.post("/faastui/v1/deploy", content=good, headers={"Content-Type": "application/zip"})
    assert r.status_code == 201, r.text
    assert http.post("/function/zipped", content=b"x").text == "zipped:x"
    slip = _zip({"../../evil.py": b"x = 1\n", "handler.py": b"def handle(r):\n    return r\n"})
    body = _error(http.post("/faastui/v1/deploy", content=slip, headers={"Content-Type": "application/zip"}), 400)
    assert "escapes" in body["error"]
    absolute = _zip({"/etc/evil.py": b"x = 1\n"})
    _error(http.post("/faastui/v1/deploy", content=absolute, headers={"Content-Type": "application/zip"}), 400)
    link = _zip({"handler.py": b"def handle(r):\n    return r\n"}, links={"passwd": "/etc/passwd"})
    body = _error(http.post("/faastui/v1/deploy", content=link, headers={"Content-Type": "application/zip"}), 400)
    assert "link" in body["error"]
    _error(http.post("/faastui/v1/deploy", content=b"not a zip", headers={"Content-Type": "application/zip"}), 400)
    bad_name = _zip({"handler.py": b"def handle(r):\n    return r\n", "function.yaml": b"name: Bad_Name\n"})
    _error(http.post("/faastui/v1/deploy", content=bad_name, headers={"Content-Type": "application/zip"}), 400)
    no_handler = _zip({"function.yaml": b"name: empty\n"})
    _error(http.post("/faastui/v1/deploy", content=no_handler, headers={"Content-Type": "application/zip"}), 400)


def test_deploy_source_agent_style(http):
    src = "def handle(req):\n    return {'agent': True, 'len': len(req)}\n"
    r = http.post("/faastui/v1/deploy", json={"id": "agent-fn", "handler": src})
    assert r.status_code == 201, r.text
    assert http.post("/function/agent-fn", content=b"abc").json() == {"agent": True, "len": 3}
    _error(http.post("/faastui/v1/deploy", json={"id": "broken", "handler": "def handle(:\n"}), 400)
    _error(http.post("/faastui/v1/deploy", json={"id": "nohandler", "handler": "x = 1\n"}), 400)
    _error(http.post("/faastui/v1/deploy", json={"id": "-bad-", "handler": src}), 400)
    _error(
        http.post(
            "/faastui/v1/deploy", json={"id": "bad-req", "handler": src, "requirements": ["--index-url=http://x"]}
        ),
        400,
    )
    # a handler that fails at import time is refused and nothing half-deployed stays
    boom = "raise RuntimeError('at import')\ndef handle(r):\n    return r\n"
    body = _error(http.post("/faastui/v1/deploy", json={"id": "boom", "handler": boom}), 400)
    assert "at import" in body["error"]
    _error(http.post("/function/boom", content=b""), 404)


def test_redeploy_keeps_old_version_when_new_one_fails(http):
    ok = "def handle(req):\n    return 'v1'\n"
    assert http.post("/faastui/v1/deploy", json={"id": "versioned", "handler": ok}).status_code == 201
    assert http.post("/function/versioned").text == "v1"
    bad = "import no_such_module_xyz\ndef handle(req):\n    return 'v2'\n"
    _error(http.post("/faastui/v1/deploy", json={"id": "versioned", "handler": bad}), 400)
    assert http.post("/function/versioned").text == "v1"
    v2 = ok.replace("v1", "v2")
    assert http.post("/faastui/v1/deploy", json={"id": "versioned", "handler": v2}).status_code == 201
    assert http.post("/function/versioned").text == "v2"


def test_remove_via_v1(http):
    src = "def handle(req):\n    return 'bye'\n"
    http.post("/faastui/v1/deploy", json={"id": "short-lived", "handler": src})
    assert http.delete("/faastui/v1/functions/short-lived").status_code == 200
    _error(http.post("/function/short-lived"), 404)
    body = _error(http.post("/function/helo", content=b""), 404)
    assert "hello" in body.get("hint", "")


def test_event_log_records_actions(http):
    since = time.time() - 0.001
    http.post("/faastui/v1/scale", json={"function": "echo", "replicas": 1})
    kinds = [e["kind"] for e in http.get("/faastui/v1/events", params={"since": since}).json()]
    assert "scale" in kinds
