"""The Ilúvatar adapter (backends/iluvatar/), over its generated gRPC messages.

Ilúvatar's Rust worker cannot run here, so the adapter talks real gRPC over
127.0.0.1 to a strict FAKE written from the public API spec
(tests/fakes/iluvatar_worker.py). The fake encodes with its own hand-written codec
(tests/fakes/protowire.py), not with the generated code the adapter uses, so the two
cannot agree on a mistake in the .proto (tests/test_iluvatar_proto.py checks both against
upstream's field table and hand-computed bytes).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backends import registry
from backends.base import Capability
from backends.errors import (
    BackendError,
    CapacityExceeded,
    Conflict,
    FunctionNotFound,
    InvalidRequest,
    NodeNotFound,
    NotFound,
    Unreachable,
    Unsupported,
)
from backends.iluvatar import IluvatarBackend
from tests.conftest import cli, run
from tests.fakes.iluvatar_worker import FAIL_IMAGE, HELLO_IMAGE, SLEEP_IMAGE, FakeIluvatarWorker

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def worker():
    with FakeIluvatarWorker() as fake:
        yield fake
    assert not [t for t in threading.enumerate() if t.name == "fake-iluvatar-worker"]


def using(worker, coro_fn, **kwargs):
    """Run ``coro_fn(backend)`` with a fresh backend on ``worker``."""

    async def go():
        async with IluvatarBackend(worker.url, **kwargs) as backend:
            return await coro_fn(backend)

    return run(go())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- construction, registry, grpc as an extra --------------------------------------------------
def test_registry_capabilities_and_addresses():
    assert registry.load("iluvatar") is IluvatarBackend
    caps = IluvatarBackend.capabilities
    for cap in (Capability.INVOKE, Capability.INVOKE_ASYNC, Capability.PREWARM, Capability.DEPLOY):
        assert cap in caps
    for cap in (Capability.SCALE, Capability.DISPATCH, Capability.FUSE, Capability.DEPLOY_SOURCE):
        assert cap not in caps
    with pytest.raises(InvalidRequest) as missing:
        IluvatarBackend(None)
    assert "--backend iluvatar" in missing.value.hint
    for url in ("grpc://10.0.0.7:8079", "10.0.0.7:8079", "http://10.0.0.7:8079/"):
        assert IluvatarBackend(url).address == "10.0.0.7:8079"
    for bad in ("10.0.0.7", "grpc://host:port", "grpc://h:1/path"):
        with pytest.raises(InvalidRequest):
            IluvatarBackend(bad)


@pytest.mark.parametrize("missing", ["grpc", "google.protobuf"])
def test_grpc_and_protobuf_are_imported_only_when_needed_and_missing_ones_explained(missing):
    code = r"""
import asyncio, sys
import backends.iluvatar as m
print("loaded", "grpc" in sys.modules, "google.protobuf" in sys.modules)
sys.modules[MISSING] = None  # as if the extra were not installed
try:
    asyncio.run(m.IluvatarBackend("grpc://127.0.0.1:9").invoke("hello", {}))
except m.InvalidRequest as exc:
    print("error", exc.message.split(",")[0], "|", exc.hint)
""".replace("MISSING", repr(missing))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    name = {"grpc": "grpcio", "google.protobuf": "protobuf"}[missing]
    assert proc.stdout.splitlines() == [
        "loaded False False",
        f"error the iluvatar backend needs {name} | pip install 'faastui[iluvatar]'",
    ]


# ---- registration ------------------------------------------------------------------------------
def test_register_and_deploy(worker, tmp_path):
    pkg = tmp_path / "sleeper"
    pkg.mkdir()
    (pkg / "function.yaml").write_text(f"version: 2\nimage: {SLEEP_IMAGE}\nmemory: 64Mi\ncpus: 0.5\n")

    async def go(b):
        hello = await b.register("hello", HELLO_IMAGE, 128, cpus=2)
        sleeper = await b.deploy(str(pkg))
        return hello, sleeper, await b.functions(), await b.describe("sleeper"), await b.describe("sleeper@2")

    hello, sleeper, functions, by_name, by_pair = using(worker, go)
    assert (hello.name, hello.image, hello.memory_mb, hello.cpus) == ("hello-1", HELLO_IMAGE, 128, 2)
    assert (sleeper.name, sleeper.memory_mb, sleeper.cpus) == ("sleeper-2", 64, 1)
    assert sleeper.labels == {"function_name": "sleeper", "function_version": "2"}
    assert [(f.name, f.image, f.replicas) for f in functions] == [
        ("hello-1", HELLO_IMAGE, 0),
        ("sleeper-2", SLEEP_IMAGE, 0),
    ]
    assert by_name.name == by_pair.name == "sleeper-2"
    # a fresh client learns the registrations from the worker
    listed = using(worker, lambda b: b.functions())
    assert [f.name for f in listed] == ["hello-1", "sleeper-2"]


def test_bad_registrations_are_refused(worker, tmp_path):
    (tmp_path / "function.yaml").write_text("name: noimage\nmemory: 64\n")

    async def go(b):
        await b.register("hello", HELLO_IMAGE, 128)
        errors = {}
        for label, call in {
            "memory": lambda: b.register("m", HELLO_IMAGE, 0),
            "cpus": lambda: b.register("c", HELLO_IMAGE, 64, cpus=0),
            "parallel": lambda: b.register("p", HELLO_IMAGE, 64, parallel=2),
            "empty image": lambda: b.register("e", "", 64),
            "unknown image": lambda: b.register("u", "docker.io/nobody/nothing:1", 64),
            "slash": lambda: b.register("a/b", HELLO_IMAGE, 64),
            "duplicate": lambda: b.register("hello", HELLO_IMAGE, 256),
            "isolation": lambda: b.register("i", HELLO_IMAGE, 64, isolation="firecracker"),
            "no image in yaml": lambda: b.deploy(str(tmp_path)),
            "zip": lambda: b.deploy(b"PK\x03\x04"),
        }.items():
            with pytest.raises((InvalidRequest, Conflict)) as info:
                await call()
            errors[label] = info.value
        return errors, await b.functions()

    errors, functions = using(worker, go)
    assert "Illegal memory allocation request '0'" in errors["memory"].message
    assert "Illegal cpu allocation request '0'" in errors["cpus"].message
    assert "must be 1" in errors["parallel"].message
    assert "Failed to pull image ''" in errors["empty image"].message
    assert "nobody/nothing" in errors["unknown image"].message
    assert "Illegal characters" in errors["slash"].message
    assert isinstance(errors["duplicate"], Conflict) and "bump `version`" in errors["duplicate"].hint
    assert all(isinstance(e, InvalidRequest) for k, e in errors.items() if k != "duplicate")
    assert "image" in errors["no image in yaml"].hint
    assert [f.name for f in functions] == ["hello-1"]
    assert worker.calls.count("register") == 8  # yaml, zip and isolation were refused here


# ---- invoke ------------------------------------------------------------------------------------
def test_invoke_cold_then_warm(worker):
    async def go(b):
        await b.register("hello", HELLO_IMAGE, 128)
        return [await b.invoke("hello", {"name": n}) for n in ("Ada", "Bob")]

    cold, warm = using(worker, go)
    assert (cold.status, cold.result, cold.container_state) == ("ok", {"greeting": "Hello Ada"}, "cold")
    assert (warm.status, warm.result, warm.container_state) == ("ok", {"greeting": "Hello Bob"}, "warm")
    assert cold.function == warm.function == "hello-1" and cold.node == worker.address
    assert cold.cold_start_ms >= 40 > warm.cold_start_ms == 0  # the fake starts in 50 ms
    assert cold.duration_ms >= 1 and warm.duration_ms >= 1  # 2 ms worker -> container
    assert cold.overhead_ms >= cold.cold_start_ms
    assert cold.call_id != warm.call_id and cold.started_at <= cold.ended_at <= warm.started_at
    assert worker.containers("hello-1") == ["warm"]


def test_payload_forms_and_function_errors(worker):
    async def go(b):
        await b.register("hello", HELLO_IMAGE, 64)
        await b.register("fail", FAIL_IMAGE, 64)
        return (
            await b.invoke("hello", None),
            await b.invoke("hello", '{"name": "text"}'),
            await b.invoke("hello", b'{"name": "bytes"}'),
            await b.invoke("fail", {"message": "it broke"}),
        )

    none, text, raw, failed = using(worker, go)
    assert none.result == {"greeting": "Hello stranger"}
    assert text.result == {"greeting": "Hello text"} and raw.result == {"greeting": "Hello bytes"}
    assert (failed.status, failed.error, failed.result) == ("error", "it broke", None)


def test_unknown_functions_nodes_and_versions(worker):
    async def go(b):
        await b.register("hello", HELLO_IMAGE, 64)
        with pytest.raises(FunctionNotFound) as typo:
            await b.invoke("helo", {})
        with pytest.raises(FunctionNotFound) as by_worker:  # explicit version: the worker says no
            await b.invoke("hello@9", {})
        with pytest.raises(NodeNotFound) as node:
            await b.invoke("hello", {}, node="node-1")
        await b.register("hello", HELLO_IMAGE, 64, version="2")
        with pytest.raises(InvalidRequest) as ambiguous:
            await b.invoke("hello", {})
        second = await b.invoke("hello-2", {"name": "v2"})
        on_node = await b.invoke("hello-1", {}, node=worker.address)
        return typo.value, by_worker.value, node.value, ambiguous.value, second, on_node

    typo, by_worker, node, ambiguous, second, on_node = using(worker, go)
    assert "'helo'" in typo.message and typo.hint == "did you mean 'hello'?"
    assert "'hello-9' is not registered" in by_worker.message
    assert worker.address in node.hint
    assert "versions 1, 2" in ambiguous.message
    assert second.function == "hello-2" and on_node.status == "ok"


def test_an_older_worker_without_list_registered_funcs():
    with FakeIluvatarWorker(with_list=False) as old:

        async def first(b):
            await b.register("hello", HELLO_IMAGE, 64)
            return await b.functions(), await b.invoke("hello", {"name": "old"})

        mine, called = using(old, first)

        async def second(b):
            with pytest.raises(FunctionNotFound):
                await b.invoke("nope", {})
            return await b.functions(), await b.invoke("hello-1", {})

        theirs, again = using(old, second)
    assert [f.name for f in mine] == ["hello-1"] and called.result == {"greeting": "Hello old"}
    assert theirs == [] and again.container_state == "warm"


# ---- prewarm and memory ------------------------------------------------------------------------
def test_prewarm_then_invoke_reports_prewarm(worker):
    async def go(b):
        await b.register("hello", HELLO_IMAGE, 128)
        started = await b.prewarm("hello", worker.address, count=2)
        states_after_prewarm = worker.containers("hello-1")
        call = await b.invoke("hello", {"name": "P"})
        with pytest.raises(NodeNotFound):
            await b.prewarm("hello", "elsewhere")
        with pytest.raises(FunctionNotFound):
            await b.prewarm("nope", worker.address)
        with pytest.raises(InvalidRequest):
            await b.prewarm("hello", worker.address, count=0)
        return started, states_after_prewarm, call, await b.snapshot()

    started, states, call, snap = using(worker, go)
    assert [s.container_state for s in started] == ["prewarm", "prewarm"]
    assert all(s.cold_start_ms >= 40 and s.node == worker.address for s in started)
    assert states == ["prewarm", "prewarm"]
    assert (call.container_state, call.cold_start_ms, call.status) == ("prewarm", 0, "ok")
    assert worker.containers("hello-1") == ["warm", "prewarm"]
    assert {(p.state, p.count) for p in snap.placements} == {("prewarm", 1), ("warm", 1)}


def test_memory_is_a_hard_limit():
    with FakeIluvatarWorker(memory_mb=300) as small:

        async def go(b):
            await b.register("big", SLEEP_IMAGE, 200)
            await b.register("other", HELLO_IMAGE, 200)
            with pytest.raises(CapacityExceeded) as prewarm:
                await b.prewarm("big", small.address, count=2)
            with pytest.raises(CapacityExceeded) as cold:  # needs a second 200 MB container
                await b.invoke("other", {})
            return prewarm.value, cold.value, await b.invoke("big", {"ms": 5})

        prewarm, cold, fits = using(small, go)
        assert small.containers() == ["warm"] and small.used_memory() == 200
    assert "Not enough memory" in prewarm.message and "1 of 2" in prewarm.message
    assert "other-1" in cold.message
    assert (fits.container_state, fits.result) == ("prewarm", {"slept_ms": 5})


# ---- async -------------------------------------------------------------------------------------
def test_async_invoke_pending_then_ok(worker):
    async def go(b):
        await b.register("hello", HELLO_IMAGE, 64)
        worker.hold_async()
        call_id = await b.invoke_async("hello", {"name": "later"})
        pending = await b.result(call_id)
        worker.release_async()
        done = await b.result(call_id, wait=5)
        again = await b.result(call_id)
        with pytest.raises(NotFound):
            await b.result("no-such-cookie")
        with pytest.raises(FunctionNotFound):
            await b.invoke_async("nope", {})
        await b.register("fail", FAIL_IMAGE, 64)
        failed = await b.result(await b.invoke_async("fail", {"message": "late"}), wait=5)
        assert (failed.status, failed.error, failed.function) == ("error", "late", "fail-1")
        return call_id, pending, done, again

    call_id, pending, done, again = using(worker, go)
    assert (pending.status, pending.call_id, pending.function) == ("pending", call_id, "hello-1")
    assert (done.status, done.result, done.container_state) == ("ok", {"greeting": "Hello later"}, "cold")
    assert again == done and done.ended_at >= done.started_at > 0

    async def elsewhere(b):  # the worker handed the result out once
        with pytest.raises(NotFound) as info:
            await b.result(call_id)
        return info.value

    assert "once" in using(worker, elsewhere).hint


# ---- reachability, odd replies, snapshot ------------------------------------------------------
def test_values_out_of_range_are_refused_before_sending(worker):
    async def go(b):
        with pytest.raises(InvalidRequest) as info:
            await b.register("hello", HELLO_IMAGE, 64, cpus=-1)
        return info.value

    assert "cannot send this RegisterRequest: Value out of range: -1" in using(worker, go).message
    assert "register" not in worker.calls


def test_a_server_that_is_not_an_iluvatar_worker():
    import grpc
    import grpc.aio

    async def go():
        async def garbled(request, context):
            return b"\x0b"  # a group: no proto3 message has one

        server = grpc.aio.server()
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "iluvatar_rpc.IluvatarWorker", {"health": grpc.unary_unary_rpc_method_handler(garbled)}
                ),
            )
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with IluvatarBackend(f"127.0.0.1:{port}") as b:
                with pytest.raises(BackendError) as unreadable:
                    await b.nodes()
                with pytest.raises(Unsupported):  # no prewarm method there
                    await b.prewarm("x@1", None)
                return unreadable.value, await b.functions()
        finally:
            await server.stop(None)

    unreadable, functions = run(go())
    assert "not an Ilúvatar message" in unreadable.message and functions == []


def test_unreachable_worker_fails_fast():
    url = f"grpc://127.0.0.1:{free_port()}"

    async def go():
        async with IluvatarBackend(url) as b:
            for call in (b.snapshot, lambda: b.invoke("hello-1", {}), b.nodes):
                with pytest.raises(Unreachable) as info:
                    await call()
        return info.value

    t0 = time.monotonic()
    error = run(go())
    assert time.monotonic() - t0 < 5
    assert error.exit_code == 4 and "does not answer" in error.message


def test_snapshot_content(worker):
    async def go(b):
        await b.register("hello", HELLO_IMAGE, 128)
        await b.register("fail", FAIL_IMAGE, 64)
        await b.invoke("hello", {"name": "a"})
        await b.invoke("hello", {"name": "b"})
        await b.invoke("fail", {})
        await b.prewarm("hello", worker.address)
        snap = await b.snapshot()
        worker.healthy = False
        sick = await b.nodes()
        with pytest.raises(Unsupported):
            await b.remove("hello")
        return snap, sick, await b.invocations(limit=2)

    snap, sick, latest = using(worker, go)
    (node,) = snap.nodes
    assert (node.name, node.address, node.ready) == (worker.address, worker.address, True)
    # the current StatusResponse: percentages and the worker's name, read field by field
    assert worker.used_memory() == 128 * 2 + 64
    assert node.labels == {
        "kind": "iluvatar-worker",
        "cpu_queue_len": "0",
        "gpu_queue_len": "0",
        "running": "0",
        "used_mem_pct": f"{100 * 320 / 1024:.1f}",
        "cpu_util": "6.0",
        "cpu_load_avg": "0.25",
        "worker_name": "fake-worker",
    }
    assert (node.cpus, node.memory_mb) == (0.0, 0.0)  # that schema tells no sizes
    assert node.containers == 3 and sick[0].ready is False
    assert [(f.name, f.invocations, f.replicas) for f in snap.functions] == [("fail-1", 1, 1), ("hello-1", 2, 2)]
    assert sorted((p.function, p.state, p.count) for p in snap.placements) == [
        ("fail-1", "warm", 1),
        ("hello-1", "prewarm", 1),
        ("hello-1", "warm", 1),
    ]
    qos = {q.subject: q for q in snap.qos}
    assert (qos["hello-1"].count, qos["hello-1"].errors, qos["hello-1"].cold_ratio) == (2, 0, 0.5)
    assert 0 < qos["hello-1"].p50_ms <= qos["hello-1"].p95_ms <= qos["hello-1"].p99_ms
    assert (qos["fail-1"].count, qos["fail-1"].errors) == (1, 1)
    assert snap.errors == [] and snap.queues == [] and snap.taken_at > 0
    assert [i.function for i in latest] == ["fail-1", "hello-1"] and latest[1].result is None


# ---- the CLI, end to end -----------------------------------------------------------------------
def test_cli_end_to_end(worker, tmp_path):
    pkg = tmp_path / "hello"
    pkg.mkdir()
    (pkg / "function.yaml").write_text(f"name: hello\nimage: {HELLO_IMAGE}\nmemory: 128\n")
    cli("context", "add", "ilu", "--backend", "iluvatar", "--url", worker.url)
    ilu = ("--context", "ilu")

    assert "deployed hello-1" in cli(*ilu, "deploy", str(pkg)).stderr
    called = json.loads(cli(*ilu, "invoke", "hello", "-d", '{"name": "x"}', "-o", "json").stdout)
    assert (called["status"], called["result"], called["function"], called["container_state"]) == (
        "ok",
        {"greeting": "Hello x"},
        "hello-1",
        "cold",
    )
    plain = cli(*ilu, "invoke", "hello-1", "-d", '{"name": "y"}')
    assert json.loads(plain.stdout) == {"greeting": "Hello y"}
    functions = json.loads(cli(*ilu, "functions", "-o", "json").stdout)
    assert [(f["name"], f["image"]) for f in functions] == [("hello-1", HELLO_IMAGE)]
    nodes = json.loads(cli(*ilu, "nodes", "-o", "json").stdout)
    assert [(n["name"], n["ready"], n["labels"]["worker_name"]) for n in nodes] == [
        (worker.address, True, "fake-worker")
    ]
    prewarmed = json.loads(cli(*ilu, "prewarm", "hello", "--node", worker.address, "-o", "json").stdout)
    assert [p["container_state"] for p in prewarmed] == ["prewarm"]
    assert worker.containers("hello-1") == ["warm", "prewarm"]

    call_id = cli(*ilu, "invoke", "hello", "-d", '{"name": "z"}', "--async").stdout.strip()
    done = json.loads(cli(*ilu, "result", call_id, "--wait", "-o", "json").stdout)
    assert (done["status"], done["result"], done["container_state"]) == ("ok", {"greeting": "Hello z"}, "prewarm")

    missing = cli(*ilu, "invoke", "helo", code=1)
    assert "error: function 'helo' is not registered" in missing.stderr
    assert "did you mean 'hello'?" in missing.stderr
    cli(*ilu, "prewarm", "hello", "--node", "node-9", code=1)
    cli(*ilu, "rm", "hello-1", code=3)
    cli("context", "add", "gone", "--backend", "iluvatar", "--url", f"127.0.0.1:{free_port()}")
    assert "does not answer" in cli("--context", "gone", "functions", code=4).stderr
