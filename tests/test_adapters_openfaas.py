"""The OpenFaaS adapter's namespaces, secrets and logs: against a FAKE multi-namespace gateway
(tests/fakes/openfaas_ns_gateway.py: OpenFaaS cannot run here, and the engine has one
namespace) and against the real engine's own /system/secrets and /system/logs.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from backends.base import Capability
from backends.errors import Conflict, FunctionNotFound, InvalidRequest, NotFound
from backends.openfaas import OpenFaaSBackend
from tests.conftest import cli, run
from tests.fakes.openfaas_ns_gateway import DEFAULT_NS, fake_gateway


@pytest.fixture()
def gw():
    with fake_gateway(namespaces=("dev",)) as fake:
        fake.add("hello")
        fake.add("hello", "dev", labels={"team": "dev"})
        fake.add("only-dev", "dev")
        yield fake


@pytest.fixture()
def of_ctx(gw):
    cli("context", "add", "of", "--backend", "openfaas", "--url", gw.url, "--password-stdin",
        "--use", input=gw.password + "\n")
    return gw


def _b(gw, **kw) -> OpenFaaSBackend:
    return OpenFaaSBackend(gw.url, password=gw.password, **kw)


def test_openfaas_has_namespaces_secrets_and_logs():
    for cap in (Capability.NAMESPACES, Capability.SECRETS, Capability.LOGS):
        assert cap in OpenFaaSBackend.capabilities


def test_every_route_names_the_namespace(gw):
    async def go():
        async with _b(gw, namespace="dev") as b:
            names = [f.name for f in await b.functions()]
            hello = await b.describe("hello")
            inv = await b.invoke("hello", {"x": 1})
            await b.scale("only-dev", 3)
            scaled = await b.describe("only-dev")
            await b.remove("only-dev")
            with pytest.raises(FunctionNotFound):
                await b.invoke("only-dev", {})
            spaces = await b.namespaces()
        async with _b(gw) as default:
            mine = [f.name for f in await default.functions()]
            with pytest.raises(NotFound):
                await default.describe("only-dev")
            plain = await default.invoke("hello", "hi")
        return names, hello, inv, scaled, spaces, mine, plain
    names, hello, inv, scaled, spaces, mine, plain = run(go())
    assert names == ["hello", "only-dev"] and mine == ["hello"]
    assert hello.labels == {"team": "dev"}
    assert inv.result == {"function": "hello", "namespace": "dev", "body": '{"x": 1}'}
    assert plain.result["namespace"] == DEFAULT_NS
    assert scaled.replicas == 3 and ("dev", "only-dev") not in gw.functions
    assert spaces == [DEFAULT_NS, "dev"]
    seen = {(m, p, q) for m, p, q in gw.requests}
    assert ("GET", "/system/functions", "namespace=dev") in seen
    assert ("POST", "/function/hello.dev", "") in seen and ("POST", "/function/hello", "") in seen
    assert ("DELETE", "/system/functions", "namespace=dev") in seen


def test_a_namespace_the_gateway_does_not_have_is_its_error(gw):
    async def go():
        async with _b(gw, namespace="nope") as b:
            await b.functions()
    with pytest.raises(InvalidRequest, match="namespace not valid"):
        run(go())


def test_the_cli_with_n_and_A_on_openfaas(of_ctx):
    assert cli("functions", "-q").stdout.split() == ["hello"]
    assert cli("functions", "-n", "dev", "-q").stdout.split() == ["hello", "only-dev"]
    rows = json.loads(cli("functions", "-A", "-o", "json").stdout)
    assert [(r["namespace"], r["name"]) for r in rows] == [
        (DEFAULT_NS, "hello"), ("dev", "hello"), ("dev", "only-dev")]
    assert cli("namespaces").stdout.split() == [DEFAULT_NS, "dev"]
    out = json.loads(cli("-n", "dev", "invoke", "hello", "-d", '"x"', "-o", "json").stdout)
    assert out["result"]["namespace"] == "dev"


def test_secrets_in_a_namespace_and_a_deploy_that_needs_them(gw, tmp_path):
    pkg = tmp_path / "with-secret"
    pkg.mkdir()
    (pkg / "function.yaml").write_text("name: with-secret\nimage: fn:1\nsecrets: [db-pw]\n")

    async def go():
        async with _b(gw, namespace="dev") as b:
            with pytest.raises(InvalidRequest, match="unable to find secret: db-pw"):
                await b.deploy(pkg)
            await b.create_secret("db-pw", b"v1")
            with pytest.raises(Conflict, match="secret with the name 'db-pw' already exists"):
                await b.create_secret("db-pw", b"v2")
            await b.create_secret("db-pw", b"v2", update=True)
            await b.create_secret("blob", b"\x00\xff")
            with pytest.raises(NotFound, match="unable to find secret: nope"):
                await b.create_secret("nope", b"x", update=True)
            deployed = await b.deploy(pkg)
            listed = await b.secrets()
            await b.remove_secret("blob")
            with pytest.raises(NotFound, match="unable to find secret: blob"):
                await b.remove_secret("blob")
        async with _b(gw) as default:
            elsewhere = await default.secrets()
        return deployed, listed, elsewhere
    deployed, listed, elsewhere = run(go())
    assert deployed.name == "with-secret" and gw.functions[("dev", "with-secret")]["secrets"] == ["db-pw"]
    assert [(s.name, s.namespace) for s in listed] == [("blob", "dev"), ("db-pw", "dev")]
    assert gw.secrets[("dev", "db-pw")] == b"v2" and elsewhere == []


def test_logs_with_times_instances_since_and_a_native_follow(gw):
    t0 = time.time() - 100
    gw.log("hello", "first", instance="pod-a", t=t0)
    gw.log("hello", "second", instance="pod-b", t=t0 + 1.25)
    gw.log("hello", "third", instance="pod-a", t=t0 + 2.5)
    gw.log("hello", "in dev", "dev", t=t0 + 3)

    async def go():
        async with _b(gw) as b:
            lines = await b.log_lines("hello", 10)
            last = await b.log_lines("hello", 1)
            pod_b = await b.log_lines("hello", 10, instance="pod-b")
            since = await b.log_lines("hello", 10, since=t0 + 1)
            text = await b.logs("hello", 10)
            with pytest.raises(FunctionNotFound):
                await b.log_lines("no-such-fn", 10)
            followed = []

            async def read():
                async for line in b.follow_logs("hello", 1):
                    followed.append(line.text)
                    if len(followed) == 3:
                        return
            reader = asyncio.ensure_future(read())
            deadline = time.monotonic() + 10
            while not followed and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            gw.log("hello", "live 1")
            gw.log("hello", "live 2")
            await asyncio.wait_for(reader, 10)
        return lines, last, pod_b, since, text, followed
    lines, last, pod_b, since, text, followed = run(go())
    assert [(ln.text, ln.instance) for ln in lines] == [
        ("first", "pod-a"), ("second", "pod-b"), ("third", "pod-a")]
    assert abs(lines[1].time - (t0 + 1.25)) < 1e-3
    assert [ln.text for ln in last] == ["third"] and [ln.text for ln in pod_b] == ["second"]
    assert [ln.text for ln in since] == ["second", "third"]
    assert text == ["[pod-a] first", "[pod-b] second", "[pod-a] third"]
    assert followed == ["third", "live 1", "live 2"]
    assert any(p == "/system/logs" and "follow=true" in q for _, p, q in gw.requests)


def test_faastui_logs_on_an_openfaas_context(of_ctx):
    of_ctx.log("hello", "from the gateway", instance="pod-x")
    out = cli("logs", "hello", "-o", "json").stdout.splitlines()
    assert json.loads(out[-1])["text"] == "from the gateway"
    assert json.loads(out[-1])["instance"] == "pod-x"
    assert cli("logs", "hello", "--since", "1h").stdout == "from the gateway\n"


# ---- against the real engine's routes -----------------------------------------------------
def test_openfaas_secrets_and_logs_against_the_engine(engine):
    async def go():
        async with OpenFaaSBackend(engine.url, namespace="local") as b:
            await b.create_secret("of-engine", b"value")
            listed = [s.name for s in await b.secrets()]
            await b.remove_secret("of-engine")
            inv = await b.invoke("hello", {"name": "ns"})  # /function/hello.local
        async with OpenFaaSBackend(engine.url, namespace="other") as b:
            with pytest.raises(InvalidRequest, match="namespace 'other' not found"):
                await b.secrets()
        return listed, inv
    listed, inv = run(go())
    assert "of-engine" in listed and inv.result == {"message": "Hello, ns!"}
