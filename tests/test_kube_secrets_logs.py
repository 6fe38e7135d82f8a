"""Namespaces, secrets and logs of the Kubernetes-backed adapters: Knative, Nuclio with and
without a cluster, OpenFaaS with a cluster, against the FAKE Kubernetes API server
(tests/fakes/kube_api.py) and the FAKE Nuclio dashboard (tests/fakes/nuclio_dashboard.py);
Kubernetes, Knative and Nuclio cannot run here. Real HTTP on loopback, real processes for
the ksvcs and Nuclio functions; waits have deadlines.
"""

from __future__ import annotations

import asyncio
import base64
import time

import pytest

from backends.base import Capability
from backends.errors import Conflict, FunctionNotFound, InvalidRequest, NotFound, Unsupported
from backends.knative import KnativeBackend
from backends.nuclio import NuclioBackend
from backends.openfaas import OpenFaaSBackend
from tests.conftest import cli, run
from tests.fakes.kube_api import fake_kube
from tests.fakes.nuclio_dashboard import running_dashboard


@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    with fake_kube(nodes=2, not_ready_nodes=0, bookmark_interval=0.2) as fake:
        fake.add_namespace("default")
        fake.add_namespace("shop")
        fake.kc = str(fake.kubeconfig(tmp_path_factory.mktemp("kc") / "kubeconfig"))
        yield fake


def _secret(kube, ns: str, name: str) -> dict | None:
    return kube.store.get("secrets", ns, name)


async def _secrets_round(b):
    await b.create_secret("api-key", b"v1")
    with pytest.raises(Conflict, match="secret with the name 'api-key' already exists"):
        await b.create_secret("api-key", b"v2")
    await b.create_secret("api-key", b"\x00v2", update=True)
    with pytest.raises(NotFound, match="unable to find secret: nope"):
        await b.create_secret("nope", b"x", update=True)
    with pytest.raises(InvalidRequest, match="invalid secret name"):
        await b.create_secret("Nope!", b"x")
    listed = await b.secrets()
    await b.remove_secret("api-key")
    with pytest.raises(NotFound, match="unable to find secret: api-key"):
        await b.remove_secret("api-key")
    return listed


def test_knative_secrets_are_opaque_kubernetes_secrets_in_its_namespace(kube):
    seen = {}

    async def go():
        async with KnativeBackend(kube.ingress_url, kubeconfig=kube.kc, namespace="shop") as b:
            await b.create_secret("db-pw", b"pw")
            seen["stored"] = _secret(kube, "shop", "db-pw")
            listed = await _secrets_round(b)
            await b.remove_secret("db-pw")
            return listed
    kube.store.put("secrets", {"metadata": {"name": "sa-token", "namespace": "shop"},
                               "type": "kubernetes.io/service-account-token", "data": {}})
    listed = run(go())
    stored = seen["stored"]
    assert stored["type"] == "Opaque" and stored["data"] == {"db-pw": base64.b64encode(b"pw").decode()}
    assert stored["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "faastui"}
    assert [(s.name, s.namespace) for s in listed] == [("api-key", "shop"), ("db-pw", "shop")]
    assert _secret(kube, "shop", "db-pw") is None


def test_knative_namespaces_and_all_namespaces(kube):
    async def go():
        async with KnativeBackend(kube.ingress_url, kubeconfig=kube.kc) as b:
            return await b.namespaces()
    assert {"default", "shop"} <= set(run(go()))
    kube.forbid_namespaces = True
    try:
        async def own():
            async with KnativeBackend(kube.ingress_url, kubeconfig=kube.kc,
                                      namespace="shop") as b:
                return await b.namespaces()
        assert run(own()) == ["shop"]  # an account that may not list namespaces: its own
    finally:
        kube.forbid_namespaces = False


def test_knative_mounts_a_functions_secrets_where_openfaas_does(kube, tmp_path):
    from backends.agent import prepare
    from backends.knative.objects import service_manifest

    manifest = service_manifest(prepare("def handle(req):\n    return req\n", "fn"),
                                {"secrets": ["db-pw", "api-key"]}, image="python:3.11-slim",
                                namespace="shop")
    spec = manifest["spec"]["template"]["spec"]
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": "faastui-secrets", "readOnly": True, "mountPath": "/var/openfaas/secrets"}]
    assert spec["volumes"][0]["projected"]["sources"] == [
        {"secret": {"name": n, "items": [{"key": n, "path": n}]}} for n in ("db-pw", "api-key")]
    with pytest.raises(InvalidRequest, match="secrets must be a list"):
        service_manifest(prepare("def handle(req):\n    return req\n", "fn"), {"secrets": "x"},
                         image="i", namespace="shop")


def test_knative_logs_have_times_and_pods_so_since_and_instance_work(kube):
    source = "def handle(req):\n    print('got', req, flush=True)\n    return 'ok'\n"

    async def go():
        async with KnativeBackend(kube.ingress_url, kubeconfig=kube.kc, namespace="shop") as b:
            await b.deploy_source(source, name="printer")
            await b.invoke("printer", "one")
            mid = time.time()
            await b.invoke("printer", "two")
            deadline = time.monotonic() + 10
            while True:  # the runtime keeps a line a moment after the process wrote it
                lines = await b.log_lines("printer", 50)
                if any(ln.text == "got two" for ln in lines) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            since = await b.log_lines("printer", 50, since=mid)
            pod = lines[-1].instance
            only = await b.log_lines("printer", 50, instance=pod)
            none = await b.log_lines("printer", 50, instance="no-such-pod")
            with pytest.raises(FunctionNotFound):
                await b.log_lines("no-such-fn", 5)
            await b.remove("printer")
            return lines, since, only, none, mid
    lines, since, only, none, mid = run(go())
    got = [ln for ln in lines if ln.text.startswith("got ")]
    assert [ln.text for ln in got] == ["got one", "got two"]
    assert all(ln.time is not None and ln.instance.startswith("printer-") for ln in got)
    assert got[0].time < mid <= got[1].time
    assert [ln.text for ln in since if ln.text.startswith("got ")] == ["got two"]
    assert only == lines and none == []


@pytest.fixture()
def dashboard():
    with running_dashboard(namespaces=("team-a",)) as d:
        yield d


def test_nuclio_namespaces_come_from_the_dashboard(dashboard):
    async def go():
        async with NuclioBackend(dashboard.url) as b:
            return await b.namespaces()
    assert run(go()) == ["nuclio", "team-a"]


def test_nuclio_without_a_cluster_has_no_secrets(dashboard):
    assert Capability.SECRETS not in NuclioBackend.capabilities

    async def go():
        async with NuclioBackend(dashboard.url) as b:
            await b.secrets()
    with pytest.raises(Unsupported, match="the nuclio backend has no secrets"):
        run(go())
    cli("context", "add", "nu", "--backend", "nuclio", "--url", dashboard.url, "--use")
    r = cli("secret", "create", "x", "--from-literal", "v", code=3)
    assert "no secrets" in r.stderr and "kubeconfig" in r.stderr


def test_nuclio_with_a_cluster_keeps_kubernetes_secrets_in_its_namespace(dashboard, kube):
    b = NuclioBackend(dashboard.url, kubeconfig=kube.kc, namespace="shop")
    assert Capability.SECRETS in type(b).capabilities

    async def go():
        async with b:
            return await _secrets_round(b)
    listed = run(go())
    assert [(s.name, s.namespace) for s in listed] == [("api-key", "shop")]


def test_nuclio_logs_since_and_by_replica(dashboard):
    source = ("def handler(context, event):\n"
              "    print('said', event.body.decode(), flush=True)\n"
              "    context.logger.info('logged')\n"
              "    return 'ok'\n")

    async def go():
        async with NuclioBackend(dashboard.url) as b:
            await b.deploy_source(source, name="talker")
            await b.invoke("talker", "early")
            lines = await b.log_lines("talker", 20)
            replica = lines[-1].instance
            mine = await b.log_lines("talker", 20, instance=replica)
            other = await b.log_lines("talker", 20, instance="not-a-replica")
            recent = await b.log_lines("talker", 20, since=time.time() + 5)
            return lines, mine, other, recent, replica
    lines, mine, other, recent, replica = run(go())
    assert "said early" in [ln.text for ln in lines] and replica.startswith("nuclio-talker-")
    logged = next(ln for ln in lines if ln.text == "logged")
    assert logged.time is not None  # a Nuclio log record carries its time
    assert mine == lines and other == []
    # since: the dashboard keeps whole seconds; timed records are cut exactly here, and what
    # has no time of its own is what the dashboard kept
    assert "logged" not in [ln.text for ln in recent]
    assert all(ln.time is None for ln in recent)


def test_openfaas_with_a_cluster_reads_the_pods_logs_with_times(engine, kube):
    ns = "openfaas-fn"
    t0 = time.time() - 60
    kube.add_pod(ns, "hello-a", node="kn-node-1", labels={"faas_function": "hello"})
    kube.add_pod(ns, "hello-b", node="kn-node-2", labels={"faas_function": "hello"})
    kube.pod_logs[(ns, "hello-a")] = [(t0, "a early"), (t0 + 20, "a late")]
    kube.pod_logs[(ns, "hello-b")] = [(t0 + 10, "b middle")]

    async def go():
        async with OpenFaaSBackend(engine.url, kubeconfig=kube.kc) as b:
            return (await b.log_lines("hello", 10), await b.log_lines("hello", 10, since=t0 + 5),
                    await b.log_lines("hello", 10, instance="hello-b"))
    try:
        every, since, one = run(go())
    finally:
        for pod in ("hello-a", "hello-b"):
            kube.store.delete("pods", ns, pod)
    assert [(ln.text, ln.instance) for ln in every] == [
        ("a early", "hello-a"), ("b middle", "hello-b"), ("a late", "hello-a")]
    assert abs(every[0].time - t0) < 1e-3
    assert [ln.text for ln in since] == ["b middle", "a late"]
    assert [ln.text for ln in one] == ["b middle"]
