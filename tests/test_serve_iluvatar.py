"""``faastui serve iluvatar``: the Ilúvatar worker's gRPC service over the real engine, called
the way upstream's clients call it: stubs generated from the .proto, every rpc, with its
states (COLD / PREWARM / WARM as the call found the container), the async cookie's life, the
platform's errors; and with the fake worker's own hand-written codec (tests/fakes/protowire.py)
as a second client, so what goes on the wire is checked apart from the generated code."""

from __future__ import annotations

import json
import re
import time

import grpc
import pytest

from backends.iluvatar import IluvatarBackend
from backends.iluvatar.rpc import iluvatar_rpc_pb2 as pb
from backends.iluvatar.rpc import iluvatar_rpc_pb2_grpc as pb_grpc
from tests.conftest import FUNCTIONS, run, running_engine
from tests.fakes import protowire as pw
from tests.serving import serve_env, serving

SOURCES = {
    # Ilúvatar's own contract: main(args: dict) returning a JSON-serialisable value
    "greet": "def main(args):\n    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n",
    "fails": "def main(args):\n    raise ValueError('it broke: ' + str(args.get('why')))\n",
    # waits for a file the test creates: an async call the test can see pending, no clock race
    "gated": (
        "import os, time\n\ndef main(args):\n    end = time.time() + 20\n"
        "    while not os.path.exists(args['gate']) and time.time() < end:\n"
        "        time.sleep(0.01)\n    return {'opened': os.path.exists(args['gate'])}\n"
    ),
    "texty": "def main(args):\n    return 'plain ' + str(args.get('n'))\n",
}
#: an Ilúvatar user's function folder, deployed as is: main.py, and the image it is known by
ILUVATAR_IMAGE = "docker.io/alfuerst/hello-iluvatar-action:latest"
ILUVATAR_MAIN = "def main(args):\n    return {'greeting': f\"Hello {args.get('name', 'stranger')} from python!\"}\n"
COOKIE = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    """``faastui serve iluvatar`` over a real engine with the functions deployed."""
    tmp = tmp_path_factory.mktemp("serve-iluvatar")
    with running_engine(tmp / "state", nodes=1) as engine:

        async def deploy():
            async with engine.backend() as b:
                await b.deploy(FUNCTIONS / "hello")  # image faastui/hello:latest
                folder = tmp / "hello-iluvatar"
                folder.mkdir()
                (folder / "main.py").write_text(ILUVATAR_MAIN)
                (folder / "function.yaml").write_text(
                    f"name: hello-iluvatar\nhandler: main:main\nimage: {ILUVATAR_IMAGE}\n"
                )
                await b.deploy(folder)
                for name, source in SOURCES.items():
                    await b.deploy_source(source, name=name)

        run(deploy())
        with serving("iluvatar", env=serve_env(tmp, FAASTUI_URL=engine.url)) as served:
            with grpc.insecure_channel(served.address) as channel:
                served.stub = pb_grpc.IluvatarWorkerStub(channel)
                served.channel = channel
                served.tmp = tmp
                yield served


def register(stub, name, image, version="1"):
    return stub.register(
        pb.RegisterRequest(
            function_name=name,
            function_version=version,
            image_name=image,
            memory=128,
            cpus=1,
            parallel_invokes=1,
            isolate=1,
            compute=1,
            transaction_id="t",
        ),
        timeout=60,
    )


def invoke(stub, name, args, version="1"):
    return stub.invoke(
        pb.InvokeRequest(function_name=name, function_version=version, json_args=args, transaction_id="t"), timeout=60
    )


ERROR, COLD, PREWARM, WARM = (pb.ContainerState.Value(n) for n in ("ERROR", "COLD", "PREWARM", "WARM"))


def test_ping(worker):
    assert worker.stub.ping(pb.PingRequest(message="Ping", transaction_id="t"), timeout=30).message == "Pong"


def test_register_by_name_or_by_image(worker):
    ok = register(worker.stub, "greet", "greet")
    assert (ok.success, ok.fqdn, ok.error) == (True, "greet-1", "")
    # Docker's reference rules: faastui/hello is docker.io/faastui/hello:latest
    by_image = register(worker.stub, "hello", "docker.io/faastui/hello:latest", version="7")
    assert (by_image.success, by_image.fqdn) == (True, "hello-7")
    for name, version, image, reason in (
        ("greet", "1", "greet", "Function greet-1 is already registered!"),
        ("", "1", "greet", "Invalid function name"),
        ("x", "", "greet", "Invalid function version"),
        ("a/b", "1", "greet", "Illegal characters in function name: cannot container any \\,/"),
        ("x", "1", "", "image_name is empty: "),
        (
            "x",
            "1",
            "docker.io/nobody/nothing:1",
            "no function on the local backend is named 'docker.io/nobody/nothing:1' or has that image",
        ),
    ):
        refused = register(worker.stub, name, image, version)
        assert (refused.success, refused.fqdn) == (False, "") and refused.error.startswith(reason), refused.error
    listed = worker.stub.list_registered_funcs(pb.ListFunctionRequest(transaction_id="t"), timeout=30)
    found = {(f.function_name, f.function_version, f.image_name) for f in listed.functions}
    assert {("greet", "1", "greet"), ("hello", "7", "docker.io/faastui/hello:latest")} <= found


def test_an_iluvatar_users_register_and_invoke_lines(worker):
    """`ilúvatar_worker_cli --port 8079 register --name myfunc --version 1 --memory 512 --cpu 1
    --image docker.io/alfuerst/hello-iluvatar-action:latest` and `invoke -a name=Alex`, as
    its stubs send them; the image matches by Docker's rules, however it is written."""
    for version, image in (
        ("1", ILUVATAR_IMAGE),
        ("2", "alfuerst/hello-iluvatar-action"),
        ("3", "index.docker.io/alfuerst/hello-iluvatar-action:latest"),
    ):
        assert register(worker.stub, "myfunc", image, version=version).success
    other_tag = register(worker.stub, "myfunc", "alfuerst/hello-iluvatar-action:v2", version="4")
    assert not other_tag.success  # another tag is another image
    answer = invoke(worker.stub, "myfunc", json.dumps({"name": "Alex"}), version="2")
    assert json.loads(answer.json_result) == {"greeting": "Hello Alex from python!"}


def test_invoke_cold_then_warm_with_the_json_text_of_the_result(worker):
    register(worker.stub, "texty", "texty")
    first = invoke(worker.stub, "texty", '{"n": 1}')
    second = invoke(worker.stub, "texty", '{"n": 2}')
    assert (first.success, json.loads(first.json_result), first.container_state) == (True, "plain 1", COLD)
    assert (second.success, second.json_result, second.container_state) == (True, '"plain 2"', WARM)
    assert first.compute == second.compute == 1 and first.duration_us > 0 and second.duration_us > 0
    register(worker.stub, "hello", "faastui/hello", version="2")
    hello = invoke(worker.stub, "hello", '{"name": "Ada"}', version="2")
    assert json.loads(hello.json_result) == {"message": "Hello, Ada!"}


def test_prewarm_then_the_call_finds_the_prewarmed_container(worker):
    register(worker.stub, "greet", "greet", version="pw")
    warmed = worker.stub.prewarm(
        pb.PrewarmRequest(function_name="greet", function_version="pw", transaction_id="t", compute=1), timeout=60
    )
    assert (warmed.success, warmed.message) == (True, "")
    call = invoke(worker.stub, "greet", '{"name": "pre"}', version="pw")
    assert (call.container_state, json.loads(call.json_result)) == (PREWARM, {"greeting": "Hello pre"})
    assert invoke(worker.stub, "greet", "{}", version="pw").container_state == WARM
    unknown = worker.stub.prewarm(pb.PrewarmRequest(function_name="nope", function_version="1"), timeout=30)
    assert (unknown.success, unknown.message) == (False, '{ "Error": "Function was not registered" }')


def test_platform_errors_and_the_functions_own(worker):
    missing = invoke(worker.stub, "nope", "{}")
    assert (missing.success, missing.json_result, missing.duration_us, missing.container_state) == (
        False,
        '{ "Error": "Function was not registered" }',
        0,
        ERROR,
    )
    register(worker.stub, "fails", "fails")
    raised = invoke(worker.stub, "fails", '{"why": "x"}')
    # the user code's exception: success, with its own text (as the worker answers)
    assert raised.success and "it broke: x" in raised.json_result and raised.container_state in (COLD, WARM)


@pytest.mark.parametrize("args", ['{"name": ', "not json", "{'single': 1}"])
def test_malformed_json_args_is_a_platform_error_and_the_server_keeps_serving(worker, args):
    register(worker.stub, "greet", "greet", version=f"bad{len(args)}")
    bad = invoke(worker.stub, "greet", args, version=f"bad{len(args)}")
    assert (bad.success, bad.container_state, bad.duration_us) == (False, ERROR, 0)
    assert bad.json_result.startswith('{ "Error": "json_args is not valid JSON: ')
    assert json.loads(bad.json_result)["Error"]  # still JSON itself
    ok = invoke(worker.stub, "greet", '{"name": "after"}', version=f"bad{len(args)}")
    assert ok.success and json.loads(ok.json_result) == {"greeting": "Hello after"}


def test_async_cookie_lifecycle(worker):
    register(worker.stub, "gated", "gated")
    gate = worker.tmp / "gate-open"
    started = worker.stub.invoke_async(
        pb.InvokeAsyncRequest(
            function_name="gated", function_version="1", json_args=json.dumps({"gate": str(gate)}), transaction_id="t"
        ),
        timeout=30,
    )
    assert started.success and COOKIE.match(started.lookup_cookie), started.lookup_cookie
    check = pb.InvokeAsyncLookupRequest(lookup_cookie=started.lookup_cookie, transaction_id="t")
    pending = worker.stub.invoke_async_check(check, timeout=30)
    assert (pending.success, pending.json_result) == (False, '{ "Status": "Invocation not completed" }')
    gate.write_text("open")
    deadline = time.monotonic() + 30
    while True:
        done = worker.stub.invoke_async_check(check, timeout=30)
        if done.success or time.monotonic() > deadline:
            break
        assert done.json_result == '{ "Status": "Invocation not completed" }'
        time.sleep(0.02)
    assert (done.success, json.loads(done.json_result), done.container_state) == (True, {"opened": True}, COLD)
    # handed out once
    again = worker.stub.invoke_async_check(check, timeout=30)
    assert (again.success, again.json_result) == (False, '{ "Error": "Invocation not found" }')
    unknown = worker.stub.invoke_async_check(pb.InvokeAsyncLookupRequest(lookup_cookie="NOPE"), timeout=30)
    assert unknown.json_result == '{ "Error": "Invocation not found" }'
    refused = worker.stub.invoke_async(pb.InvokeAsyncRequest(function_name="nope", function_version="1"), timeout=30)
    assert (refused.success, refused.lookup_cookie) == (False, "")


def test_status_health_estimates_clean(worker):
    register(worker.stub, "greet", "greet", version="st")
    invoke(worker.stub, "greet", "{}", version="st")
    status = worker.stub.status(pb.StatusRequest(transaction_id="t"), timeout=30)
    assert status.worker_name == "local" and abs(status.timestamp - time.time()) < 120
    assert 0 < status.used_mem_pct <= 100  # warm containers hold memory on the node
    assert 0 <= status.cpu_util <= 100 and status.gpu_queue_len == 0 and status.gpu_load_avg == 0
    assert status.cpu_queue_len == 0 and status.num_running_funcs == 0  # nothing in flight
    health = worker.stub.health(pb.HealthRequest(transaction_id="t"), timeout=30)
    assert health.status == pb.RpcHealthStatus.Value("HEALTHY")
    est = worker.stub.est_invoke_time(pb.EstInvokeRequest(fqdns=["greet-st", "nope-1"]), timeout=30)
    assert len(est.est_time) == 2 and est.est_time[0] > 0 and est.est_time[1] == 0.0
    assert worker.stub.clean(pb.CleanRequest(transaction_id="t"), timeout=60) == pb.CleanResponse()
    assert invoke(worker.stub, "greet", "{}", version="st").success  # still serving after clean


def test_the_wire_read_with_the_fakes_own_codec(worker):
    """Upstream's bytes, read without the generated code: field numbers are upstream's."""
    register(worker.stub, "greet", "greet", version="wire")

    def raw(method: str, request: pw.Message, response: type):
        call = worker.channel.unary_unary(
            f"/iluvatar_rpc.IluvatarWorker/{method}",
            request_serializer=pw.Message.encode,
            response_deserializer=response.decode,
        )
        return call(request, timeout=60)

    done = raw("invoke", pw.InvokeRequest("greet", "wire", '{"name": "wire"}', "t"), pw.InvokeResponse)
    assert (done.success, json.loads(done.json_result), done.compute) == (True, {"greeting": "Hello wire"}, 1)
    assert done.container_state in (pw.ContainerState.COLD, pw.ContainerState.WARM) and done.duration_us > 0
    status = raw("status", pw.StatusRequest("t"), pw.StatusResponse)
    assert status.worker_name == "local" and status.timestamp > 0 and status.used_mem_pct > 0
    listed = raw("list_registered_funcs", pw.ListFunctionRequest("t"), pw.ListFunctionResponse)
    assert pw.RegisteredFunction("greet", "wire", "greet") in listed.functions


def test_faastuis_own_iluvatar_backend_drives_it(worker):
    """The client backend (`faastui --context ilu ...`) over `faastui serve iluvatar`."""

    async def go():
        async with IluvatarBackend(worker.url) as b:
            fn = await b.register("greet", "greet", 128, version="cli")
            first = await b.invoke("greet@cli", {"name": "cli"})
            call_id = await b.invoke_async("greet-cli", {"name": "later"})
            later = await b.result(call_id, wait=30)
            return fn, first, later, await b.nodes(), await b.functions()

    fn, first, later, nodes, functions = run(go())
    assert fn.name == "greet-cli" and first.status == "ok" and first.result == {"greeting": "Hello cli"}
    assert (later.status, later.result) == ("ok", {"greeting": "Hello later"})
    assert nodes[0].ready and nodes[0].labels["worker_name"] == "local"
    assert "greet-cli" in {f.name for f in functions}


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("fn", "docker.io/library/fn:latest", True),
        ("library/fn:latest", "index.docker.io/library/fn", True),
        ("alfuerst/x", "docker.io/alfuerst/x:latest", True),
        ("fn:1", "fn", False),
        ("ghcr.io/x/fn", "x/fn", False),
        ("localhost:5000/fn", "localhost:5000/fn:latest", True),
        ("reg:5000/a/b:t", "reg:5000/a/b:t", True),
        ("fn@sha256:abc", "docker.io/library/fn@sha256:abc", True),
        ("", "", False),
    ],
)
def test_image_references_compare_by_dockers_rules(a, b, same):
    from faastui.serve._images import same_image

    assert same_image(a, b) is same and same_image(b, a) is same
