"""The CLI for scripts and for k9s, kubectl and faas-cli hands (issue 14: sorting, namespaces,
script output, the extra verbs, -g, info; issue 16: scale, prewarm's columns, placement
-o wide, completion of --context, OpenFaaS basic auth and fields), through CliRunner
against the session engine, every error included (exit code and the line it prints).

Namespaces need a backend that has them: ``NamespacedBackend`` below is a small in-process
Backend (as test_cli's MinimalBackend) that lists its namespaces and answers with the one it
was built for, so what is checked is the CLI's plumbing (-n, -A, exit 3), not an adapter.
The basic-auth check uses a loopback HTTP server that records the Authorization header it
receives (a stand-in gateway that answers only ``GET /system/functions``).
"""

from __future__ import annotations

import base64
import json
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from backends.base import Backend, Capability
from backends.model import Function, Node, Snapshot
from faastui import config
from tests.conftest import cli


@pytest.fixture()
def ctx(engine):
    cli("context", "add", "t", "--url", engine.url, "--use")
    return engine


def _error(result, *needles: str) -> None:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error: "), result.stderr
    assert len(lines) <= 3, result.stderr
    for n in needles:
        assert n in result.stderr, result.stderr


def _names(result) -> list[str]:
    return [ln for ln in result.stdout.splitlines() if ln.strip()]


# ---- --sort-by ---------------------------------------------------------------------------
def test_sort_by_a_field_of_the_json(ctx):
    fns = json.loads(cli("functions", "-o", "json", "--sort-by", "timeout_s").stdout)
    keys = [(f["timeout_s"]) for f in fns]
    assert keys == sorted(keys) and len(set(keys)) > 1
    assert _names(cli("functions", "-q", "--sort-by", ".name")) == sorted(f["name"] for f in fns)
    nodes = json.loads(cli("nodes", "-o", "json", "--sort-by", "memory_mb").stdout)
    assert [n["memory_mb"] for n in nodes] == sorted(n["memory_mb"] for n in nodes)
    table = cli("functions", "--sort-by", "memory_mb").stdout.splitlines()
    assert table[0].split()[0] == "NAME"  # a table keeps its header
    for command, field in (("placement", "function"), ("queues", "length"), ("qos", "subject"),
                           ("fusion", "name")):
        cli(command, "--sort-by", field, "-o", "json")


@pytest.mark.parametrize("command,field,valid", [
    (["functions"], "memory", "memory_mb"), (["nodes"], "cpu", "cpus"),
    (["placement"], "name", "function"), (["qos"], "p50", "p50_ms"),
])
def test_an_unknown_sort_field_is_exit_2_with_the_valid_ones(ctx, command, field, valid):
    r = cli(*command, "--sort-by", field, code=2)
    _error(r, f"cannot sort by '{field}'", "fields:", valid)


def test_unknown_sort_field_fails_before_the_backend_is_asked():
    r = cli("functions", "--sort-by", "nope", code=2)  # no engine runs: not exit 4
    _error(r, "cannot sort by 'nope'")


# ---- -l/--selector -------------------------------------------------------------------------
def test_selectors_on_labels(ctx):
    long_running = {"collector", "emitter", "worker"}
    assert set(_names(cli("functions", "-l", "faastui.io/long-running", "-q"))) == long_running
    assert set(_names(cli("functions", "-l", "faastui.io/long-running=true", "-q"))) == long_running
    assert set(_names(cli("functions", "-l", "faastui.io/workflow-role==worker", "-q"))) == {"worker"}
    everyone = set(_names(cli("functions", "-q")))
    assert set(_names(cli("functions", "-l", "!faastui.io/long-running", "-q"))) == everyone - long_running
    not_worker = set(_names(cli("functions", "-l", "faastui.io/workflow-role!=worker", "-q")))
    assert not_worker == everyone - {"worker"}  # as kubectl: objects without the label match !=
    both = cli("functions", "-l", "faastui.io/long-running,faastui.io/workflow-role!=worker", "-q")
    assert set(_names(both)) == {"collector", "emitter"}
    assert _names(cli("functions", "-l", "no-such-label", "-q")) == []
    assert json.loads(cli("nodes", "-l", "no-such-label", "-o", "json").stdout) == []


@pytest.mark.parametrize("selector,needle", [
    ("a b", "'a b' is not a label key"), (",", "an empty term"), ("=v", "'' is not a label key"),
    ("k=a b", "'a b' is not a label value"), ("env in (a,b)", "set-based"), ("!", "not a label key"),
])
def test_a_bad_selector_is_exit_2_naming_the_term(ctx, selector, needle):
    _error(cli("functions", "-l", selector, code=2), "bad selector", needle)


# ---- -q, --no-headers, -o name -----------------------------------------------------------
def test_names_quiet_and_no_headers(ctx):
    fns = json.loads(cli("functions", "-o", "json").stdout)
    assert _names(cli("functions", "-o", "name")) == [f"function/{f['name']}" for f in fns]
    assert _names(cli("ls", "-q")) == [f["name"] for f in fns]
    assert _names(cli("nodes", "-o", "name")) == ["node/node-1", "node/node-2", "node/node-3"]
    plain = cli("functions").stdout.splitlines()
    bare = cli("functions", "--no-headers").stdout.splitlines()
    assert plain[0].startswith("NAME") and not bare[0].startswith("NAME")
    assert [ln.split()[0] for ln in bare if ln.strip()] == [f["name"] for f in fns]
    assert all(line.startswith("queue/") for line in _names(cli("queues", "-o", "name")))
    cli("invoke", "hello")
    assert "qos/hello" in _names(cli("qos", "-o", "name"))
    inv = _names(cli("invoke", "hello", "-o", "name"))
    assert len(inv) == 1 and inv[0].startswith("invocation/")
    placed = _names(cli("placement", "-o", "name"))
    assert placed and all(p.startswith("placement/") and "@node-" in p for p in placed)


def test_script_output_does_not_go_with_watch_or_with_reports(ctx):
    _error(cli("functions", "-q", "-w", code=2), "--watch")
    _error(cli("nodes", "-o", "name", "-w", code=2), "--watch")
    _error(cli("optimize-fusion", "-o", "name", code=2), "no names")
    _error(cli("version", "-o", "name", code=2), "-o name")


def test_rm_takes_what_o_name_prints(ctx, tmp_path):
    from tests.conftest import FUNCTIONS

    cli("deploy", str(FUNCTIONS / "echo"), "--name", "echo-names")
    listed = [n for n in _names(cli("functions", "-o", "name")) if n.endswith("/echo-names")]
    assert listed == ["function/echo-names"]
    assert "removed echo-names" in cli("rm", *listed).stderr


# ---- namespaces ---------------------------------------------------------------------------
class NamespacedBackend(Backend):
    """A backend with namespaces: it lists two, and its functions are named for the one it
    works in (None: its default, "default")."""

    name = "namespaced"
    capabilities = Capability.NAMESPACES

    def __init__(self, url=None, *, namespace: str | None = None, **_kw):
        self.namespace = namespace or "default"

    async def namespaces(self) -> list[str]:
        return ["default", "dev"]

    async def snapshot(self) -> Snapshot:
        return Snapshot(nodes=[Node(name="n")], functions=[
            Function(name=f"fn-{self.namespace}", labels={"ns": self.namespace}),
            Function(name=f"other-{self.namespace}", memory_mb=1.0)])


@pytest.fixture()
def namespaced(monkeypatch):
    from backends import registry

    monkeypatch.setitem(registry._BUILTIN, "namespaced", "tests.test_cli_scripts:NamespacedBackend")
    cli("context", "add", "ns", "--backend", "namespaced", "--use")


def test_namespace_on_every_command_and_at_the_root(namespaced):
    assert _names(cli("functions", "-q")) == ["fn-default", "other-default"]
    assert _names(cli("functions", "-n", "dev", "-q")) == ["fn-dev", "other-dev"]
    assert _names(cli("-n", "dev", "functions", "-q")) == ["fn-dev", "other-dev"]
    assert _names(cli("--namespace", "dev", "ls", "-q", "-n", "prod")) == ["fn-prod", "other-prod"]
    assert _names(cli("functions", "-q", env={"FAASTUI_NAMESPACE": "qa"})) == ["fn-qa", "other-qa"]
    assert _names(cli("namespaces")) == ["default", "dev"]
    assert json.loads(cli("namespaces", "-o", "json").stdout) == ["default", "dev"]


def test_all_namespaces(namespaced):
    rows = json.loads(cli("functions", "-A", "-o", "json").stdout)
    assert [(r["namespace"], r["name"]) for r in rows] == [
        ("default", "fn-default"), ("default", "other-default"), ("dev", "fn-dev"), ("dev", "other-dev")]
    table = cli("functions", "--all-namespaces").stdout.splitlines()
    assert table[0].split()[:2] == ["NAMESPACE", "NAME"] and "dev" in table[-1]
    assert _names(cli("functions", "-A", "-l", "ns=dev", "-q")) == ["fn-dev"]
    by_memory = json.loads(cli("list", "-A", "--sort-by", "memory_mb", "-o", "json").stdout)
    assert [r["memory_mb"] for r in by_memory] == [0.0, 0.0, 1.0, 1.0]
    assert [r["namespace"] for r in json.loads(
        cli("functions", "-A", "--sort-by", "namespace", "-o", "json").stdout)] == ["default"] * 2 + ["dev"] * 2
    _error(cli("functions", "-A", "-n", "dev", code=2), "either -n")


@pytest.mark.parametrize("args", [["-n", "dev", "functions"], ["functions", "-n", "dev"],
                                  ["invoke", "hello", "-n", "dev"], ["scale", "hello", "1", "-n", "dev"],
                                  ["prewarm", "hello", "-n", "dev"], ["version", "-n", "dev"],
                                  ["status", "-n", "dev"], ["rm", "x", "-n", "dev"]])
def test_namespace_on_a_backend_without_namespaces_is_exit_3_with_the_reason(ctx, args):
    _error(cli(*args, code=3), "the local backend has no namespaces (-n dev)", "context show")


def test_all_namespaces_and_namespaces_on_the_engine_are_exit_3(ctx):
    _error(cli("functions", "-A", code=3), "the local backend has no namespaces")
    _error(cli("namespaces", code=3), "the local backend has no namespaces")


def test_namespace_capability_is_shown_and_the_adapters_with_namespaces_have_it():
    from backends.knative import KnativeBackend
    from backends.nuclio import NuclioBackend

    for cls in (KnativeBackend, NuclioBackend):
        assert Capability.NAMESPACES in cls.capabilities
    cli("context", "add", "nu", "--backend", "nuclio", "--url", "http://127.0.0.1:1")
    shown = yaml.safe_load(cli("context", "show", "nu").stdout)
    assert "namespaces" in shown["capabilities"]
    assert "namespaces" not in yaml.safe_load(cli("context", "show", "local").stdout)["capabilities"]
    backend = config.resolve_context("nu").build_backend(namespace="shop")
    assert backend.namespace == "shop"


def test_the_node_is_node_alone(ctx):
    inv = json.loads(cli("invoke", "echo", "--node", "node-2", "-o", "json").stdout)
    assert inv["node"] == "node-2"
    _error(cli("invoke", "echo", "-n", "node-2", code=3), "no namespaces")  # -n is the namespace
    started = json.loads(cli("prewarm", "echo", "--node", "node-3", "-o", "json").stdout)
    assert {s["node"] for s in started} == {"node-3"}
    for command in ("invoke", "prewarm"):
        assert "-n, --namespace" in cli(command, "--help").stdout
        assert "--node" in cli(command, "--help").stdout and "-n, --node" not in cli(command, "--help").stdout


# ---- verbs: version, completion, info, aliases --------------------------------------------
def test_version_client_and_backend(ctx):
    from faastui import __version__

    out = cli("version").stdout
    assert f"client:          faastui {__version__}" in out and "backend_version: faastui engine" in out
    data = json.loads(cli("version", "-o", "json").stdout)
    assert data["client"] == f"faastui {__version__}" and data["backend"] == "local"
    assert data["backend_version"].startswith("faastui engine ")


def test_version_without_a_backend_still_says_the_client_and_exits_4():
    cli("context", "add", "dead", "--url", "http://127.0.0.1:1", "--use")
    r = cli("version", code=4)
    assert "client:" in r.stdout and "does not answer" in r.stderr


@pytest.mark.parametrize("shell,needle", [("bash", "complete -o default -F"), ("zsh", "compdef"),
                                          ("fish", "complete --command faastui")])
def test_completion_scripts(shell, needle):
    out = cli("completion", shell).stdout
    assert needle in out and "_FAASTUI_COMPLETE" in out


def test_completion_of_an_unknown_shell_is_exit_2():
    _error(cli("completion", "tcsh", code=2), "tcsh", "bash")


def test_context_completion_offers_the_contexts():
    from faastui.cli._common import complete_context

    for name in ("prod", "preview", "dev"):
        cli("context", "add", name, "--url", "http://127.0.0.1:1")
    assert complete_context("pr") == ["prod", "preview"]
    assert complete_context("") == ["local", "prod", "preview", "dev"]
    assert _names(cli("context", "list", "-q")) == ["local", "prod", "preview", "dev"]
    assert _names(cli("context", "list", "-o", "name"))[0] == "context/local"


def test_info_says_where_things_are(ctx):
    from faastui import locations

    data = json.loads(cli("info", "-o", "json").stdout)
    assert data["config"] == str(config.config_path())
    assert data["credentials"] == str(config.credentials_path())
    assert data["state"] == str(locations.state_dir())
    assert data["functions"] == str(locations.functions_dir())
    out = cli("info").stdout
    assert "config:" in out and "state:" in out


def test_delete_remove_and_list_aliases(ctx):
    from tests.conftest import FUNCTIONS

    for n in ("a", "b"):
        cli("deploy", str(FUNCTIONS / "echo"), "--name", f"alias-{n}")
    listed = set(_names(cli("list", "-q")))
    assert {"alias-a", "alias-b"} <= listed and listed == set(_names(cli("functions", "-q")))
    assert "removed alias-a" in cli("delete", "alias-a").stderr
    assert "removed alias-b" in cli("remove", "alias-b").stderr
    assert not {"alias-a", "alias-b"} & set(_names(cli("ls", "-q")))


# ---- scale -------------------------------------------------------------------------------
def test_scale_says_absolute_or_relative_and_takes_replicas(ctx):
    def replicas():
        return json.loads(cli("describe", "sleep", "-o", "json").stdout)["replicas"]

    try:
        r = cli("scale", "sleep", "2")
        assert "sleep: replicas set to 2 (an absolute count)" in r.stderr
        r = cli("scale", "sleep", "+1")
        assert "sleep: replicas 2 -> 3 (+1, relative to the current count)" in r.stderr
        r = cli("scale", "sleep", "-1")
        assert "replicas 3 -> 2 (-1, relative" in r.stderr
        assert json.loads(cli("scale", "sleep", "--replicas", "1", "-o", "json").stdout)["replicas"] == 1
    finally:
        cli("scale", "sleep", "0")
    assert "--replicas" in cli("scale", "--help").stdout and "absolute" in cli("scale", "--help").stdout


def test_scale_refuses_what_it_cannot_do(ctx):
    cli("scale", "sleep", "1")
    try:
        for args in (["-50"], ["--", "-50"]):
            r = cli("scale", "sleep", *args, code=2)
            _error(r, "sleep has 1 replica(s): -50 would leave -49", "faastui scale sleep 0")
        assert json.loads(cli("describe", "sleep", "-o", "json").stdout)["replicas"] == 1  # unchanged
        _error(cli("scale", "sleep", "+2000", code=2), "between 0 and 1000")
        _error(cli("scale", "sleep", "2", "--replicas", "2", code=2), "give the count once")
        _error(cli("scale", "sleep", code=2), "scale needs a count")
        assert "--replicas" in cli("scale", "sleep", "--replicas", "-1", code=2).stderr
    finally:
        cli("scale", "sleep", "0")


# ---- prewarm columns, placement -o wide --------------------------------------------------
def test_prewarm_shows_containers_not_call_ids(ctx):
    out = cli("prewarm", "echo", "--node", "node-1").stdout
    header = out.splitlines()[0]
    assert header.split()[0] == "CONTAINER" and "CALL ID" not in out and "node-1" in out


def test_placement_wide_shows_more(ctx):
    cli("prewarm", "hello", "--node", "node-1")
    plain = cli("placement").stdout.splitlines()
    wide = cli("placement", "-o", "wide").stdout.splitlines()
    assert plain[0].split() == ["FUNCTION", "NODE", "STATE", "COUNT"]
    for column in ("MEMORY MB", "FUSION", "NODE CONTAINERS", "NODE MEMORY MB", "CALLS"):
        assert column in wide[0]
    row = next(ln for ln in wide if ln.startswith("hello ") and "node-1" in ln).split()
    count = int(row[3])
    assert float(row[4]) == count * 64  # hello's 64 MB per container
    assert json.loads(cli("placement", "-o", "json").stdout) == json.loads(
        cli("placement", "-o", "json", "--sort-by", "function").stdout)  # -o json unchanged


# ---- -g/--gateway --------------------------------------------------------------------------
def test_gateway_flag_is_a_one_shot_openfaas_backend(engine):
    out = json.loads(cli("-g", engine.url, "functions", "-o", "json").stdout)
    assert "hello" in {f["name"] for f in out}
    assert "backend_version: faastui" in cli("-g", engine.url, "version").stdout
    r = cli("-g", engine.url, "invoke", "hello", "-d", '{"name": "G"}')
    assert json.loads(r.stdout) == {"message": "Hello, G!"}
    assert not config.config_path().exists()  # nothing was written
    cli("context", "add", "x", "--url", engine.url)
    _error(cli("--context", "x", "-g", engine.url, "functions", code=2), "either --context or -g")
    cli("-g", engine.url, "functions", env={"FAASTUI_CONTEXT": "x"})  # -g wins over the env
    _error(cli("-g", "http://127.0.0.1:1", "functions", code=4), "does not answer")


# ---- OpenFaaS: basic auth, timeouts, the invoke summary -----------------------------------
class _RecordingGateway(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).seen.append(self.headers.get("Authorization", ""))
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def recording_gateway():
    _RecordingGateway.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _RecordingGateway.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_openfaas_basic_auth_as_faas_cli_login_takes_it(recording_gateway):
    url, seen = recording_gateway
    cli("context", "add", "of", "--backend", "openfaas", "--url", url, "--user", "admin",
        "--password-stdin", input="s3cr3t-pw\n")
    cli("context", "add", "of2", "--backend", "openfaas", "--url", url, "-O", "user=ops",
        "--password-stdin", input="pw-two")
    cli("context", "add", "of3", "--backend", "openfaas", "--url", url, "--password-stdin",
        input="pw-three\n")
    for name in ("of", "of2", "of3"):
        cli("--context", name, "functions")
    assert seen == [_basic("admin", "s3cr3t-pw"), _basic("ops", "pw-two"), _basic("admin", "pw-three")]
    creds = config.credentials_path()
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert yaml.safe_load(creds.read_text())["of"] == {"password": "s3cr3t-pw"}
    for text in (config.config_path().read_text(), cli("context", "show", "of").stdout,
                 cli("context", "list").stdout, cli("context", "list", "-o", "json").stdout):
        assert "s3cr3t" not in text and "pw-two" not in text
    assert yaml.safe_load(cli("context", "show", "of").stdout)["options"] == {"user": "admin"}


@pytest.mark.parametrize("args,stdin,code,needles", [
    (["--backend", "openfaas", "--url", "http://g", "-O", "password=x"], None, 2,
     ["a password is a secret", "--password-stdin"]),
    (["--backend", "openfaas", "--url", "http://g", "-O", "token=x"], None, 2, ["a token is a secret"]),
    (["--backend", "openfaas", "--url", "http://g", "--password-stdin"], "", 2, ["no password on stdin"]),
    (["--backend", "openfaas", "--url", "http://g", "--token", "t", "--password-stdin"], "p", 2,
     ["either a token or --password-stdin"]),
    (["--backend", "openfaas", "--url", "http://g", "--user", "a", "-O", "user=b"], None, 2,
     ["two users"]),
    (["--backend", "local", "--password-stdin"], "p", 2, ["takes no a basic-auth password"]),
    (["--backend", "local", "--user", "admin"], None, 2, ["takes no option 'user'"]),
])
def test_basic_auth_mistakes(args, stdin, code, needles):
    _error(cli("context", "add", "bad", *args, input=stdin, code=code), *needles)
    assert "bad" not in config.load_credentials()


def test_openfaas_context_shows_real_timeouts_and_a_summary_without_question_marks(engine):
    cli("context", "add", "of", "--backend", "openfaas", "--url", engine.url)
    fns = {f["name"]: f for f in json.loads(cli("--context", "of", "functions", "-o", "json").stdout)}
    assert fns["hello"]["timeout_s"] == 10 and fns["sleep"]["timeout_s"] == 5
    assert "TIMEOUT S" in cli("--context", "of", "functions").stdout
    r = cli("--context", "of", "invoke", "hello", "-d", '{"name": "OF"}')
    assert json.loads(r.stdout) == {"message": "Hello, OF!"}
    assert "?" not in r.stderr and r.stderr.startswith("hello: ok, ")


# ---- deploy a folder of function folders ---------------------------------------------------
def test_deploy_a_folder_of_function_folders(ctx, tmp_path):
    shelf = tmp_path / "shelf"
    for name in ("one", "two"):
        (shelf / name).mkdir(parents=True)
        (shelf / name / "handler.py").write_text(f"def handle(req):\n    return {name!r}\n")
    (shelf / "notes").mkdir()
    (shelf / "notes" / "README.md").write_text("not a function")
    r = cli("deploy", str(shelf))
    assert "a folder of 2 function folder(s); deploying each (not functions, left alone: notes)" in r.stderr
    assert "deployed one" in r.stderr and "deployed two" in r.stderr
    assert cli("invoke", "two", "-d", "x", "--raw").stdout.strip() == "two"
    cli("rm", "one", "two")
    assert "error: notes holds no function" in cli("deploy", str(shelf / "notes"), code=2).stderr


def test_the_shell_asks_and_context_completion_answers(tmp_path):
    """Through the shell completion protocol, as bash calls it (a fresh process)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    cli("context", "add", "prod", "--url", "http://127.0.0.1:1")
    faastui = Path(sys.executable).with_name("faastui")
    env = {**os.environ, "_FAASTUI_COMPLETE": "complete_bash", "COMP_WORDS": "faastui --context pr",
           "COMP_CWORD": "2"}
    out = subprocess.run([str(faastui)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.split() == ["prod"], out


def test_openfaas_status_timeouts_from_exec_timeout():
    from backends.openfaas import function_from_status
    from faastui.output import describe_text

    assert function_from_status({"name": "f", "envVars": {"exec_timeout": "1m30s"}}).timeout_s == 90
    assert function_from_status({"name": "f", "envVars": {"exec_timeout": "45"}}).timeout_s == 45
    assert function_from_status({"name": "f", "annotations": {"faastui/timeout_s": "7"}}).timeout_s == 7
    unknown = function_from_status({"name": "f", "envVars": {"exec_timeout": "soon"}})
    assert unknown.timeout_s == 0 and "Timeout s:    -" in describe_text(unknown)


def test_n_is_the_namespace_on_logs_bench_and_workflow_too(ctx):
    """The commands where -n meant a count take it as the namespace now (long names stay)."""
    for args in (["logs", "echo", "-n", "5"], ["bench", "echo", "-n", "5"]):
        _error(cli(*args, code=3), "the local backend has no namespaces (-n 5)")
    assert cli("bench", "echo", "--requests", "3", "-c", "1", "-o", "json").stdout
    assert "--tail" in cli("logs", "--help").stdout and "-n, --namespace" in cli("logs", "--help").stdout
    bench_help = cli("bench", "--help").stdout
    assert "--requests" in bench_help and "-n, --requests" not in bench_help
    workflow_help = cli("workflow", "run", "--help").stdout
    assert "--tasks" in workflow_help and "-n, --tasks" not in workflow_help
    r = cli("workflow", "run", "-n", "5", code=2)
    assert "No such option: -n" in r.stderr
