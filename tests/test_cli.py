"""CliRunner tests of every command against the real session engine (and its Redis).

The CLI is pointed at the engine by a context written with `faastui context
add`; each test gets fresh XDG dirs (conftest), so contexts never leak.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from backends.model import FusionGroup, Function, Invocation, Node, Placement, QoSStat, QueueStat
from faastui.cli import app
from tests.conftest import cli

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {cls: {f for f in cls.__dataclass_fields__} for cls in
          (Node, Function, Placement, QueueStat, QoSStat, FusionGroup, Invocation)}


@pytest.fixture()
def ctx(engine):
    """A context `t` pointing at the session engine, made current."""
    cli("context", "add", "t", "--url", engine.url, "--use")
    return engine


def _one_line_error(result, *needles: str) -> None:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error: "), result.stderr
    assert len(lines) <= 3, result.stderr  # error + hint (+ usage for click errors)
    for n in needles:
        assert n in result.stderr


# ---- reads, every format --------------------------------------------------------------------
@pytest.mark.parametrize("command,kind", [
    (["nodes"], Node), (["functions"], Function), (["ls"], Function),
    (["placement", "--all"], Placement), (["queues"], QueueStat), (["qos"], QoSStat),
    (["fusion"], FusionGroup),
])
def test_reads_in_every_format(ctx, command, kind):
    cli("invoke", "hello")  # so qos has a row
    as_json = json.loads(cli(*command, "-o", "json").stdout)
    as_yaml = yaml.safe_load(cli(*command, "-o", "yaml").stdout) or []
    volatile = {"used_cpus"}  # a rate measured at each read, not a stored value
    assert [{k: v for k, v in i.items() if k not in volatile} for i in as_json] == \
        [{k: v for k, v in i.items() if k not in volatile} for i in as_yaml]
    for item in as_json:
        assert set(item) == FIELDS[kind]  # the model's field names, nothing else
    table = cli(*command).stdout
    wide = cli(*command, "-o", "wide").stdout
    if kind is not FusionGroup:
        assert as_json, command
        first = as_json[0].get("name") or as_json[0].get("function") or as_json[0].get("subject")
        assert first in table and first in wide
    assert len(wide.splitlines()[0]) >= len(table.splitlines()[0])


def test_nodes_and_functions_content(ctx):
    nodes = json.loads(cli("nodes", "-o", "json").stdout)
    assert [n["name"] for n in nodes] == ["node-1", "node-2", "node-3"]
    names = {f["name"] for f in json.loads(cli("functions", "-o", "json").stdout)}
    assert {"hello", "echo", "crash"} <= names
    assert "LABELS" in cli("nodes", "-o", "wide").stdout and "LABELS" not in cli("nodes").stdout


def test_queues_come_from_the_engines_redis(ctx):
    queues = json.loads(cli("queues", "-o", "json").stdout)
    assert "input_queue" in {q["name"] for q in queues}


def test_describe(ctx):
    out = cli("describe", "hello").stdout
    assert "Name:" in out and "hello" in out and "Deadline ms:" in out
    data = json.loads(cli("describe", "hello", "-o", "json").stdout)
    assert data["name"] == "hello" and set(data) == FIELDS[Function]
    err = cli("describe", "helo", code=1)
    _one_line_error(err, "not found", "hello")


def test_bad_output_format_is_a_usage_error(ctx):
    r = cli("nodes", "-o", "xml", code=2)
    assert "xml" in r.stderr


# ---- invoke, async, result ------------------------------------------------------------------
def test_invoke_prints_result_and_summary(ctx):
    r = cli("invoke", "hello", "-d", '{"name": "Ada"}')
    assert json.loads(r.stdout) == {"message": "Hello, Ada!"}
    assert "hello on node-" in r.stderr and "ms" in r.stderr
    inv = json.loads(cli("invoke", "hello", "-d", '{"name": "Bo"}', "-o", "json").stdout)
    assert set(inv) == FIELDS[Invocation] and inv["result"] == {"message": "Hello, Bo!"}
    assert inv["container_state"] in ("cold", "prewarm", "warm")
    assert yaml.safe_load(cli("invoke", "hello", "-o", "yaml").stdout)["function"] == "hello"


def test_invoke_payload_from_stdin_and_file(ctx, tmp_path):
    assert json.loads(cli("invoke", "hello", input='{"name": "Stdin"}').stdout)["message"] == "Hello, Stdin!"
    f = tmp_path / "p.json"
    f.write_text('{"name": "File"}')
    assert json.loads(cli("invoke", "hello", "-d", f"@{f}").stdout)["message"] == "Hello, File!"
    assert json.loads(cli("invoke", "hello", "-d", "Raw", "--raw").stdout)["message"] == "Hello, Raw!"
    _one_line_error(cli("invoke", "hello", "-d", f"@{tmp_path}/missing", code=2), "cannot read")


def test_invoke_on_a_node(ctx):
    inv = json.loads(cli("invoke", "echo", "--node", "node-3", "-o", "json").stdout)
    assert inv["node"] == "node-3"


@pytest.mark.parametrize("args,code,needle", [
    (["invoke", "hello", "-d", "{bad"], 2, "not valid JSON"),
    (["invoke", "nope"], 1, "not found"),
    (["invoke", "hello", "--node", "node-9"], 1, "node-9"),
    (["invoke", "hello", "--async", "--node", "node-1"], 2, "--async"),
])
def test_invoke_bad_input(ctx, args, code, needle):
    _one_line_error(cli(*args, code=code), needle)


def test_failing_function_exits_1_with_its_error(ctx):
    r = cli("invoke", "crash", "-d", '{"mode": "raise"}', code=1)
    assert "asked to raise" in r.stderr and r.stdout == ""


def test_async_and_result(ctx):
    call_id = cli("invoke", "hello", "-d", '{"name": "Later"}', "--async").stdout.strip()
    assert call_id and "faastui result" in cli("invoke", "echo", "--async").stderr
    r = cli("result", call_id, "--wait", "--timeout", "10")
    assert json.loads(r.stdout) == {"message": "Hello, Later!"}
    _one_line_error(cli("result", "no-such-call", code=1))
    cid = json.loads(cli("invoke", "echo", "--async", "-o", "json").stdout)["call_id"]
    assert json.loads(cli("result", cid, "--wait", "-o", "json").stdout)["call_id"] == cid


# ---- prewarm, dispatch, fuse, scale ---------------------------------------------------------
def test_prewarm(ctx):
    started = json.loads(cli("prewarm", "echo", "--node", "node-2", "--count", "2", "-o", "json").stdout)
    assert len(started) == 2 and {s["node"] for s in started} == {"node-2"}
    everywhere = json.loads(cli("prewarm", "echo", "--all-nodes", "-o", "json").stdout)
    assert {s["node"] for s in everywhere} == {"node-1", "node-2", "node-3"}
    placed = json.loads(cli("placement", "-f", "echo", "-o", "json").stdout)
    assert {p["node"] for p in placed} == {"node-1", "node-2", "node-3"}
    placed = json.loads(cli("prewarm", "echo", "-o", "json").stdout)  # the engine picks the node
    assert len(placed) == 1 and placed[0]["node"] in ("node-1", "node-2", "node-3")
    _one_line_error(cli("prewarm", "echo", "--node", "n", "--all-nodes", code=2), "either")
    _one_line_error(cli("prewarm", "echo", "--node", "nowhere", code=1), "nowhere")
    assert "--count" in cli("prewarm", "echo", "--node", "node-1", "--count", "0", code=2).stderr


def test_dispatch_chain_and_fanout(ctx):
    r = cli("dispatch", "-i", '{"name": "Chain"}', "-s", "node-1:echo", "-s", "node-2:hello")
    assert json.loads(r.stdout) == {"message": "Hello, Chain!"}
    assert "node-2" in r.stderr  # the step table
    res = json.loads(cli("dispatch", "-i", "x", "-s", "node-1:echo", "-s", "node-3:echo", "--fanout",
                         "-o", "json").stdout)
    assert res["mode"] == "fanout" and [s["node"] for s in res["steps"]] == ["node-1", "node-3"]


@pytest.mark.parametrize("step,code", [("node-1", 2), (":hello", 2), ("node-1:", 2),
                                       ("node-9:hello", 1), ("node-1:nope", 1)])
def test_dispatch_bad_steps(ctx, step, code):
    _one_line_error(cli("dispatch", "-i", "x", "-s", step, code=code))


def test_fuse_fusion_unfuse(ctx):
    group = json.loads(cli("fuse", "json-transformer", "data-processor", "--name", "pair",
                           "-o", "json").stdout)
    try:
        assert group["name"] == "pair" and set(group["functions"]) == {"json-transformer", "data-processor"}
        assert "pair" in cli("fusion").stdout
    finally:
        r = cli("unfuse", "pair")
    assert "json-transformer" in r.stderr
    assert "pair" not in cli("fusion").stdout
    _one_line_error(cli("fuse", "hello", code=2), "two")
    _one_line_error(cli("unfuse", "no-group", code=1))


def test_scale_absolute_and_relative(ctx):
    def replicas(*args):
        return json.loads(cli("scale", "sleep", *args, "-o", "json").stdout)["replicas"]
    try:
        assert replicas("2") == 2
        assert replicas("+1") == 3
        assert replicas("-2") == 1
    finally:
        cli("scale", "sleep", "0")
    _one_line_error(cli("scale", "sleep", "lots", code=2), "N, +K or -K")
    _one_line_error(cli("scale", "nope", "+1", code=1), "not found")


# ---- deploy, rm, logs ---------------------------------------------------------------------
def test_deploy_folder_zip_source_and_rm(ctx, tmp_path):
    fn = json.loads(cli("deploy", str(ROOT / "functions" / "hello"), "--name", "hello-copy",
                        "-o", "json").stdout)
    assert fn["name"] == "hello-copy"
    archive = tmp_path / "echo.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in (ROOT / "functions" / "echo").iterdir():
            z.write(f, f.name)
    assert "echo-zip" in cli("deploy", str(archive), "--name", "echo-zip").stdout
    src = tmp_path / "h.py"
    src.write_text("def handle(req):\n    return 'from source: ' + req\n")
    cli("deploy", "--source", str(src), "--name", "from-src")
    assert cli("invoke", "from-src", "-d", "hi", "--raw").stdout.strip() == "from source: hi"
    r = cli("rm", "hello-copy", "echo-zip", "from-src")
    assert "removed echo-zip" in r.stderr
    names = {f["name"] for f in json.loads(cli("functions", "-o", "json").stdout)}
    assert not names & {"hello-copy", "echo-zip", "from-src"}
    _one_line_error(cli("rm", "hello-copy", code=1), "not found")
    _one_line_error(cli("deploy", str(tmp_path / "nothing"), code=2), "does not exist")
    _one_line_error(cli("deploy", code=2), "PATH")


def test_logs(ctx):
    cli("invoke", "hello")
    cli("logs", "hello", "--tail", "5")
    for line in cli("logs", "hello", "-o", "json").stdout.splitlines():  # faas-cli's messages
        assert set(json.loads(line)) == {"name", "namespace", "instance", "timestamp", "text"}
    _one_line_error(cli("logs", "nope", code=1))


# ---- status, watch --once, bench, completion ----------------------------------------------
def test_status(ctx):
    out = cli("status").stdout
    assert ctx.url in out and "functions:" in out
    data = json.loads(cli("status", "-o", "json").stdout)
    assert data["url"] == ctx.url and data["nodes"] == 3 and data["functions"] >= 10
    assert data["redis_url"]


def test_watch_once(ctx):
    out = cli("watch", "--once").stdout
    for part in ("Nodes (3)", "Queues", "QoS", "Fusion groups", "node-1"):
        assert part in out
    snap = json.loads(cli("watch", "--once", "-o", "json").stdout)
    assert {n["name"] for n in snap["nodes"]} == {"node-1", "node-2", "node-3"}


def test_bench(ctx):
    r = cli("bench", "hello", "--requests", "30", "-c", "3")
    assert "30 calls" in r.stdout and "p50" in r.stdout and "warm" in r.stdout
    rep = json.loads(cli("bench", "echo", "--requests", "10", "-c", "2", "-o", "json").stdout)
    assert rep["calls"] == 10 and rep["errors"] == 0 and sum(
        s["count"] for s in rep["by_state"].values()) == 10
    assert rep["latency_ms"]["p50"] <= rep["latency_ms"]["p99"] <= rep["latency_ms"]["max"]
    _one_line_error(cli("bench", "nope", "--requests", "2", code=1), "not found")
    r = cli("bench", "crash", "--requests", "4", "-c", "2", "-d", '{"mode": "raise"}', code=1)
    assert "4 errors" in r.stdout


def test_completion_names_come_from_the_context(ctx):
    from faastui.cli._common import complete_function, complete_node

    assert complete_function("hel") == ["hello"]
    assert complete_node("node-") == ["node-1", "node-2", "node-3"]
    assert "--install-completion" in cli("--help").stdout


def test_no_args_prints_help():
    r = cli()
    assert "Usage" in r.stdout and "invoke" in r.stdout


# ---- unreachable, unsupported, colour ---------------------------------------------------------
@pytest.mark.parametrize("args", [["nodes"], ["invoke", "hello"], ["status"], ["watch", "--once"],
                                  ["scale", "hello", "+1"]])
def test_unreachable_backend_exits_4_with_hint(args):
    cli("context", "add", "dead", "--url", "http://127.0.0.1:1", "--use")
    r = cli(*args, code=4)
    assert "does not answer" in r.stderr and "faastui up" in r.stderr


def test_local_context_without_engine_is_unreachable():
    _one_line_error(cli("functions", code=4), "faastui up")


def test_unsupported_action_exits_3(monkeypatch):
    from backends import registry

    monkeypatch.setitem(registry._BUILTIN, "minimal", "tests.test_cli:MinimalBackend")
    cli("context", "add", "min", "--backend", "minimal", "--use")
    for args in (["fuse", "a", "b"], ["invoke", "x"], ["prewarm", "x", "--node", "n"], ["logs", "x"]):
        _one_line_error(cli(*args, code=3), "cannot")
    assert json.loads(cli("nodes", "-o", "json").stdout) == [Node(name="only").to_dict()]


def test_no_color_is_honoured(ctx):
    colored = cli("nodes", env={"FORCE_COLOR": "1", "NO_COLOR": None}).stdout
    assert "\x1b[" in colored
    plain = cli("nodes", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert "\x1b[" not in plain and "node-1" in plain


from backends.base import Backend  # noqa: E402
from backends.model import Snapshot  # noqa: E402


class MinimalBackend(Backend):
    """A backend with no capabilities: only snapshot()."""

    name = "minimal"

    def __init__(self, **_kw):
        pass

    async def snapshot(self) -> Snapshot:
        return Snapshot(nodes=[Node(name="only")])


def test_ui_without_a_terminal_says_so_instead_of_hanging():
    r = CliRunner().invoke(app, ["ui"])
    assert r.exit_code == 2 and "needs a terminal" in r.stderr and "faastui watch" in r.stderr
    assert "Traceback" not in r.stdout + r.stderr
