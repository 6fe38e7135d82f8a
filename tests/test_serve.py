"""``faastui serve NAME``: what every API shares, on real processes of the real CLI: the ready
line, a clean stop on SIGINT and SIGTERM, a clear error and exit code for a port in use, a
non-loopback address without auth, an unknown API, a backend that is down or cannot do what
the API needs; and bearer tokens, over HTTP and over gRPC."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time

import pytest

from faastui.serve import APIS, api_class
from faastui.serve.base import is_loopback
from faastui.serve.runner import check_bind
from backends.errors import InvalidRequest
from tests.conftest import run, running_engine
from tests.fakes.iluvatar_worker import FakeIluvatarWorker
from tests.serving import run_serve, serve_env, serving


#: starts, says so with a file, and answers only once the test creates the gate file
GATED = ("import os, time\n\ndef main(args):\n    open(args['started'], 'w').close()\n"
         "    end = time.time() + 20\n"
         "    while not os.path.exists(args['gate']) and time.time() < end:\n"
         "        time.sleep(0.01)\n    return {'opened': os.path.exists(args['gate'])}\n")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    with running_engine(tmp_path_factory.mktemp("serve-engine") / "state", nodes=1) as handle:
        async def deploy():
            async with handle.backend() as b:
                await b.deploy_source(GATED, name="gated")
        run(deploy())
        yield handle


@pytest.fixture()
def env(tmp_path, engine):
    return serve_env(tmp_path, FAASTUI_URL=engine.url)


def test_the_registry_names_each_api_without_importing_it():
    assert {n: (e.default_port, e.target) for n, e in APIS.items()} == {
        "agent": (5000, "agent:AgentApi"), "iluvatar": (8079, "iluvatar:IluvatarApi"),
        "fusionizer": (8000, "fusionizer:FusionizerApi")}
    assert api_class("agent").name == "agent" and api_class("iluvatar").scheme == "grpc"
    with pytest.raises(InvalidRequest) as err:
        api_class("agnet")
    assert err.value.hint == "did you mean 'agent'?"


def test_bind_rules():
    for host in ("127.0.0.1", "127.9.9.9", "localhost", "::1", "[::1]"):
        assert is_loopback(host)
        check_bind("agent", host, None, False)
    for host in ("0.0.0.0", "10.1.2.3", "::", "example.com"):
        assert not is_loopback(host)
        with pytest.raises(InvalidRequest) as err:
            check_bind("agent", host, None, False)
        assert "without authentication" in err.value.message and "--token" in err.value.hint
        check_bind("agent", host, "s3cret", False)
        check_bind("agent", host, None, True)
    with pytest.raises(InvalidRequest):
        check_bind("agent", "127.0.0.1", "  ", False)


@pytest.mark.parametrize("api", ["agent", "iluvatar"])
def test_ready_line_and_a_clean_stop_on_sigterm(api, env):
    with serving(api, env=env, stop_signal=signal.SIGTERM) as served:
        assert served.lines[-1] == (f"serving the {api} API on {served.scheme}://127.0.0.1:"
                                    f"{served.port} over context local")
        assert served.scheme == ("grpc" if api == "iluvatar" else "http")
    # serving() checked: exit 0, "stopped the <api> API" last, no traceback


@pytest.mark.parametrize("api", ["agent", "iluvatar"])
def test_a_port_in_use_is_one_clear_line_and_exit_1(api, env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_serve(api, "--port", str(port), env=env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == [
        f"error: cannot serve the {api} API on 127.0.0.1:{port}: the port is in use",
        "hint: another server listens there; pick another with --port"]


def test_a_second_server_on_the_same_port_is_refused_too(env):
    """gRPC would share a port (SO_REUSEPORT) unless told not to."""
    with serving("iluvatar", env=env) as first:
        proc = run_serve("iluvatar", "--port", str(first.port), env=env)
        assert proc.returncode == 1 and "the port is in use" in proc.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3"])
def test_a_non_loopback_host_without_a_token_is_refused_before_binding(host, env):
    proc = run_serve("agent", "--host", host, env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: refusing to serve the agent API on {host} "
                                  "without authentication")
    assert "--allow-unauthenticated" in proc.stderr


def test_usage_errors(env):
    proc = run_serve("fusionzer", env=env)
    assert proc.returncode == 2 and "no API 'fusionzer' to serve" in proc.stderr
    proc = run_serve("agent", "--context", "nowhere", env=env)
    assert proc.returncode == 2 and "unknown context 'nowhere'" in proc.stderr


def test_a_backend_that_does_not_answer_is_exit_4(tmp_path):
    env = serve_env(tmp_path)  # the local context, and no engine on its state dir
    proc = run_serve("agent", "--port", "0", env=env)
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.splitlines()[0].startswith("error: no engine is running")
    assert "faastui up" in proc.stderr


def test_a_backend_that_lacks_what_the_api_needs_is_exit_3(tmp_path):
    with FakeIluvatarWorker() as worker:
        env = serve_env(tmp_path, [{"name": "ilu", "backend": "iluvatar", "url": worker.url}],
                        current="ilu")
        proc = run_serve("agent", "--port", "0", env=env)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.splitlines()[0] == (
        "error: the iluvatar backend cannot serve the agent API (it lacks: deploy_source)")


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_a_token_is_required_when_given_over_http(env):
    with serving("agent", "--token", "s3cret", env=env) as served:
        assert _get(served.port, "/health")[0] == 200  # health checks need no token
        assert _get(served.port, "/functions") == (401, {"error": "missing or wrong bearer token"})
        assert _get(served.port, "/functions", {"Authorization": "Bearer wrong"})[0] == 401
        status, body = _get(served.port, "/functions", {"Authorization": "Bearer s3cret"})
        assert status == 200 and "functions" in body


def test_a_token_is_required_when_given_over_grpc(env):
    import grpc

    from backends.iluvatar.rpc import iluvatar_rpc_pb2 as pb
    from backends.iluvatar.rpc import iluvatar_rpc_pb2_grpc as pb_grpc

    with serving("iluvatar", env={**env, "FAASTUI_SERVE_TOKEN": "s3cret"}) as served:
        with grpc.insecure_channel(served.address) as channel:
            stub = pb_grpc.IluvatarWorkerStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                stub.ping(pb.PingRequest(message="Ping"), timeout=30)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert refused.value.details() == "missing or wrong bearer token"
            pong = stub.ping(pb.PingRequest(message="Ping"), timeout=30,
                             metadata=[("authorization", "Bearer s3cret")])
            assert pong.message == "Pong"


def _wait_for(path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


@pytest.mark.parametrize("api", ["agent", "iluvatar"])
def test_a_call_in_flight_finishes_when_the_server_is_stopped(api, env, tmp_path):
    started, gate = tmp_path / "started", tmp_path / "gate"
    args = {"started": str(started), "gate": str(gate)}
    answers: list = []
    with serving(api, env=env, stop_signal=signal.SIGTERM) as served:
        if api == "agent":
            def client():
                conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
                conn.request("POST", "/invoke", body=json.dumps({"id": "gated", "payload": args}))
                resp = conn.getresponse()
                answers.append((resp.status, json.loads(resp.read())))
        else:
            import grpc

            from backends.iluvatar.rpc import iluvatar_rpc_pb2 as pb
            from backends.iluvatar.rpc import iluvatar_rpc_pb2_grpc as pb_grpc

            channel = grpc.insecure_channel(served.address)
            stub = pb_grpc.IluvatarWorkerStub(channel)
            assert stub.register(pb.RegisterRequest(function_name="gated", function_version="1",
                                                    image_name="gated"), timeout=30).success

            def client():
                resp = stub.invoke(pb.InvokeRequest(function_name="gated", function_version="1",
                                                    json_args=json.dumps(args)), timeout=60)
                answers.append((resp.success, json.loads(resp.json_result)))
        caller = threading.Thread(target=client)
        caller.start()
        _wait_for(started)  # the call is in the handler now
        served.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)  # the server is stopping: no new calls, this one goes on
        gate.write_text("open")
        caller.join(60)
    ok = 200 if api == "agent" else True
    assert answers and answers[0][0] == ok, answers
    result = answers[0][1]["result"] if api == "agent" else answers[0][1]
    assert result == {"opened": True}


def test_serve_honours_g_and_n_as_every_command_does(env):
    import subprocess
    import sys

    from tests.serving import ROOT

    def serve(*args):
        proc = subprocess.run([sys.executable, "-m", "faastui", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc
    # -g: a one-shot OpenFaaS gateway, which cannot deploy source (what the agent API needs)
    proc = serve("-g", "http://127.0.0.1:9", "serve", "agent", "--port", "0")
    assert proc.returncode == 3, proc.stderr
    assert "the openfaas backend cannot serve the agent API" in proc.stderr
    proc = serve("-g", "http://127.0.0.1:9", "serve", "agent", "--context", "local")
    assert proc.returncode == 2 and "either --context or -g" in proc.stderr
    # -n: the namespace, refused by a backend without namespaces (exit 3), at the root or here
    for args in (["-n", "dev", "serve", "agent"], ["serve", "agent", "-n", "dev"]):
        proc = serve(*args, "--port", "0")
        assert proc.returncode == 3 and "has no namespaces (-n dev)" in proc.stderr, proc.stderr
