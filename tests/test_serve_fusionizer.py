"""``faastui serve fusionizer``: the Nuclio Fusionizer's task API, spoken to as its users do
(curl's multipart upload as ``requests`` sends it, plain ``http.client`` calls), over the
real engine: task zips deployed, a task calling another back through this server, fused by
the Fusionizer's own schedule file and then calling it in-process, tasks deleted; bad
input; a regroup under a client calling every 10 ms; the optimizer in rounds."""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
import zipfile
from pathlib import Path

import pytest
import requests

from backends.local.client import LocalBackend
from tests.conftest import ROOT, run, running_engine
from tests.serving import run_serve, serve_env, serving

TASKS = ROOT / "functions" / "formats" / "fusionizer"
TASK_YAML = "apiVersion: nuclio.io/v1\nkind: NuclioFunction\nspec:\n  runtime: python\n  handler: main:handler\n"


def task_zip(folder: Path | None = None, **files: str) -> bytes:
    """A task zip as ``zip task.zip -r .`` makes it inside the task's folder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        if folder is not None:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(folder).as_posix())
        for name, text in files.items():
            zf.writestr(name.replace("__", "/"), text)
    return buf.getvalue()


def simple_task(body: str) -> bytes:
    return task_zip(
        **{"function.yaml": TASK_YAML, "main.py": f"def handler(context, event, requests_session):\n    {body}\n"}
    )


def call(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        text = resp.read().decode()
        assert resp.getheader("Content-Type") == "text/plain; charset=utf-8", text
        return resp.status, text
    finally:
        conn.close()


def put(port: int, task: str, data: bytes) -> tuple[int, str]:
    """``curl -X PUT .../task -H "Content-Type: multipart/form-data" -F "zip_file=@task.zip"``."""
    resp = requests.put(f"http://127.0.0.1:{port}/{task}", files={"zip_file": (f"{task}.zip", data)}, timeout=120)
    return resp.status_code, resp.text


def post(port: int, task: str, args: dict | None = None) -> tuple[int, str]:
    body = None if args is None else json.dumps(args).encode()
    return call(port, "POST", f"/{task}", body, {"Content-Type": "application/json"})


def info(port: int, task: str) -> tuple[int, str]:
    return call(port, "GET", f"/{task}")


def wait_for(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def engine_view(engine, fn):
    async def go():
        async with LocalBackend(engine.url) as b:
            return await fn(b)

    return run(go())


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    with running_engine(tmp_path_factory.mktemp("serve-fusionizer") / "state", nodes=1) as handle:
        yield handle


def fusionizer(tmp: Path, engine, *args: str):
    return serving("fusionizer", *args, env=serve_env(tmp, FAASTUI_URL=engine.url))


# ---- the Fusionizer's own flow ----------------------------------------------------------------
def test_deploy_call_fuse_by_schedule_call_delete(tmp_path, engine):
    # the setup waits for all its tasks: "gate" is deployed when the test wants the fusion
    schedule = tmp_path / "config.json"
    schedule.write_text(json.dumps({"0": [["taska", "taskb"], ["gate"]]}))
    with fusionizer(tmp_path, engine, "--schedule", str(schedule)) as served:
        port = served.port
        assert put(port, "taska", task_zip(TASKS / "taska")) == (200, "Successfully deployed Task 'taska'")
        assert put(port, "taskb", task_zip(TASKS / "taskb")) == (200, "Successfully deployed Task 'taskb'")
        assert info(port, "taska") == (200, "Task 'taska':\nCurrently deployed with other Tasks: None\nStatus: ready")
        assert post(port, "taskb", {"value1": 2, "value2": 40}) == (200, "42")
        # A calls B at http://{Fusionizer-Server-Address}:8000/taskb: apart, back through here
        assert post(port, "taska") == (200, "8")
        graph = engine_view(engine, lambda b: b.call_graph())
        assert ("taska", "taskb", 1) in graph

        assert put(port, "gate", simple_task("return 'open'"))[0] == 200
        wait_for(lambda: "['taska', 'taskb']" in info(port, "taska")[1], "the fusion")
        assert info(port, "taskb") == (
            200,
            "Task 'taskb':\nCurrently deployed with other Tasks: ['taska', 'taskb']\nStatus: ready",
        )
        assert info(port, "gate")[1].endswith("with other Tasks: None\nStatus: ready")
        assert post(port, "taska") == (200, "8")  # now in-process
        groups = engine_view(engine, lambda b: b.fusion_groups())
        (group,) = [g for g in groups if set(g.functions) == {"taska", "taskb"}]
        assert group.calls_local == 1 and group.calls_remote == 0
        wait_for(
            lambda: any(
                line.startswith("applied the setup at 0 s: [['taska', 'taskb'], ['gate']]") for line in served.lines
            ),
            f"the note of the setup in {served.lines}",
        )

        assert call(port, "DELETE", "/taska") == (200, "Successfully deleted Task 'taska'")
        assert info(port, "taska") == (422, "No Task 'taska' could be found")
        assert post(port, "taska") == (422, "No Task 'taska' could be found")
        assert post(port, "taskb", {"value1": 1, "value2": 2}) == (200, "3")
        assert info(port, "taskb")[1].endswith("with other Tasks: None\nStatus: ready")
        assert call(port, "DELETE", "/taska") == (422, "No Task 'taska' could be found")
        for task in ("taskb", "gate"):
            assert call(port, "DELETE", f"/{task}")[0] == 200


def test_results_are_the_tasks_answer_as_text(tmp_path, engine):
    with fusionizer(tmp_path, engine) as served:
        port = served.port
        put(
            port,
            "kinds",
            simple_task(
                "return {'int': 8, 'str': 'eight', 'dict': {'a': [1]}, 'none': None}"
                "[event.body['kind']] if event.body else 'no args'"
            ),
        )
        assert post(port, "kinds", {"kind": "int"}) == (200, "8")
        assert post(port, "kinds", {"kind": "str"}) == (200, "eight")
        assert post(port, "kinds", {"kind": "dict"}) == (200, '{"a": [1]}')
        assert post(port, "kinds", {"kind": "none"}) == (200, "None")
        assert post(port, "kinds") == (200, "no args")  # no body: event.body is empty
        put(
            port,
            "headers",
            simple_task("return event.headers['Task-Name'] + ' ' + event.headers['Fusionizer-Server-Address']"),
        )
        assert post(port, "headers") == (200, "headers 127.0.0.1")
        conn = http.client.HTTPConnection("localhost", port, timeout=30)  # the host reached
        conn.request("POST", "/headers", headers={"Host": f"localhost:{port}"})
        assert conn.getresponse().read() == b"headers localhost"
        conn.close()
        status, failed = post(port, "kinds", {"kind": "nope"})
        assert status == 422 and failed.startswith("Failed to invoke Task 'kinds': KeyError")


def test_address_option_is_what_tasks_get(tmp_path, engine):
    with fusionizer(tmp_path, engine, "--address", "fusionizer.example") as served:
        put(served.port, "where", simple_task("return event.headers['Fusionizer-Server-Address']"))
        assert post(served.port, "where") == (200, "fusionizer.example")


# ---- bad input: a clear line each, and the server keeps serving ------------------------------
def _multipart(fields: dict[str, bytes], boundary: str = "XyZ") -> tuple[bytes, dict]:
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{k}.zip"\r\n\r\n'.encode()
            + v
            + b"\r\n"
            for k, v in fields.items()
        )
        + f"--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _slip() -> bytes:
    return task_zip(
        **{"function.yaml": TASK_YAML, "main.py": "def handler(c, e, s):\n    return 1\n", "..__evil.py": "x = 1\n"}
    )


@pytest.mark.parametrize(
    "body, headers, status, text",
    [
        (None, {}, 422, "Field 'zip_file' is required: expected a multipart/form-data body"),
        (*_multipart({"file": b"PK"}), 422, "Field 'zip_file' is required: upload the task's zip"),
        (*_multipart({"zip_file": b""}), 422, "Field 'zip_file' is empty"),
        (
            b"--XyZ\r\nno headers end",
            {"Content-Type": "multipart/form-data; boundary=XyZ"},
            422,
            "Field 'zip_file' is required: a multipart part has no end to its headers",
        ),
        (
            *_multipart({"zip_file": b"this is not a zip"}),
            422,
            "Failed to deploy Task 'bad': the upload is not a zip archive",
        ),
        (
            *_multipart({"zip_file": _slip()}),
            422,
            "Failed to deploy Task 'bad': archive entry '../evil.py' escapes the package folder",
        ),
        (
            *_multipart({"zip_file": task_zip(**{"function.yaml": "spec: [unclosed"})}),
            422,
            "Failed to deploy Task 'bad': ",
        ),
    ],
)
def test_bad_uploads(tmp_path, engine, body, headers, status, text):
    with fusionizer(tmp_path, engine) as served:
        put(served.port, "fine", simple_task("return 'fine'"))
        got, answer = call(served.port, "PUT", "/bad", body, headers)
        assert got == status and answer.startswith(text), answer
        assert info(served.port, "bad") == (422, "No Task 'bad' could be found")  # nothing half-made
        assert post(served.port, "fine") == (200, "fine")  # still serving


def test_bad_calls(tmp_path, engine):
    with fusionizer(tmp_path, engine) as served:
        port = served.port
        put(port, "fine", simple_task("return 'fine'"))
        for body, text in (
            (b"[1, 2]", "The request body must be a JSON object of the Task's arguments, not list"),
            (b'"x"', "The request body must be a JSON object"),
            (b"{not json", "The request body is not valid JSON: "),
            (b"\xff\xfe", "The request body is not valid JSON: "),
        ):
            got, answer = call(port, "POST", "/fine", body, {"Content-Type": "application/json"})
            assert got == 422 and answer.startswith(text), answer
        assert call(port, "GET", "/")[0] == 404
        assert call(port, "PATCH", "/fine")[0] == 405
        assert post(port, "fine") == (200, "fine")


def test_option_mistakes_are_usage_errors(tmp_path, engine):
    env = serve_env(tmp_path, FAASTUI_URL=engine.url)
    bad = tmp_path / "bad.json"
    for content, said in (
        ('{"x": [["a"]]}', "'x' is not a number of seconds"),
        ('{"0": [["a", "b"], ["b"]]}', "puts 'b' in two groups"),
        ('{"0": "ab"}', "must be a list of lists of task names"),
        ("[1]", "must be a JSON object"),
        ("{", "is not valid JSON"),
    ):
        bad.write_text(content)
        proc = run_serve("fusionizer", "--schedule", str(bad), env=env)
        assert proc.returncode == 2 and said in proc.stderr, proc.stderr
    for args, said in (
        (["agent", "--schedule", str(bad)], "--schedule is an option of `faastui serve fusionizer`"),
        (["fusionizer", "--optimize", "--schedule", str(bad)], "give one"),
        (["fusionizer", "--every", "5"], "add --optimize"),
        (["fusionizer", "--schedule", str(tmp_path / "none.json")], "cannot read the schedule"),
    ):
        proc = run_serve(*args, env=env)
        assert proc.returncode == 2 and said in proc.stderr, proc.stderr


# ---- regrouping under calls -------------------------------------------------------------------
class Client(threading.Thread):
    """POST /taska every 10 ms on one keep-alive connection; counts the failed calls."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port, self.calls, self.failures = port, 0, []
        self.halt = threading.Event()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.halt.is_set():
            try:
                conn.request("POST", "/taska", headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                text = resp.read().decode()
                if (resp.status, text) != (200, "8"):
                    self.failures.append((resp.status, text))
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.calls += 1
            self.halt.wait(0.01)
        conn.close()


def test_regroups_fail_no_call(tmp_path, engine):
    fused, apart = [["taska", "taskb"]], [["taska"], ["taskb"]]
    setups = {"0": [["gate"]], "0.5": fused, "1": apart, "1.5": fused, "2": apart, "2.5": fused}
    schedule = tmp_path / "regroup.json"
    schedule.write_text(json.dumps(setups))
    with fusionizer(tmp_path, engine, "--schedule", str(schedule)) as served:
        for task in ("taska", "taskb"):
            assert put(served.port, task, task_zip(TASKS / task))[0] == 200
        client = Client(served.port)
        client.start()
        try:
            wait_for(lambda: client.calls > 0, "the first call")
            put(served.port, "gate", simple_task("return 'open'"))  # the schedule may go on
            wait_for(lambda: any("applied the setup at 2.5 s" in ln for ln in served.lines), "the last setup")
            calls = client.calls
            wait_for(lambda: client.calls > calls + 5, "calls after the last regroup")
        finally:
            client.halt.set()
            client.join(30)
        applied = [ln for ln in served.lines if ln.startswith("applied the setup")]
        assert client.failures == [], client.failures[:5]
        assert client.calls > 50
        assert len(applied) >= 3, served.lines  # regroups happened while it called
        assert "['taska', 'taskb']" in info(served.port, "taska")[1]


def test_deleting_a_fused_task_keeps_the_others_fused(tmp_path, engine):
    schedule = tmp_path / "three.json"
    schedule.write_text(json.dumps({"0": [["t1", "t2", "t3"]]}))
    with fusionizer(tmp_path, engine, "--schedule", str(schedule)) as served:
        port = served.port
        for task in ("t1", "t2", "t3"):
            put(port, task, simple_task(f"return '{task}'"))
        wait_for(lambda: "['t1', 't2', 't3']" in info(port, "t2")[1], "the fusion of three")
        assert call(port, "DELETE", "/t2") == (200, "Successfully deleted Task 't2'")
        assert info(port, "t1")[1].splitlines()[1] == "Currently deployed with other Tasks: ['t1', 't3']"
        assert post(port, "t3") == (200, "t3")
        # a redeployed member stays in its group and answers with its new code
        assert put(port, "t1", simple_task("return 't1 again'"))[0] == 200
        assert post(port, "t1") == (200, "t1 again")
        assert "['t1', 't3']" in info(port, "t1")[1]
        assert call(port, "DELETE", "/t3")[0] == 200
        assert info(port, "t1")[1].splitlines()[1] == "Currently deployed with other Tasks: None"
        assert post(port, "t1") == (200, "t1 again")
        call(port, "DELETE", "/t1")


def test_optimize_fuses_tasks_that_call_each_other(tmp_path, engine):
    with fusionizer(tmp_path, engine, "--optimize", "--every", "0.3") as served:
        port = served.port
        for task in ("taska", "taskb"):
            put(port, task, task_zip(TASKS / task))
        for _ in range(12):  # the optimizer's threshold: 10 calls on an edge
            assert post(port, "taska") == (200, "8")
        wait_for(
            lambda: "['taska', 'taskb']" in info(port, "taska")[1] or "['taskb', 'taska']" in info(port, "taska")[1],
            "the optimizer's round",
        )
        wait_for(
            lambda: any(ln.startswith("optimizer round") and "fuse" in ln for ln in served.lines),
            "the optimizer's note",
        )
        assert post(port, "taska") == (200, "8")
        for task in ("taska", "taskb"):
            call(port, "DELETE", f"/{task}")
