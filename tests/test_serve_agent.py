"""``faastui serve agent``: the radical faas agent's REST API, spoken to with a plain client
(http.client) as the agent's users do, over the real engine, and over the Knative and
Nuclio backends against their FAKE control planes (tests/fakes/kube_api.py,
tests/fakes/nuclio_dashboard.py: Kubernetes and Nuclio cannot run here), whose deployed
handlers are real processes answering real HTTP."""

from __future__ import annotations

import http.client
import json
import re

import pytest

from backends.errors import InvalidRequest
from faastui.serve.agent import _requirements, with_agent_entry
from tests.conftest import running_engine
from tests.fakes.kube_api import fake_kube
from tests.fakes.nuclio_dashboard import running_dashboard
from tests.serving import serve_env, serving

GREET = "def handle(req):\n    return 'Hello ' + req['name']\n"
ECHO = "def handle(req):\n    return {'got': req, 'type': type(req).__name__}\n"


def call(port: int, method: str, path: str, body=None, raw: bytes | None = None):
    """(status, JSON answer) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data is not None else {})
        resp = conn.getresponse()
        assert resp.getheader("Content-Type") == "application/json"
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """``faastui serve agent`` over a real engine of its own (module-wide)."""
    tmp = tmp_path_factory.mktemp("serve-agent")
    with running_engine(tmp / "state", nodes=1) as engine:
        with serving("agent", env=serve_env(tmp, FAASTUI_URL=engine.url)) as served:
            served.engine = engine
            yield served


# ---- the agent's own flow, exact shapes ---------------------------------------------------------
def test_health(agent):
    assert call(agent.port, "GET", "/health") == (200, {"status": "healthy", "platform": "local", "workflow": "local"})


def test_deploy_invoke_list_delete(agent):
    status, deployed = call(agent.port, "POST", "/deploy", {"id": "greet", "handler": GREET})
    assert status == 200
    assert deployed == {
        "id": "greet",
        "image": "faastui/greet:latest",
        "status": "deployed",
        "platform": "local",
        "endpoint": f"{agent.engine.url}/function/greet",
    }
    status, answer = call(agent.port, "POST", "/invoke", {"id": "greet", "payload": {"name": "Ada"}})
    assert status == 200 and set(answer) == {"result", "status", "execution_time", "platform"}
    # the handler's return value itself: not wrapped again ({"result": {"result": ...}})
    assert (answer["result"], answer["status"], answer["platform"]) == ("Hello Ada", "success", "local")
    assert isinstance(answer["execution_time"], float) and 0 < answer["execution_time"] < 60
    # the endpoint is the engine's OpenFaaS route: the function answers there too
    conn = http.client.HTTPConnection("127.0.0.1", agent.engine.port, timeout=30)
    conn.request("POST", "/function/greet", body=b'{"name": "Bob"}')
    assert conn.getresponse().read() == b"Hello Bob"
    conn.close()

    status, listed = call(agent.port, "GET", "/functions")
    assert (
        status == 200
        and {"id": "greet", "image": "faastui/greet:latest", "ready": True, "state": "ready", "platform": "local"}
        in listed["functions"]
    )
    assert all(set(f) == {"id", "image", "ready", "state", "platform"} for f in listed["functions"])

    assert call(agent.port, "POST", "/delete", {"id": "greet"}) == (
        200,
        {"status": "deleted", "platform": "local", "function_id": "greet"},
    )
    status, gone = call(agent.port, "POST", "/invoke", {"id": "greet"})
    assert (status, gone) == (404, {"error": "function invocation failed: function 'greet' not found"})
    status, again = call(agent.port, "POST", "/delete", {"id": "greet"})
    assert status == 404 and again["error"].startswith("function deletion failed: ")


def test_the_handler_gets_the_payload_itself(agent):
    call(agent.port, "POST", "/deploy", {"id": "echo-agent", "handler": ECHO})
    for payload, kind in (
        ({"k": [1, 2]}, "dict"),
        ("plain text", "str"),
        ("42", "str"),
        (7, "int"),
        ([1, "a"], "list"),
        (None, "NoneType"),
    ):
        status, answer = call(agent.port, "POST", "/invoke", {"id": "echo-agent", "payload": payload})
        assert status == 200 and answer["result"] == {"got": payload, "type": kind}, answer
    # no payload: the agent's default, {}
    assert call(agent.port, "POST", "/invoke", {"id": "echo-agent"})[1]["result"] == {"got": {}, "type": "dict"}


def test_default_ids_and_other_signatures(agent):
    status, deployed = call(
        agent.port, "POST", "/deploy", {"handler": "def main(args):\n    return {'hello': args.get('name', 'world')}\n"}
    )
    assert status == 200 and re.fullmatch(r"func-[0-9a-f]{8}", deployed["id"])
    status, answer = call(agent.port, "POST", "/invoke", {"id": deployed["id"], "payload": {"name": "ilu"}})
    assert answer["result"] == {"hello": "ilu"}  # Ilúvatar's main(args), unchanged
    call(agent.port, "POST", "/delete", {"id": deployed["id"]})


# ---- bad input: a clear answer each, and the server keeps serving -------------------------------
@pytest.mark.parametrize(
    "path, body, raw, status, error",
    [
        ("/deploy", None, b"", 400, "the request body is empty; expected a JSON object"),
        ("/deploy", None, b"{not json", 400, "the request body is not valid JSON: "),
        ("/deploy", [1, 2], None, 400, "the request body must be a JSON object, not list"),
        ("/deploy", {"id": "x"}, None, 400, "handler field is required"),
        ("/deploy", {"handler": "def handle(req:\n    pass\n"}, None, 400, "handler source does not compile: line 1: "),
        ("/deploy", {"handler": "x = 1\n"}, None, 400, "handler source defines none of handle(), main(), handler()"),
        ("/deploy", {"id": "Bad_Name", "handler": GREET}, None, 400, "invalid function name 'Bad_Name'"),
        ("/deploy", {"handler": GREET, "requirements": "-e ."}, None, 400, "bad requirement '-e .'"),
        ("/deploy", {"handler": 5}, None, 400, "handler must be Python source text"),
        (
            "/deploy",
            {"handler": "import no_such_mod_here\ndef handle(req):\n    return 1\n"},
            None,
            500,
            "deployment failed: ",
        ),
        ("/invoke", {"payload": {}}, None, 400, "id field is required"),
        ("/invoke", "x", None, 400, "the request body must be a JSON object, not str"),
        ("/delete", {}, None, 400, "id field is required"),
    ],
)
def test_bad_input_gets_a_clear_answer_and_the_server_keeps_serving(agent, path, body, raw, status, error):
    got, answer = call(agent.port, "POST", path, body, raw)
    assert got == status and set(answer) == {"error"} and answer["error"].startswith(error), answer
    assert call(agent.port, "GET", "/health")[0] == 200


def test_a_failing_function_is_500_with_its_error(agent):
    call(agent.port, "POST", "/deploy", {"id": "divide", "handler": "def handle(req):\n    return 1 / 0\n"})
    status, answer = call(agent.port, "POST", "/invoke", {"id": "divide"})
    assert status == 500 and answer["error"].startswith("function invocation failed: ")
    assert "ZeroDivisionError" in answer["error"]
    assert call(agent.port, "POST", "/invoke", {"id": "echo-agent", "payload": 1})[0] == 200


def test_unknown_routes_and_methods(agent):
    assert call(agent.port, "GET", "/nope")[0] == 404
    assert call(agent.port, "GET", "/deploy")[0] == 405


def test_the_entry_and_requirements_helpers():
    assert with_agent_entry("def main(args):\n    return args\n") == "def main(args):\n    return args\n"
    wrapped = with_agent_entry(ECHO)
    scope: dict = {}
    exec(compile(wrapped, "handler.py", "exec"), scope)
    assert scope["handle"]('{"a": 1}') == {"got": {"a": 1}, "type": "dict"}
    assert scope["handle"]("not json") == {"got": "not json", "type": "str"}
    assert scope["handle"].__code__.co_argcount == 1 and scope["handle"].__name__ == "handle"
    two = with_agent_entry("def handle(event, context):\n    return event\n")
    scope = {}
    exec(compile(two, "handler.py", "exec"), scope)
    assert scope["handle"].__code__.co_argcount == 2  # left alone
    assert _requirements("requests>=2  # http\n\n# comment\nrich\n") == ["requests>=2", "rich"]
    with pytest.raises(InvalidRequest):
        _requirements({"a": 1})


# ---- the same client over Knative and Nuclio (fakes) --------------------------------------------
def _flow(port: int, platform: str) -> dict:
    assert call(port, "GET", "/health")[1]["platform"] == platform
    status, deployed = call(port, "POST", "/deploy", {"id": "greet", "handler": GREET})
    assert status == 200, deployed
    assert (deployed["id"], deployed["status"], deployed["platform"]) == ("greet", "deployed", platform)
    status, answer = call(port, "POST", "/invoke", {"id": "greet", "payload": {"name": "Ada"}})
    assert status == 200 and (answer["result"], answer["status"]) == ("Hello Ada", "success"), answer
    status, echo = call(port, "POST", "/deploy", {"id": "echo-agent", "handler": ECHO})
    assert status == 200, echo
    for payload, kind in (({"k": 1}, "dict"), ("text", "str")):
        answer = call(port, "POST", "/invoke", {"id": "echo-agent", "payload": payload})[1]
        assert answer["result"] == {"got": payload, "type": kind}, answer
    listed = {f["id"]: f for f in call(port, "GET", "/functions")[1]["functions"]}
    assert listed["greet"]["ready"] is True and listed["greet"]["platform"] == platform
    status, bad = call(port, "POST", "/deploy", {"handler": "def handle(req:\n"})
    assert status == 400 and bad["error"].startswith("handler source does not compile")
    assert call(port, "POST", "/delete", {"id": "greet"})[1] == {
        "status": "deleted",
        "platform": platform,
        "function_id": "greet",
    }
    assert call(port, "POST", "/invoke", {"id": "greet"})[0] == 404
    return deployed


def test_over_knative(tmp_path):
    with fake_kube() as kube:
        kubeconfig = kube.kubeconfig(tmp_path / "kubeconfig")
        env = serve_env(
            tmp_path,
            [
                {
                    "name": "kn",
                    "backend": "knative",
                    "url": kube.ingress_url,
                    "kube_context": "fake",
                    "options": {"kubeconfig": str(kubeconfig)},
                }
            ],
            current="kn",
        )
        with serving("agent", env=env) as served:
            assert served.context == "kn"
            deployed = _flow(served.port, "knative")
    assert deployed["endpoint"].startswith("http://greet.")  # the ksvc's own URL


def test_over_nuclio(tmp_path):
    with running_dashboard(build_delay=0.05) as dashboard:
        env = serve_env(tmp_path, [{"name": "nu", "backend": "nuclio", "url": dashboard.url}])
        with serving("agent", "--context", "nu", env=env) as served:
            assert served.context == "nu"
            _flow(served.port, "nuclio")
