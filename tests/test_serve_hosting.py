"""``faastui serve`` over the embedded engine runs an HTTP API inside the engine's daemon
(one hop from the workers) while the foreground process keeps its ready line, notes,
signals and exit codes; ``FAASTUI_SERVE_IN_ENGINE=0`` keeps the API in its own process.
Real engine, real ``faastui serve`` processes, real sockets."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import threading

import psutil
import pytest

from backends.local.control import stop_engine
from tests.conftest import ROOT, running_engine
from tests.serving import serve_command, serve_env, serving
from tests.test_serve_fusionizer import TASKS, call, post, put, task_zip, wait_for


def listener_pid(port: int) -> int | None:
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port:
            return conn.pid
    return None


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    with running_engine(tmp_path_factory.mktemp("serve-hosting") / "state", nodes=1) as handle:
        yield handle


@pytest.mark.parametrize("in_engine", ["1", "0"])
def test_the_same_api_in_the_engine_or_in_its_own_process(tmp_path, engine, in_engine):
    env = serve_env(tmp_path, FAASTUI_URL=engine.url, FAASTUI_SERVE_IN_ENGINE=in_engine)
    with serving("fusionizer", env=env) as served:
        owner = listener_pid(served.port)
        assert owner == (engine.pid if in_engine == "1" else served.proc.pid)
        for task in ("taska", "taskb"):
            assert put(served.port, task, task_zip(TASKS / task))[0] == 200
        assert post(served.port, "taska") == (200, "8")  # A -> this server -> B
        assert call(served.port, "GET", "/taskb")[1].endswith("Tasks: None\nStatus: ready")
    assert refuses(served.port)  # stopped with the foreground process, in-engine or not


def test_the_iluvatar_worker_in_the_engine(tmp_path, engine):
    """gRPC too: grpc.aio on the engine's own loop, the foreground's ready line as before."""
    grpc = pytest.importorskip("grpc")
    from backends.iluvatar.rpc import iluvatar_rpc_pb2 as pb
    from backends.iluvatar.rpc import iluvatar_rpc_pb2_grpc as pb_grpc

    env = serve_env(tmp_path, FAASTUI_URL=engine.url)
    with serving("iluvatar", env=env) as served:
        assert served.scheme == "grpc" and listener_pid(served.port) == engine.pid
        with grpc.insecure_channel(f"127.0.0.1:{served.port}") as channel:
            stub = pb_grpc.IluvatarWorkerStub(channel)
            assert stub.ping(pb.PingRequest(message="Ping"), timeout=30).message == "Pong"
    assert refuses(served.port)


def test_a_killed_serve_process_takes_its_hosted_api_down(tmp_path, engine):
    env = serve_env(tmp_path, FAASTUI_URL=engine.url)
    proc = subprocess.Popen(
        serve_command("agent", "--port", "0"),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        port = int(line.rsplit(":", 1)[1].split()[0])
        assert listener_pid(port) == engine.pid
        proc.kill()  # no chance to close it: the engine notices the owner is gone
        proc.wait(10)
        wait_for(lambda: refuses(port), "the orphaned API to close", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    events = json.loads(_get(engine.port, "/faastui/v1/events"))
    assert any(e["kind"] == "serve" and e.get("closed") == "its faastui serve process is gone" for e in events), events


def test_the_engine_stopping_ends_the_foreground_with_exit_4(tmp_path):
    with running_engine(tmp_path / "state", nodes=1) as engine:
        env = serve_env(tmp_path, FAASTUI_URL=engine.url)
        proc = subprocess.Popen(
            serve_command("agent", "--port", "0"),
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            lines = [proc.stderr.readline().strip()]
            assert lines[0].startswith("serving the agent API on http://127.0.0.1:")
            port = int(lines[0].rsplit(":", 1)[1].split()[0])
            stop_engine(engine.state_dir)
            code = proc.wait(30)
            lines += proc.stderr.read().strip().splitlines()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert code == 4, lines
    assert lines[1:] == [
        "error: the engine stopped, and the agent API with it",
        "hint: start it with `faastui up`, then serve again",
    ], lines
    assert "Traceback" not in "\n".join(lines)
    assert refuses(port)


def test_calls_in_flight_finish_when_a_hosted_api_stops(tmp_path, engine):
    env = serve_env(tmp_path, FAASTUI_URL=engine.url)
    slow = task_zip(
        **{
            "function.yaml": "apiVersion: nuclio.io/v1\nkind: NuclioFunction\nspec:\n  handler: main:handler\n",
            "main.py": "import time\n\ndef handler(context, event, session):\n"
            "    open(event.body['started'], 'w').close()\n"
            "    time.sleep(1)\n    return 'slept'\n",
        }
    )
    started = tmp_path / "started"
    answers = []
    with serving("fusionizer", env=env, stop_signal=signal.SIGTERM) as served:
        put(served.port, "slow", slow)
        caller = threading.Thread(target=lambda: answers.append(post(served.port, "slow", {"started": str(started)})))
        caller.start()
        wait_for(started.exists, "the call to be in its handler")
    caller.join(30)
    assert answers == [(200, "slept")]


@pytest.mark.parametrize(
    "spec, status, said",
    [
        ({"api": "nope", "port": 0}, 400, "no API 'nope' to serve"),
        ({"api": "agent", "port": 0, "host": "0.0.0.0"}, 400, "refusing to serve the agent API"),
        ({"api": "agent", "port": "x"}, 400, "'api' (a name) and 'port' (a number) are required"),
        ({"api": "fusionizer", "port": 0, "settings": []}, 400, "'settings' must be a JSON object"),
    ],
)
def test_the_engine_refuses_what_it_cannot_host(engine, spec, status, said):
    got, body = _post(engine.port, "/faastui/v1/serve", spec)
    assert got == status and json.loads(body)["error"].startswith(said), body


def test_a_port_in_use_is_said_as_before(tmp_path, engine):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = serve_env(tmp_path, FAASTUI_URL=engine.url)
        proc = subprocess.run(
            serve_command("fusionizer", "--port", str(port)),
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: cannot serve the fusionizer API on 127.0.0.1:{port}: the port is in use"), (
        proc.stderr
    )


def _get(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    body = conn.getresponse().read().decode()
    conn.close()
    return body


def _post(port: int, path: str, data) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", path, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    out = resp.status, resp.read().decode()
    conn.close()
    return out
