"""Benchmark `faastui serve`: a warm invoke through each seed system's API against the engine's
own OpenFaaS route, side by side in one run; the Fusionizer's own bench shape; a regroup
under load.

Starts a real engine (its own Redis, zygotes, workers) and real `faastui serve` processes
over it, and measures warm invoke latency (p50, p99) with the plain clients those APIs'
users have:

- the engine's OpenFaaS route, ``POST /function/<fn>`` (the floor: one hop), for the
  agent's no-op handler and for the Fusionizer's no-op task;
- the agent, ``POST /invoke {"id", "payload"}``, and the Fusionizer, ``POST /noop-task``:
  hosted in the engine (what ``faastui serve`` does over the embedded engine: one hop) and
  in their own process (``FAASTUI_SERVE_IN_ENGINE=0``, as over any other backend: two hops);
- Ilúvatar, ``invoke`` through a stub generated from the .proto (gRPC), hosted in the engine
  and in its own process, beside its floor, ``ping``.

Each HTTP route is measured with ``http.client`` (keep-alive) and with ``requests.Session``;
the ratio to the OpenFaaS route of the same function with the same client is the figure
(goal: at most 1.3x). Rounds are interleaved and the median of the round medians is reported.

Then the Fusionizer's own bench (its ``bench/run_bench``: entrytask calls additiontask,
fused; upstream's published median 33 ms a request on Nuclio, a curl per request): the
median with a keep-alive client (goal: under 2 ms) and with a curl process per request as
upstream measured it. Last, a regroup under load: a second Fusionizer server toggles the
pair between fused and apart every 0.5 s while a client calls every 10 ms; the count of
failed calls is the figure (goal 0).

``--servers`` also measures the HTTP servers a served API could sit on, each in its own
process answering one small JSON route: the engine's httptools server (what the HTTP APIs
use), the stdlib's ThreadingHTTPServer, and uvicorn + Starlette when they are installed.

The clients and the measuring loop are ``serve_clients.py``, ``--servers`` is
``serve_servers.py`` (both beside this script).

Usage: .venv/bin/python bench/serve.py [--quick] [--servers] [--regroups N]
Figures move with the machine's load; compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "bench" / "fusionizer"  # the bench's Fusionizer tasks (task zips' folders)
sys.path.insert(0, str(ROOT))

from serve_clients import CurlCall, GrpcCall, HttpClientCall, RequestsCall, measure, pct  # noqa: E402

from backends.local.control import start_engine, stop_engine  # noqa: E402

NOOP = "def handle(req):\n    return req\n"
GOAL_RATIO = 1.3
UPSTREAM_MS = 33.0  # the Fusionizer's published median on Nuclio (bench/results.csv upstream)
_READY = re.compile(r"^serving the \S+ API on \w+://[^ ]+:(\d+) over context")


# ---- the processes ------------------------------------------------------------------------------
def start_serve(name: str, env: dict, *args: str, in_engine: bool = True) -> tuple[subprocess.Popen, int, list[str]]:
    """``faastui serve name --port 0 *args``; (process, port, its stderr lines so far, read on)."""
    env = dict(env, FAASTUI_SERVE_IN_ENGINE="1" if in_engine else "0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "faastui", "serve", name, "--port", "0", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        match = _READY.match(line)
        if match:
            lines: list[str] = []
            threading.Thread(
                target=lambda out=lines: out.extend(ln.rstrip() for ln in proc.stderr), daemon=True
            ).start()
            return proc, int(match[1]), lines
    proc.kill()
    raise SystemExit(f"faastui serve {name} did not start: {proc.stderr.read()}")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def post_json(port: int, path: str, body: dict) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    if resp.status != 200:
        raise SystemExit(f"{path}: {resp.status} {data}")
    return data


def put_task(port: int, task: str, folder: Path) -> None:
    """The Fusionizer's deploy: PUT /task with the task's zip as multipart field zip_file."""
    from backends.formats.archive import zip_files

    files = [
        (p, p.relative_to(folder).as_posix())
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    ]
    data = zip_files(files)
    boundary = "faastuibench"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="zip_file"; '
            f'filename="{task}.zip"\r\nContent-Type: application/zip\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("PUT", f"/{task}", body=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    if resp.status != 200:
        raise SystemExit(f"PUT /{task}: {resp.status} {text}")


def get_text(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    text = conn.getresponse().read().decode()
    conn.close()
    return text


def wait_until(predicate, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


class Regrouper(threading.Thread):
    """A client calling every 10 ms (the issue's shape) while regroups happen: counts the
    calls that failed and keeps every latency."""

    def __init__(self, port: int, path: str, body: bytes, expect: bytes):
        super().__init__(daemon=True)
        self.port, self.path, self.body, self.expect = port, path, body, expect
        self.calls, self.failures, self.latencies = 0, 0, []
        self.halt = threading.Event()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.halt.is_set():
            t0 = time.perf_counter()
            try:
                conn.request("POST", self.path, body=self.body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                ok = resp.status == 200 and resp.read() == self.expect
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.latencies.append((time.perf_counter() - t0) * 1000)
            self.calls += 1
            self.failures += not ok
            self.halt.wait(0.01)
        conn.close()


def apis(n: int, rounds: int, regroups: int) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="faastui-bench-serve-"))
    info = start_engine(tmp / "state", port=0, nodes=1)
    port = info["port"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAASTUI_")}
    env.update(XDG_CONFIG_HOME=str(tmp / "config"), XDG_STATE_HOME=str(tmp / "xdg-state"), FAASTUI_URL=info["url"])
    fused = tmp / "fused.json"  # the Fusionizer bench's setup: entry and addition task fused
    fused.write_text(json.dumps({"0": [["entrytask", "additiontask"]]}))
    procs = []
    try:

        def serve(name, *args, in_engine=True):
            proc, served_port, lines = start_serve(name, env, *args, in_engine=in_engine)
            procs.append(proc)
            return served_port, lines

        agent_port, _ = serve("agent")
        agent_proc_port, _ = serve("agent", in_engine=False)
        ilu_port, _ = serve("iluvatar")
        ilu_proc_port, _ = serve("iluvatar", in_engine=False)
        fz_port, fz_lines = serve("fusionizer", "--schedule", str(fused))
        fz_proc_port, _ = serve("fusionizer", in_engine=False)
        post_json(agent_port, "/deploy", {"id": "noop", "handler": NOOP})
        for task in ("noop", "entrytask", "additiontask"):
            put_task(fz_port, f"{task}-task" if task == "noop" else task, TASKS / task)
        wait_until(
            lambda: "['entrytask', 'additiontask']" in get_text(fz_port, "/entrytask"),
            "the fusion of entrytask and additiontask",
        )
        from backends.iluvatar.rpc import iluvatar_rpc_pb2 as pb

        call, call_proc = GrpcCall(ilu_port, "noop", "1"), GrpcCall(ilu_proc_port, "noop", "1")
        for c in (call, call_proc):
            reg = c.stub.register(
                pb.RegisterRequest(function_name="noop", function_version="1", image_name="noop"), timeout=60
            )
            assert reg.success, reg.error
        invoke_body = json.dumps({"id": "noop", "payload": {}}).encode()
        rows = {
            "OpenFaaS route  POST /function/noop   http.client": HttpClientCall(port, "/function/noop", b"{}"),
            "agent           POST /invoke          http.client": HttpClientCall(agent_port, "/invoke", invoke_body),
            "agent (process) POST /invoke          http.client": HttpClientCall(
                agent_proc_port, "/invoke", invoke_body
            ),
            "OpenFaaS route  POST /function/noop-task http.client": HttpClientCall(port, "/function/noop-task", b"{}"),
            "fusionizer      POST /noop-task       http.client": HttpClientCall(fz_port, "/noop-task", b"{}"),
            "fusionizer (process) POST /noop-task  http.client": HttpClientCall(fz_proc_port, "/noop-task", b"{}"),
            "OpenFaaS route  POST /function/noop   requests": RequestsCall(port, "/function/noop", b"{}"),
            "agent           POST /invoke          requests": RequestsCall(agent_port, "/invoke", invoke_body),
            "OpenFaaS route  POST /function/noop-task requests": RequestsCall(port, "/function/noop-task", b"{}"),
            "fusionizer      POST /noop-task       requests": RequestsCall(fz_port, "/noop-task", b"{}"),
            "Ilúvatar        invoke (gRPC stub)    grpcio": call,
            "Ilúvatar (process) invoke (gRPC stub) grpcio": call_proc,
            "Ilúvatar        ping: the gRPC floor  grpcio": GrpcCall(ilu_port, None),
            "Ilúvatar (process) ping: its floor    grpcio": GrpcCall(ilu_proc_port, None),
        }
        figures = measure(rows, n, rounds)
        shape = {
            "entrytask -> additiontask, fused   http.client": HttpClientCall(fz_port, "/entrytask", b'{"value": 100}')
        }
        if shutil.which("curl"):
            shape["entrytask -> additiontask, fused   curl per request"] = CurlCall(
                fz_port, "/entrytask", b'{"value": 100}'
            )
        shape_figures = {
            label: statistics.median([fn() for _ in range(300 if "curl" in label else n)])
            for label, fn in shape.items()
        }
        regroup = regroup_under_load(env, fz_port, tmp, regroups, serve)
    finally:
        for proc in procs:
            stop(proc)
        stop_engine(tmp / "state")
        info["process"].wait(10)
    report(rows, figures, n, rounds)
    print(
        "\nthe Fusionizer's own bench shape (entrytask calls additiontask, fused; "
        "median of a request), measured under load"
    )
    for label, ms in shape_figures.items():
        if "curl" in label:  # a curl process per request, as upstream measured: compare to it
            print(
                f"{label:53} {ms:>8.3f} ms   {UPSTREAM_MS / ms:.1f}x faster than upstream's "
                "(a curl process is most of it)"
            )
        else:
            print(f"{label:53} {ms:>8.3f} ms   goal < 2 ms: {'meets' if ms < 2 else 'MISSES'}")
    print(f"{'upstream, on Nuclio (its results.csv, curl per request)':53} {UPSTREAM_MS:>8.3f} ms")
    calls, failures, lat, applied = regroup
    print(
        f"\nregroup under load: {applied} regroups (fuse/unfuse of entrytask+additiontask) "
        f"while a client called POST /entrytask every 10 ms: {calls} calls, "
        f"{failures} failed (goal 0); latency p50 {statistics.median(lat):.3f} ms, "
        f"p99 {pct(lat, 0.99):.3f} ms, max {max(lat):.3f} ms"
    )
    return 0


def regroup_under_load(env, fz_port: int, tmp: Path, regroups: int, serve):
    """A second Fusionizer server over the same engine toggles entrytask+additiontask
    between fused and apart every 0.5 s while a client calls the first one every 10 ms."""
    setups = {"0": [["entrytask"], ["additiontask"]]}
    for i in range(1, regroups):
        setups[f"{i * 0.5:g}"] = [["entrytask", "additiontask"]] if i % 2 == 0 else [["entrytask"], ["additiontask"]]
    schedule = tmp / "regroups.json"
    schedule.write_text(json.dumps(setups))
    client = Regrouper(fz_port, "/entrytask", b'{"value": 100}', b"101")
    client.start()
    try:
        wait_until(lambda: client.calls > 10, "the client's first calls")
        _, lines = serve("fusionizer", "--schedule", str(schedule))
        last = f"applied the setup at {max(float(k) for k in setups):g} s"
        wait_until(lambda: any(last in ln for ln in lines), "the last regroup")
        calls = client.calls
        wait_until(lambda: client.calls > calls + 20, "calls after the last regroup")
    finally:
        client.halt.set()
        client.join(30)
    applied = sum(ln.startswith("applied the setup") for ln in lines)
    return client.calls, client.failures, client.latencies, applied


def report(rows, figures, n: int, rounds: int) -> None:
    def p50(label: str) -> float:
        return statistics.median(figures[label])

    def base_of(label: str) -> str:
        """The OpenFaaS row of the same function, with the same client if there is one."""
        route = "/function/noop-task" if "noop-task" in label else "/function/noop"
        same = [k for k in rows if k.startswith("OpenFaaS") and k.split()[3] == route]
        return next((k for k in same if k.split()[-1] == label.split()[-1]), same[0])

    print(f"warm invoke, no-op handler, {n} calls x {rounds} rounds (median of round medians), measured under load")
    print(f"{'':53} {'p50 ms':>8} {'p99 ms':>8}   ratio to the OpenFaaS route")
    ratios = {}
    for label in rows:
        note = ""
        if not label.startswith("OpenFaaS"):
            base = base_of(label)
            ratio = p50(label) / p50(base)
            same = base.split()[-1] == label.split()[-1]
            note = f"{ratio:.2f}x" + ("" if same else " (its client: http.client)")
            ratios[label] = ratio
        print(f"{label:53} {p50(label):>8.3f} {statistics.median(figures[label + ' p99']):>8.3f}   {note}")
    invoke, ping = (next(k for k in rows if word in k) for word in ("Ilúvatar        invoke", "Ilúvatar        ping"))
    agent, fz = (next(k for k in rows if k.startswith(w)) for w in ("agent (process)", "fusionizer (process)"))
    print(
        f"what a second process adds (the API outside the engine): agent +"
        f"{p50(agent) - p50(base_of(agent)):.3f} ms, fusionizer +{p50(fz) - p50(base_of(fz)):.3f}"
        f" ms over the OpenFaaS route; Ilúvatar invoke +{p50(invoke) - p50(ping):.3f} ms over "
        "its gRPC floor (ping)"
    )
    met = [
        f"{k.split('POST')[0].split('invoke')[0].strip()} {k.split()[-1]} {r:.2f}x "
        f"{'meets' if r <= GOAL_RATIO else 'MISSES'}"
        for k, r in ratios.items()
        if "ping" not in k
    ]
    print(f"goal: p50 at most {GOAL_RATIO}x the OpenFaaS route's: " + "; ".join(met))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, for a smoke run")
    parser.add_argument("--servers", action="store_true", help="also compare HTTP servers")
    parser.add_argument("--regroups", type=int, default=8, help="regroups under load (every 0.5 s; default 8)")
    args = parser.parse_args()
    n, rounds = (300, 1) if args.quick else (2000, 3)
    code = apis(n, rounds, max(2, args.regroups))
    if args.servers:
        from serve_servers import servers  # deferred: only --servers measures them

        code = code or servers(n, rounds)
    return code


if __name__ == "__main__":
    sys.exit(main())
