"""The OpenFaaS and Invokers adapters against a real gateway: the embedded engine,
which implements both APIs (real daemon, real HTTP). Not a fake."""

from __future__ import annotations

import pytest

from backends import registry
from backends.base import Capability
from backends.errors import FunctionNotFound, InvalidRequest, NodeNotFound, Unreachable, Unsupported
from backends.invokers import InvokersBackend
from backends.model import DispatchStep
from backends.openfaas import OpenFaaSBackend
from tests.conftest import run


def with_backend(cls, url, coro_fn, **kw):
    async def go():
        async with cls(url, **kw) as b:
            return await coro_fn(b)

    return run(go())


def test_registry_lists_and_loads_the_adapters():
    assert {"local", "openfaas", "invokers"} <= set(registry.available())
    assert registry.load("openfaas") is OpenFaaSBackend
    assert registry.load("invokers") is InvokersBackend


def test_openfaas_reads_and_invoke(engine):
    async def go(b):
        fns = await b.functions()
        hello = await b.describe("hello")
        inv = await b.invoke("hello", {"name": "OF"})
        snap = await b.snapshot()
        return fns, hello, inv, snap

    fns, hello, inv, snap = with_backend(OpenFaaSBackend, engine.url, go)
    assert "hello" in {f.name for f in fns}
    assert hello.memory_mb == 64 and hello.image == "faastui/hello:latest"
    assert inv.status == "ok" and inv.result == {"message": "Hello, OF!"} and inv.duration_ms > 0
    assert snap.nodes == [] and any(p.function == "hello" for p in snap.placements)


def test_openfaas_function_errors_and_unknowns(engine):
    async def go(b):
        failed = await b.invoke("crash", {"mode": "raise"})
        with pytest.raises(FunctionNotFound):
            await b.invoke("nope", {})
        with pytest.raises(Unsupported):
            await b.invoke("hello", {}, node="node-1")
        with pytest.raises(Unsupported):
            await b.prewarm("hello", "node-1")
        return failed

    failed = with_backend(OpenFaaSBackend, engine.url, go)
    assert failed.status == "error" and "asked to raise" in failed.error


def test_openfaas_async_scale_deploy_remove(engine, tmp_path):
    pkg = tmp_path / "of-hello"
    pkg.mkdir()
    (pkg / "function.yaml").write_text("name: of-hello\nimage: hello\nmemory: 64\n")

    async def go(b):
        call_id = await b.invoke_async("hello", {"name": "async"})
        deployed = await b.deploy(pkg)
        called = await b.invoke("of-hello", {"name": "deployed"})
        scaled = await b.scale("of-hello", 2)
        await b.remove("of-hello")
        with pytest.raises(FunctionNotFound):
            await b.describe("of-hello")
        return call_id, deployed, called, scaled

    call_id, deployed, called, scaled = with_backend(OpenFaaSBackend, engine.url, go)
    assert call_id
    assert deployed.name == "of-hello" and called.result == {"message": "Hello, deployed!"}
    assert scaled.available_replicas == 2


def test_openfaas_deploy_needs_an_image(engine, tmp_path):
    (tmp_path / "function.yaml").write_text("name: no-image\n")
    with pytest.raises(InvalidRequest):
        with_backend(OpenFaaSBackend, engine.url, lambda b: b.deploy(tmp_path))


def test_openfaas_unreachable_and_missing_url():
    with pytest.raises(Unreachable):
        with_backend(OpenFaaSBackend, "http://127.0.0.1:9", lambda b: b.functions())
    with pytest.raises(InvalidRequest):
        OpenFaaSBackend(None)


def test_invokers_nodes_prewarm_dispatch(engine):
    async def go(b):
        nodes = await b.nodes()
        warmed = await b.prewarm("echo", "node-2", 1)
        on_node = await b.invoke("echo", "hi", node="node-2")
        chain = await b.dispatch(
            {"v": 1}, [DispatchStep("node-1", "json-transformer"), DispatchStep("node-3", "json-transformer")]
        )
        fan = await b.dispatch(
            {"numbers": [3]},
            [DispatchStep("node-1", "data-processor"), DispatchStep("node-2", "data-processor")],
            mode="fanout",
        )
        with pytest.raises(NodeNotFound):
            await b.prewarm("echo", "node-99")
        return nodes, warmed, on_node, chain, fan

    nodes, warmed, on_node, chain, fan = with_backend(InvokersBackend, engine.url, go)
    assert [n.name for n in nodes] == ["node-1", "node-2", "node-3"]
    assert warmed[0].node == "node-2" and warmed[0].cold_start_ms > 0
    assert on_node.node == "node-2" and on_node.result == "hi"
    assert chain.output == {"V": 4} and [s.node for s in chain.steps] == ["node-1", "node-3"]
    assert all(s.duration_ms > 0 and s.ended_at >= s.started_at for s in chain.steps)
    assert fan.output == [{"count": 1, "sum": 3, "average": 3.0}] * 2
    assert Capability.DISPATCH in InvokersBackend.capabilities
    assert Capability.DISPATCH not in OpenFaaSBackend.capabilities
