"""The backend contract's optional abilities and options: every ability a backend has is a
Capability flag of its instance (no probing), and a backend built from a config refuses a
key it does not declare, with a did-you-mean, in one line and exit 2.

The CLI checks run against the embedded engine and small in-process backends (as
test_cli's MinimalBackend); building an adapter contacts nothing, so the adapters are
built here without any server.
"""

from __future__ import annotations

import asyncio

import pytest
import yaml

from backends import options, registry
from backends.base import Backend, Capability
from backends.errors import InvalidRequest
from backends.model import Function, Invocation, Node, Snapshot
from faastui import config
from tests.conftest import cli, run

#: the method each optional read needs, by its flag
ABILITIES = {
    Capability.DESCRIBE: "describe",
    Capability.HISTORY: "invocations",
    Capability.EVENTS: "events",
    Capability.CALL_GRAPH: "call_graph",
}


def _shipped():
    return {kind: registry.load(kind) for kind in registry._BUILTIN}


# ---- capability flags -------------------------------------------------------------------
def test_a_backend_has_the_flag_of_every_optional_read_it_implements():
    for kind, cls in _shipped().items():
        could = cls.capabilities | getattr(cls, "kube_capabilities", Capability.NONE)
        for flag, method in ABILITIES.items():
            overridden = getattr(cls, method) is not getattr(Backend, method)
            assert overridden == (flag in could), (kind, flag)
    local = registry.load("local").capabilities
    assert all(flag in local for flag in ABILITIES)


class Reads(Backend):
    """A backend whose optional reads answer only when its flags say it has them, and that
    counts what it is asked (an ability asked of a backend without its flag is a defect)."""

    name = "reads"
    capabilities = Capability.NONE
    asked: list[str] = []

    def __init__(self, url=None, *, flags: str = ""):
        self.capabilities = Capability.NONE
        for word in filter(None, flags.split(",")):
            self.capabilities |= Capability[word.upper()]

    def _ask(self, what: str):
        Reads.asked.append(what)

    async def snapshot(self) -> Snapshot:
        return Snapshot(nodes=[Node(name="n")], functions=[Function(name="f")])

    async def describe(self, fn: str) -> Function:
        self._ask("describe")
        return Function(name=fn)

    async def invocations(self, limit: int = 50) -> list[Invocation]:
        self._ask("invocations")
        return [Invocation(call_id="c1", function="f", status="ok", started_at=1.0, ended_at=2.0)]

    async def events(self, since: float = 0.0) -> list[dict]:
        self._ask("events")
        return [{"t": 1.0, "kind": "deploy", "function": "f"}] if since < 1.0 else []


@pytest.fixture
def reads(monkeypatch):
    monkeypatch.setitem(registry._BUILTIN, "reads", "tests.test_backend_contract:Reads")
    Reads.asked = []
    return Reads


def test_describe_without_the_flag_is_unsupported_in_one_line(reads):
    cli("context", "add", "bare", "--backend", "reads", "--use")
    for args in (["describe", "f"], ["describe", "f", "-o", "json"]):
        r = cli(*args, code=3)
        assert r.stderr.startswith("error: the reads backend cannot describe functions")
        assert "Traceback" not in r.stderr + r.stdout
    assert reads.asked == []  # it was never asked


def test_describe_reads_the_history_only_where_there_is_one(reads):
    cli("context", "add", "d", "--backend", "reads", "-O", "flags=describe", "--use")
    assert "f" in cli("describe", "f").stdout
    assert reads.asked == ["describe"]
    reads.asked.clear()
    cli("context", "add", "dh", "--backend", "reads", "-O", "flags=describe,history", "--use")
    cli("describe", "f")
    assert reads.asked == ["describe", "invocations"]


def _poll_once(backend) -> list[str]:
    from faastui.tui.app import Dashboard

    async def go():
        app = Dashboard(lambda: backend, interval=30.0, remember_theme=False)
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(400):
                if app.refreshes:
                    break
                await pilot.pause(0.02)
            assert app.refreshes, "no snapshot within the deadline"

    Reads.asked = []
    run(go())
    return Reads.asked


def test_the_dashboard_asks_for_events_and_calls_only_by_the_flags():
    assert _poll_once(Reads()) == []
    assert sorted(set(_poll_once(Reads(flags="events,history")))) == ["events", "invocations"]


# ---- capabilities from the instance -------------------------------------------------------
def test_the_dashboard_gates_keys_by_the_instance_not_its_class():
    from faastui.tui.app import Dashboard

    async def go(backend):
        app = Dashboard(lambda: backend, interval=30.0, remember_theme=False)
        async with app.run_test(size=(120, 40)):
            return app.check_action("prewarm", ()), app.check_action("scale", ())

    assert Capability.PREWARM not in Reads.capabilities
    assert run(go(Reads(flags="prewarm"))) == (True, None)  # scale: greyed
    assert run(go(Reads())) == (None, None)


def _shown_caps(name: str) -> set[str]:
    return set(yaml.safe_load(cli("context", "show", name).stdout)["capabilities"])


def test_context_show_lists_what_the_instance_can_do(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"  # never read: building a backend contacts nothing
    cli("context", "add", "of", "-b", "openfaas", "--url", "http://127.0.0.1:1")
    cli("context", "add", "of-kube", "-b", "openfaas", "--url", "http://127.0.0.1:1", "-O", f"kubeconfig={kubeconfig}")
    cli("context", "add", "of-incluster", "-b", "openfaas", "--url", "http://127.0.0.1:1", "-O", "in_cluster=true")
    cli("context", "add", "nu-kube", "-b", "nuclio", "--url", "http://127.0.0.1:1", "--kube-context", "prod")
    plain = _shown_caps("of")
    assert {"invoke", "scale", "describe", "logs"} <= plain
    assert not {"prewarm", "node_target", "events"} & plain
    for name in ("of-kube", "of-incluster"):
        assert _shown_caps(name) == plain | {"prewarm", "node_target", "events"}, name
    assert {"secrets", "events"} <= _shown_caps("nu-kube")
    assert not {"secrets", "events"} & _shown_caps_of_plain_nuclio()
    # a context whose backend cannot be built still shows its class's
    cli("context", "add", "of-nourl", "-b", "openfaas")
    assert _shown_caps("of-nourl") == plain


def _shown_caps_of_plain_nuclio() -> set[str]:
    cli("context", "add", "nu", "-b", "nuclio", "--url", "http://127.0.0.1:1")
    return _shown_caps("nu")


# ---- declared options ---------------------------------------------------------------------
def test_every_shipped_backend_declares_its_options():
    for kind, cls in _shipped().items():
        assert options.declared(cls) is not None, f"{kind}: its constructor takes **kwargs"


def _write_config(contexts: list[dict], current: str) -> None:
    path = config.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"current-context": current, "contexts": contexts}))


def test_a_misspelt_option_in_a_hand_edited_config_is_an_error_with_a_suggestion():
    _write_config(
        [{"name": "nu", "backend": "nuclio", "url": "http://127.0.0.1:1", "options": {"projet": "shop"}}], "nu"
    )
    for args in (["functions"], ["nodes", "-o", "json"], ["describe", "f"]):
        r = cli(*args, code=2)
        assert r.stderr.splitlines() == [
            "error: context 'nu': the nuclio backend takes no option 'projet'",
            "hint: did you mean 'project'?",
        ], args
        assert "Traceback" not in r.stdout
    with pytest.raises(InvalidRequest, match="takes no option 'projet'"):
        config.resolve_context().build_backend()
    # far from every option: the hint lists what it takes
    _write_config([{"name": "of", "backend": "openfaas", "url": "http://127.0.0.1:1", "options": {"zzz": 1}}], "of")
    r = cli("functions", code=2)
    assert "takes no option 'zzz'" in r.stderr and "it takes: " in r.stderr
    assert "kube_namespace" in r.stderr and "url" not in r.stderr.split("it takes: ")[1]


def test_the_dashboard_refuses_the_same_config_in_one_line():
    from faastui.tui.app import run as run_tui

    _write_config([{"name": "kn", "backend": "knative", "options": {"imgae": "python:3.12"}}], "kn")
    assert run_tui() == 2


def test_the_keys_every_context_carries_are_never_refused(tmp_path):
    """url, the secrets, state_dir, redis_url, kube_context and namespace go to a backend
    that takes them and are left out of one that does not."""
    generic = {
        "url": "grpc://127.0.0.1:1",
        "token": "t",
        "password": "p",
        "state_dir": str(tmp_path),
        "redis_url": "redis://127.0.0.1:1/0",
        "kube_context": "prod",
        "namespace": "team",
    }
    for kind, cls in _shipped().items():
        settings = dict(generic)
        if kind == "iluvatar":
            settings.pop("kube_context")  # no kube side
        backend = options.build(cls, settings, where=f"context {kind!r}")
        try:
            takes = set(options.declared(cls))
            assert takes & set(generic), kind
            if "namespace" in takes:
                assert backend.namespace == "team", kind
        finally:
            asyncio.run(backend.aclose())


def test_the_contexts_the_cli_writes_still_build(engine, tmp_path):
    cli(
        "context",
        "add",
        "eng",
        "--url",
        engine.url,
        "--token",
        "tok",
        "--redis-url",
        "redis://127.0.0.1:1/0",
        "--kube-context",
        "x",
    )
    cli(
        "context",
        "add",
        "of",
        "-b",
        "openfaas",
        "--url",
        engine.url,
        "--user",
        "admin",
        "--password-stdin",
        "-O",
        "namespace=fn",
        "-O",
        "timeout=5",
        "-O",
        "kube_wait=1",
        input="pw\n",
    )
    cli("context", "add", "inv", "-b", "invokers", "--url", engine.url, "-O", "in_cluster=false")
    cli(
        "context",
        "add",
        "kn",
        "-b",
        "knative",
        "--kube-context",
        "prod",
        "-O",
        "image=python:3",
        "-O",
        "ready_timeout=3",
        "--url",
        "http://ingress",
    )
    cli(
        "context",
        "add",
        "nu",
        "-b",
        "nuclio",
        "--url",
        engine.url,
        "-O",
        "project=p",
        "-O",
        "deploy-timeout=9",
        "-O",
        "invoke_via=domain-name",
    )
    cli("context", "add", "ilu", "-b", "iluvatar", "--url", "grpc://127.0.0.1:1", "-O", "node_name=w1")
    for ctx in config.load_config().contexts:
        backend = ctx.build_backend()
        asyncio.run(backend.aclose())
    assert cli("--context", "eng", "nodes", "-q").stdout.strip()
    cli("-g", engine.url, "functions", "-q")  # the one-shot openfaas context of -g
