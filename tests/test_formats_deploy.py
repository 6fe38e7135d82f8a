"""Functions in their platforms' own formats deploy and run unchanged: through the CLI, on
the real engine (its own zygotes, workers and Redis), with answers compared byte for byte
with what each platform returns (the expected bytes are written out here from the
platforms' templates and runtimes, not computed with faastui's code).

Requirements install from wheels this module builds itself (``tests/wheels.py``): the
engine's pip gets ``PIP_NO_INDEX``/``PIP_FIND_LINKS``, so nothing touches the network.
"""

from __future__ import annotations

from http.client import HTTPConnection
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import FUNCTIONS, cli, running_engine
from tests.wheels import build_wheel, pip_env

FORMATS = FUNCTIONS / "formats"
STACK = FORMATS / "openfaas" / "stack.yml"


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    base = tmp_path_factory.mktemp("formats")
    wheels = base / "wheels"
    build_wheel(wheels, "tinylib", "1.0")
    build_wheel(wheels, "tinylib", "2.0")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in pip_env(wheels).items():
            mp.setenv(key, value)
        with running_engine(base / "state", nodes=2) as handle:
            yield handle


@pytest.fixture()
def ctx(eng):
    cli("context", "add", "t", "--url", eng.url, "--use")
    return eng


class Answer:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body


def http(eng, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> Answer:
    conn = HTTPConnection("127.0.0.1", eng.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def post_json(eng, path: str, data) -> Answer:
    return http(eng, "POST", path, json.dumps(data).encode(), {"Content-Type": "application/json"})


def names() -> set[str]:
    return {f["name"] for f in json.loads(cli("functions", "-o", "json").stdout)}


def one_line_error(result, *needles: str) -> None:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("deploying ")]
    assert lines and lines[0].startswith("error: "), result.stderr
    assert len(lines) <= 2 and all(ln.startswith(("error: ", "hint: ")) for ln in lines), result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def nothing_staged(eng) -> bool:
    staging = eng.state_dir / "staging"
    return not staging.exists() or not any(staging.iterdir())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def zip_contents(folder: Path, archive: Path) -> Path:
    """A zip of ``folder``'s files at the archive's root (as a Fusionizer task zip is made)."""
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f.name)
    return archive


def events(eng, kind: str, function: str) -> list[dict]:
    return [e for e in json.loads(http(eng, "GET", "/faastui/v1/events").body)
            if e["kind"] == kind and e.get("function") == function]


# ---- a bare folder, a zip --------------------------------------------------------------------
def test_a_bare_folder_is_named_after_itself_and_an_unnamed_zip_after_its_file(ctx, tmp_path):
    r = cli("deploy", str(FORMATS / "bare" / "greet_user"))
    assert "deploying greet-user (a bare folder)" in r.stderr and "deployed greet-user" in r.stderr
    assert cli("invoke", "greet-user", "-d", "Bob", "--raw").stdout == "Hi Bob, from a bare folder\n"

    src = write(tmp_path / "src" / "main.py", "def handle(req):\n    return req.upper()\n").parent
    archive = zip_contents(src, tmp_path / "Shout_Zip.zip")
    assert "deployed shout-zip" in cli("deploy", str(archive)).stderr
    assert http(ctx, "POST", "/function/shout-zip", b"hey").body == b"HEY"

    # the engine's deploy API takes the same zip; without a name it says how to give one
    again = http(ctx, "POST", "/faastui/v1/deploy?name=shout-api", archive.read_bytes(),
                 {"Content-Type": "application/zip"})
    assert again.status == 201 and json.loads(again.body)["name"] == "shout-api"
    unnamed = http(ctx, "POST", "/faastui/v1/deploy", archive.read_bytes(),
                   {"Content-Type": "application/zip"})
    assert unnamed.status == 400 and "does not say its function's name" in json.loads(unnamed.body)["error"]


# ---- an OpenFaaS stack file ------------------------------------------------------------------
def test_a_stack_file_deploys_the_named_functions_and_they_answer_as_openfaas(ctx):
    r = cli("deploy", "-f", str(STACK), "function1", "http-echo")
    assert "deployed function1" in r.stderr and "deployed http-echo" in r.stderr
    assert r.stderr.count("provider.gateway is ignored") == 1  # said once, not per function
    assert {"function1", "http-echo"} <= names() and "flask-hello" not in names()

    # lang python3, the classic watchdog: the answer is print(return value), and it keeps
    # the caller's content type
    a = http(ctx, "POST", "/function/function1", b"Hello, world!", {"Content-Type": "text/plain"})
    assert (a.status, a.headers["content-type"], a.body) == (200, "text/plain", b"Hello, world! (function1)\n")
    # the Invokers sample's 3-step chain, naming the function by its image, tagged or not
    steps = [{"node": "node-1", "function": "registry/function1"},
             {"node": "node-2", "function": "registry/function1:latest"},
             {"node": "node-1", "function": "docker.io/registry/function1"}]
    chain = json.loads(post_json(ctx, "/dispatch", {"input": "Hello, world!", "steps": steps}).body)
    assert chain["output"] == "Hello, world! (function1)\n (function1)\n (function1)\n"

    # lang python3-http: method, sub path, query and headers reach event.*; the returned
    # statusCode/body/headers are the answer, a dict body through Flask's jsonify
    a = http(ctx, "PUT", "/function/http-echo/items/7?x=1&x=2&y=", b"payload", {"X-Client": "curl"})
    assert (a.status, a.headers["content-type"], a.headers["x-echo"]) == (200, "application/json", "yes")
    assert a.body == (b'{"body":"payload","client":"curl","greeting":"Hello","method":"PUT",'
                      b'"path":"/items/7","query":{"x":"1","y":""}}\n')

    status = json.loads(http(ctx, "GET", "/system/function/http-echo").body)
    assert status["image"] == "registry/http-echo:0.1"
    assert status["envVars"]["GREETING"] == "Hello"  # from environment_file
    assert status["limits"] == {"memory": "64Mi", "cpu": "0.25"}
    assert status["annotations"]["com.openfaas.scale.max"] == "2"
    fns = {f["name"]: f for f in json.loads(cli("functions", "-o", "json").stdout)}
    assert fns["http-echo"]["timeout_s"] == 10  # exec_timeout in the environment file
    one = json.loads(http(ctx, "GET", "/system/function/function1").body)
    assert one["image"] == "registry/function1:latest"  # ${REGISTRY:-registry} substituted
    assert one["replicas"] >= 1  # com.openfaas.scale.min

    # com.openfaas.scale.max caps the replicas (one container already serves the call above)
    assert "prewarmed 1 container(s)" in cli("prewarm", "http-echo", "--count", "3").stderr
    assert json.loads(cli("describe", "http-echo", "-o", "json").stdout)["available_replicas"] == 2
    one_line_error(cli("prewarm", "http-echo", code=1), "maximum of 2 replicas")


def test_python3_flask_answers_as_flask_does(ctx):
    cli("deploy", "-f", str(STACK), "flask-hello")
    a = http(ctx, "POST", "/function/flask-hello", b"Ada")
    assert (a.headers["content-type"], a.body) == ("text/html; charset=utf-8", b"Hello from Flask, Ada")


def test_stack_constraints_pin_a_function_and_its_secrets_are_kept(ctx, tmp_path):
    write(tmp_path / "pinned" / "handler.py", "import os\n\ndef handle(req):\n    return os.environ['FAASTUI_NODE']\n")
    stack = write(tmp_path / "stack.yml", yaml.safe_dump({
        "version": 1.0, "provider": {"name": "openfaas"},
        "functions": {"pinned": {"lang": "python3", "handler": "./pinned", "secrets": ["api-key"],
                                 "constraints": ["node.hostname == node-2", "node.platform.os == linux"]}}}))
    refused = cli("deploy", "-f", str(stack), code=2)
    assert "error: pinned needs secret(s) api-key, which do not exist" in refused.stderr
    cli("secret", "create", "api-key", "--from-literal", "k")
    r = cli("deploy", "-f", str(stack))
    assert "constraint 'node.platform.os == linux' is ignored" in r.stderr
    for _ in range(3):
        inv = json.loads(cli("invoke", "pinned", "-o", "json").stdout)
        assert inv["node"] == "node-2" and inv["result"] == "node-2\n"
    one_line_error(cli("invoke", "pinned", "--node", "node-1", code=2), "pinned to node 'node-2'")
    status = json.loads(http(ctx, "GET", "/system/function/pinned").body)
    assert status["secrets"] == ["api-key"] and status["constraints"] == ["node.hostname == node-2"]


def test_a_classic_function_sees_the_request_as_the_watchdog_passes_it(ctx, tmp_path):
    write(tmp_path / "env-probe" / "handler.py",
          "import os, sys\n\ndef handle(req):\n"
          "    print('printed first')\n"
          "    sys.stderr.write('and stderr\\n')\n"
          "    keys = ('Http_Method', 'Http_Path', 'Http_Query', 'Http_X_Client', 'Http_Content_Length')\n"
          "    return ' '.join(os.environ.get(k, '-') for k in keys) + ' ' + repr(req)\n")
    stack = write(tmp_path / "stack.yml", yaml.safe_dump({
        "provider": {"name": "openfaas"},
        "functions": {"env-probe": {"lang": "python3-debian", "handler": "./env-probe"}}}))
    cli("deploy", "-f", str(stack))
    a = http(ctx, "DELETE", "/function/env-probe/x/y?q=1", b"a\r\nb", {"X-Client": "me"})
    assert a.body == b"printed first\nand stderr\nDELETE /x/y q=1 me 4 'a\\nb'\n"
    # the next call does not see the previous one's query
    a = http(ctx, "POST", "/function/env-probe", b"")
    assert a.body == b"printed first\nand stderr\nPOST / - - 0 ''\n"


# ---- a Nuclio function.yaml ------------------------------------------------------------------
def test_a_nuclio_function_yaml_with_build_commands(ctx, tmp_path):
    pkg = tmp_path / "adder"
    shutil.copytree(FORMATS / "nuclio" / "adder", pkg)
    meta = yaml.safe_load((pkg / "function.yaml").read_text())
    meta["spec"]["build"] = {"commands": ["pip install --no-cache-dir tinylib==1.0"]}
    meta["metadata"]["name"] = "adder-built"
    (pkg / "function.yaml").write_text(yaml.safe_dump(meta))
    (pkg / "main.py").write_text("import tinylib  # installed by the build command\n" + (pkg / "main.py").read_text())
    r = cli("deploy", str(pkg))
    assert "deploying adder-built (Nuclio function.yaml; requirements: 1 (tinylib==1.0)" in r.stderr
    assert r.stderr.count("spec.triggers is ignored") == 1 and "--no-cache-dir" in r.stderr

    # a JSON body arrives decoded; a number comes back as Nuclio's text
    status = json.loads(http(ctx, "GET", "/system/function/adder-built").body)
    assert status["labels"] == {"app": "samples"} and status["envVars"] == {"OFFSET": "0"}
    assert status["annotations"]["faastui/description"] == "adds value1 and value2 of a JSON body"
    assert status["limits"]["memory"] == "64Mi"
    a = post_json(ctx, "/function/adder-built", {"value1": 5, "value2": 3})
    assert (a.status, a.headers["content-type"], a.body) == (200, "text/plain", b"8")
    assert cli("invoke", "adder-built", "-d", '{"value1": 1, "value2": 2}').stdout == "3\n"
    logs = [json.loads(m)["text"] for m in cli("logs", "adder-built", "-o", "json").stdout.splitlines()]
    assert any("[info] adding: {'value1': 5, 'value2': 3}" in line for line in logs)


def test_nuclio_event_and_response_rules(ctx, tmp_path):
    write(tmp_path / "probe" / "function.yaml", yaml.safe_dump({
        "apiVersion": "nuclio.io/v1", "kind": "NuclioFunction", "metadata": {"name": "nuclio-probe"},
        "spec": {"handler": "probe:entry", "runtime": "python:3.11"}}))
    write(tmp_path / "probe" / "probe.py",
          "def entry(context, event):\n"
          "    if event.path == '/tuple':\n        return 202, {'accepted': True}\n"
          "    seen = {'body': type(event.body).__name__, 'method': event.method, 'path': event.path,\n"
          "            'fields': event.fields, 'test': event.headers.get('X-Test'),\n"
          "            'ctype': event.content_type}\n"
          "    return context.Response(body=seen, headers={'X-Probe': '1'},\n"
          "                            content_type='application/json', status_code=201)\n")
    cli("deploy", str(tmp_path / "probe"))
    a = http(ctx, "POST", "/function/nuclio-probe/p?k=v", b'{"a": 1}',
             {"Content-Type": "application/json", "X-Test": "t"})
    assert (a.status, a.headers["x-probe"], a.headers["content-type"]) == (201, "1", "application/json")
    assert json.loads(a.body) == {"body": "dict", "method": "POST", "path": "/p", "fields": {"k": "v"},
                                  "test": "t", "ctype": "application/json"}
    # only exactly application/json is decoded, as Nuclio does
    a = http(ctx, "GET", "/function/nuclio-probe", b'{"a": 1}', {"Content-Type": "application/json; charset=utf-8"})
    assert json.loads(a.body)["body"] == "bytes" and json.loads(a.body)["method"] == "GET"
    a = http(ctx, "POST", "/function/nuclio-probe/tuple")
    assert (a.status, a.body) == (202, b'{"accepted": true}')


# ---- an Ilúvatar folder ----------------------------------------------------------------------
def test_an_iluvatar_folder_with_reqs_txt(ctx, tmp_path):
    write(tmp_path / "ilu_req" / "main.py",
          "import tinylib\n\ndef main(args):\n    return {'b': args.get('n', 0) + 1, 'a': tinylib.VALUE}\n")
    write(tmp_path / "ilu_req" / "reqs.txt", "tinylib==2.0\n")
    r = cli("deploy", str(tmp_path / "ilu_req"))
    assert "deploying ilu-req (Ilúvatar folder; requirements: 1 (tinylib==2.0)" in r.stderr
    a = post_json(ctx, "/function/ilu-req", {"n": 1})
    assert (a.headers["content-type"], a.body) == ("application/json", b'{"b": 2, "a": "2.0"}')  # json.dumps

    cli("deploy", str(FORMATS / "iluvatar" / "ilu_hello"))
    first = post_json(ctx, "/function/ilu-hello", {"name": "Ada"})
    body = json.loads(first.body)["body"]
    assert body["greeting"] == "Hello Ada from python!" and body["cold"] is True
    assert json.loads(post_json(ctx, "/function/ilu-hello", {}).body)["body"]["cold"] is False


# ---- Fusionizer tasks --------------------------------------------------------------------------
def test_fusionizer_task_zips_fused_call_each_other_in_process(ctx, tmp_path):
    for task in ("taska", "taskb"):
        archive = zip_contents(FORMATS / "fusionizer" / task, tmp_path / f"upload-{task}.zip")
        r = cli("deploy", str(archive), "--name", task)  # deployed under the name given with it
        assert f"deployed {task}" in r.stderr
    # taska's `pip install requests` never runs (there is no index here): tasks have requests
    assert "pip install requests: not needed" in cli("deploy", str(FORMATS / "fusionizer" / "taska")).stderr
    apart = post_json(ctx, "/function/taska", {})
    assert (apart.headers["content-type"], apart.body) == ("text/plain", b"8")
    graph = json.loads(http(ctx, "GET", "/faastui/v1/callgraph").body)
    assert {"caller": "taska", "callee": "taskb", "calls": 1} in graph

    cli("fuse", "taska", "taskb", "--name", "tasks")
    # through a Fusionizer front server: its address in the header, the call stays local
    fused = http(ctx, "POST", "/function/taska", b"{}", {"Content-Type": "application/json",
                                                        "Fusionizer-Server-Address": "fusionizer.local"})
    assert fused.body == b"8"
    assert post_json(ctx, "/function/taska", {}).body == b"8"  # and with the engine's address
    group = next(g for g in json.loads(cli("fusion", "-o", "json").stdout) if g["name"] == "tasks")
    assert (group["calls_local"], group["calls_remote"]) == (2, 0)
    graph = json.loads(http(ctx, "GET", "/faastui/v1/callgraph").body)
    assert {"caller": "taska", "callee": "taskb", "calls": 1} in graph  # no new remote call
    cli("unfuse", "tasks")


def test_a_task_sees_its_headers_and_has_requests(ctx, tmp_path):
    task = tmp_path / "whoami"
    write(task / "function.yaml", (FORMATS / "fusionizer" / "taska" / "function.yaml").read_text())
    write(task / "main.py",
          "import requests\n\ndef handler(context, event, requests_session):\n"
          "    assert isinstance(requests_session, requests.Session)\n"
          "    return event.headers['Task-Name'] + ' ' + event.headers['Fusionizer-Server-Address']\n")
    r = cli("deploy", str(zip_contents(task, tmp_path / "whoami.zip")))
    assert "pip install requests: not needed" in r.stderr
    assert post_json(ctx, "/function/whoami", {}).body == b"whoami 127.0.0.1"
    a = http(ctx, "POST", "/function/whoami", b"{}", {"Fusionizer-Server-Address": "10.1.2.3",
                                                     "Task-Name": "whoami"})
    assert a.body == b"whoami 10.1.2.3"


# ---- requirements ------------------------------------------------------------------------------
def test_requirements_per_function_kept_when_unchanged_and_a_pip_failure_changes_nothing(ctx, tmp_path):
    pkg = tmp_path / "withreq"
    write(pkg / "handler.py", "import tinylib\n\ndef handle(req):\n    return 'tinylib ' + tinylib.VALUE\n")
    write(pkg / "requirements.txt", "tinylib==1.0\n")
    assert "requirements: 1 (tinylib==1.0)" in cli("deploy", str(pkg)).stderr
    assert cli("invoke", "withreq").stdout == "tinylib 1.0\n"
    # never into faastui's own environment
    assert subprocess.run([sys.executable, "-c", "import tinylib"], capture_output=True).returncode != 0
    deps = ctx.state_dir / "deps" / "withreq"
    [first] = list(deps.iterdir())
    before = (first / ".complete").stat()

    cli("deploy", str(pkg))  # unchanged: no pip run
    assert list(deps.iterdir()) == [first]
    after = (first / ".complete").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [e["requirements"] for e in events(ctx, "deploy", "withreq")][-2:] == ["installed", "kept"]

    write(pkg / "requirements.txt", "tinylib==2.0\n")
    cli("deploy", str(pkg))
    assert cli("invoke", "withreq").stdout == "tinylib 2.0\n"
    [second] = list(deps.iterdir())
    assert second != first  # the old folder went with the old version

    write(pkg / "requirements.txt", "tinylib==2.0\nnosuchlib\n")
    r = cli("deploy", str(pkg), code=2)
    one_line_error(r, "installing the requirements of withreq failed",
                   "No matching distribution found for nosuchlib")
    assert cli("invoke", "withreq").stdout == "tinylib 2.0\n"  # the old version still answers
    assert list(deps.iterdir()) == [second]  # no half-installed folder left
    assert len(list((ctx.state_dir / "functions" / "withreq").iterdir())) == 1
    assert nothing_staged(ctx) and (ctx.state_dir / "pip-cache").is_dir()


# ---- bad input: one line, non-zero, nothing half-deployed --------------------------------------
def _stack(tmp: Path, functions: dict) -> list[str]:
    write(tmp / "fn" / "handler.py", "def handle(req):\n    return req\n")
    return ["-f", str(write(tmp / "stack.yml", yaml.safe_dump(
        {"version": 1.0, "provider": {"name": "openfaas"}, "functions": functions})))]


def _nuclio(tmp: Path, spec: dict, module: str = "main") -> list[str]:
    write(tmp / "nu" / f"{module}.py", "def handler(context, event):\n    return 1\n")
    write(tmp / "nu" / "function.yaml", yaml.safe_dump(
        {"apiVersion": "nuclio.io/v1", "kind": "NuclioFunction", "metadata": {"name": "bad-nu"},
         "spec": spec}))
    return [str(tmp / "nu")]


def _folder(tmp: Path, name: str, files: dict) -> list[str]:
    for fname, text in files.items():
        write(tmp / name / fname, text)
    return [str(tmp / name)]


BAD = {
    "unknown lang": (lambda t: _stack(t, {"ok-fn": {"lang": "python3", "handler": "./fn"},
                                         "bad-lang": {"lang": "node18", "handler": "./fn"}}),
                     ["lang 'node18'", "supported langs: python3"]),
    "missing handler folder": (lambda t: _stack(t, {"ok-fn": {"lang": "python3", "handler": "./nothere"}}),
                               ["handler folder ./nothere does not exist"]),
    "yaml error": (lambda t: ["-f", str(write(t / "stack.yml", "version: 1.0\nfunctions:\n  ok-fn:\n"
                                              "    lang: python3\n   handler: ./fn\n"))],
                   ["stack.yml is not valid YAML at line 5"]),
    "requirement with shell characters": (
        lambda t: _folder(t, "shelly", {"handler.py": "def handle(r):\n    return r\n",
                                        "requirements.txt": "tinylib\ntinylib; rm -rf /\n"}),
        ["bad requirement 'tinylib; rm -rf /' (requirements.txt line 2): shell characters"]),
    "non-pip build command": (lambda t: _nuclio(t, {"handler": "main:handler",
                                                   "build": {"commands": ["apt-get install -y curl"]}}),
                              ["'apt-get install -y curl' is not a pip install"]),
    "build command chaining": (lambda t: _nuclio(t, {"handler": "main:handler",
                                                    "build": {"commands": ["pip install a && rm -rf /"]}}),
                               ["shell characters are not allowed"]),
    "function.yaml naming a missing function": (
        lambda t: _folder(t, "nohandler", {"handler.py": "def handle(r):\n    return r\n",
                                           "function.yaml": "name: nohandler\nhandler: handler:nothere\n"}),
        ["names handler 'handler:nothere', but handler.py defines no nothere()"]),
    "nuclio spec.handler naming a missing module": (lambda t: _nuclio(t, {"handler": "nomod:handler"}),
                                                    ["names handler 'nomod:handler', but the package has no nomod.py"]),
    "a folder name that is not a function name": (
        lambda t: _folder(t, "My Func!", {"handler.py": "def handle(r):\n    return r\n"}),
        ["cannot name a function after the folder 'My Func!'", "rename the folder", "--name NAME"]),
    "a handler that does not compile": (
        lambda t: _folder(t, "broken", {"handler.py": "def handle(r:\n    return r\n"}),
        ["handler.py does not compile: line 1"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_packages_are_one_line_errors_and_deploy_nothing(ctx, tmp_path, case):
    make, needles = BAD[case]
    before = names()
    result = cli("deploy", *make(tmp_path), code=2)
    one_line_error(result, *needles)
    assert names() == before and nothing_staged(ctx)


def test_an_uploaded_stack_cannot_reach_outside_the_upload(ctx, tmp_path):
    stack = yaml.safe_dump({"provider": {"name": "openfaas"}, "functions": {
        "escape": {"lang": "python3", "handler": "../../..", "environment_file": ["/etc/passwd"]}}})
    archive = tmp_path / "escape.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("stack.yml", stack)
        zf.writestr("fn/handler.py", "def handle(req):\n    return req\n")
    a = http(ctx, "POST", "/faastui/v1/deploy", archive.read_bytes(), {"Content-Type": "application/zip"})
    assert a.status == 400 and "outside the uploaded package" in json.loads(a.body)["error"]
    write(tmp_path / "dots" / "handler.py", "def handle(req):\n    return req\n")
    write(tmp_path / "dots" / "function.yaml", "name: dots\nhandler: '..etc.evil:handle'\n")
    one_line_error(cli("deploy", str(tmp_path / "dots"), code=2), "is not a Python module name")
    assert "escape" not in names() and "dots" not in names() and nothing_staged(ctx)


def test_several_paths_report_each_and_fail_if_any_failed(ctx, tmp_path):
    good = _folder(tmp_path, "good_one", {"handler.py": "def handle(r):\n    return 'good'\n"})
    r = cli("deploy", *good, str(tmp_path / "missing"), code=2)
    assert "deployed good-one" in r.stderr
    assert f"error: {tmp_path / 'missing'}: {tmp_path / 'missing'} does not exist" in r.stderr
    assert "1 of 2 failed" in r.stderr and "good-one" in names()


def test_an_image_naming_two_functions_is_an_error_that_names_both(ctx, tmp_path):
    args = _stack(tmp_path, {"dup-a": {"lang": "python3", "handler": "./fn", "image": "registry/dup"},
                             "dup-b": {"lang": "python3", "handler": "./fn",
                                       "image": "docker.io/registry/dup:latest"}})
    cli("deploy", *args)
    one_line_error(cli("invoke", "registry/dup:latest", code=1), "matches 2 functions: dup-a, dup-b")


# ---- an invocation carries method, path, query and headers ---------------------------------------
def test_invoke_passes_method_path_query_and_headers_with_faas_cli_names(ctx):
    cli("deploy", "-f", str(STACK), "http-echo")
    out = json.loads(cli("invoke", "http-echo", "-m", "GET", "--path", "/a/b", "--query", "k=v",
                         "--query", "k=w", "-H", "X-Client: cli", "--content-type", "text/plain",
                         "-d", "hi", "--raw", "-o", "json").stdout)
    assert out["result"] == {"body": "hi", "client": "cli", "greeting": "Hello", "method": "GET",
                             "path": "/a/b", "query": {"k": "v"}}
    out = json.loads(cli("invoke", "http-echo", "-H", "X-Client=faas-cli", "-o", "json").stdout)
    assert out["result"]["client"] == "faas-cli" and out["result"]["method"] == "POST"
    call_id = cli("invoke", "http-echo", "--async", "-m", "PATCH", "--path", "/later").stdout.strip()
    done = json.loads(cli("result", call_id, "--wait", "-o", "json").stdout)
    assert (done["result"]["method"], done["result"]["path"]) == ("PATCH", "/later")
    one_line_error(cli("invoke", "http-echo", "-H", "novalue", code=2), "bad header 'novalue'")
    one_line_error(cli("invoke", "http-echo", "-m", "BREW", code=2), "unsupported method 'BREW'")


def test_a_backend_that_cannot_carry_a_request_says_so(ctx):
    cli("context", "add", "of", "--backend", "openfaas", "--url", ctx.url, "--use")
    one_line_error(cli("invoke", "hello", "-H", "X-Client: me", code=3),
                   "cannot pass a method, path, query or headers")


# ---- a restart keeps what each format asked for ----------------------------------------------------
def test_a_restart_keeps_each_functions_platform_rules(tmp_path):
    state = tmp_path / "state"
    with running_engine(state, nodes=1) as first:
        cli("context", "add", "r", "--url", first.url, "--use")
        cli("deploy", "-f", str(STACK), "function1")
    with running_engine(state, nodes=1) as second:
        a = http(second, "POST", "/function/function1", b"again", {"Content-Type": "text/plain"})
        assert a.body == b"again (function1)\n"
