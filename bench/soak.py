"""Soak: a mixed load on the embedded engine while its parts are killed at random.

    .venv/bin/python bench/soak.py [--minutes 10] [--seed 1] [--chaos-every 8]

Minutes, not CI. One engine (3 nodes, its own Redis) serves at once:

- sync invokes, async invokes (results fetched as they finish), 2-step chain
  dispatches, all of a ``counted`` function whose handler appends the call's tag
  to a file before it works: that file is the count of executions;
- the queue workflow (emitter -> 2 workers -> collector as engine functions),
  one run of ``--tasks`` after another.

Every ``--chaos-every`` seconds (on average) one of these is SIGKILLed: a worker
of ``counted``, a node's zygote, or Redis; at half time the engine is stopped
and started again (``faastui down``/``up``: it drains its async calls). Printed:
calls made and failed (with reasons) per kind, async results lost (never came
back: not found, or still pending at the end), executions duplicated (tags the
handler saw more than once), workflow tasks lost/duplicated, what was killed,
and the daemon's RSS over time. Goals: 0 lost, 0 duplicated, RSS flat after
the warm-up (last sample / the first after warm-up <= 1.25).

A call that fails because its worker was killed under it, or because it was sent
while the engine was restarting, is a failure with its reason, not a loss: the
client was told. A lost async result is one the engine accepted and never
answered.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from backends.errors import BackendError, NotFound  # noqa: E402
from backends.local.client import LocalBackend  # noqa: E402
from backends.local.control import start_engine, stop_engine  # noqa: E402
from backends.model import DispatchStep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
NODES = ("edge-1", "edge-2", "core-1")
HANDLER = '''\
"""counted: records each execution's tag (one line, O_APPEND), then works `ms`."""
import json, os, time

def handle(req):
    data = json.loads(req)
    fd = os.open(os.environ["SOAK_COUNT_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, (data["tag"] + "\\n").encode())
    os.close(fd)
    time.sleep(float(data.get("ms", 0)) / 1000.0)
    return {"tag": data["tag"] + ".", "ms": data.get("ms", 0), "pid": os.getpid()}
'''


class Tally:
    """Thread-safe counts: calls made and failures by reason, per kind."""

    def __init__(self):
        self.lock = threading.Lock()
        self.made: collections.Counter = collections.Counter()
        self.failed: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    def ok(self, kind: str) -> None:
        with self.lock:
            self.made[kind] += 1

    def fail(self, kind: str, reason: str) -> None:
        with self.lock:
            self.made[kind] += 1
            self.failed[kind][_reason(reason)] += 1


def _reason(text: str) -> str:
    """A failure's reason without its ids and numbers, so alike ones count together."""
    import re

    text = re.sub(r"http://[\d.:]+", "URL", text)
    text = re.sub(r"\b[0-9a-f]{12,}\b", "ID", text)
    text = re.sub(r"\(pid \d+\)|node-\d|\d+(\.\d+)?", "N", text)
    return text[:110]


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.tmp = Path(tempfile.mkdtemp(prefix="faastui-soak-"))
        self.state = self.tmp / "state"
        self.count_file = self.tmp / "executions.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stop = threading.Event()
        self.tally = Tally()
        self.async_ids: list[str] = []
        self.async_lock = threading.Lock()
        self.async_results: dict[str, str] = {}  # call id -> final status
        self.recent_pids: collections.deque = collections.deque(maxlen=50)
        self.chaos: list[tuple[float, str]] = []
        self.memory: list[tuple[float, int, float]] = []  # (t, pid, rss MB)
        self.workflow_runs: list[dict] = []
        self.engine_pid = 0
        self.t0 = 0.0
        self.restarting = threading.Event()

    # ---- engine -----------------------------------------------------------------------
    def start(self) -> None:
        cluster = self.tmp / "cluster.yaml"
        cluster.write_text("nodes:\n" + "".join(f"  - {{name: {n}, memory_mb: 2048, cpus: 2}}\n" for n in NODES))
        info = start_engine(self.state, port=self.port, cluster=cluster, functions_dir=FUNCTIONS, keep_alive=60)
        self.engine_pid = info["pid"]
        pkg = self.tmp / "counted"
        pkg.mkdir()
        (pkg / "handler.py").write_text(HANDLER)
        (pkg / "function.yaml").write_text(
            f"name: counted\nmemory: 64\ntimeout: 10\nenv:\n  SOAK_COUNT_FILE: {self.count_file}\n"
        )

        async def deploy(b):
            await b.deploy(pkg)
            for role in ("emitter", "collector", "worker"):
                await b.deploy(FUNCTIONS / role)
            await b.scale("counted", 3)
            return (await b.info())["redis_url"]

        self.redis_url = asyncio.run(self._with_backend(deploy))

    async def _with_backend(self, fn):
        async with LocalBackend(self.url, timeout=60) as b:
            return await fn(b)

    def restart(self) -> None:
        self.restarting.set()
        try:
            stop_engine(self.state, timeout=60)
            info = start_engine(self.state, port=self.port, functions_dir=FUNCTIONS, keep_alive=60)
            self.engine_pid = info["pid"]
        finally:
            self.restarting.clear()

    # ---- load ---------------------------------------------------------------------------
    def _loop(self, kind: str, body) -> None:
        async def main():
            async with LocalBackend(self.url, timeout=60) as b:
                i = 0
                while not self.stop.is_set():
                    i += 1
                    try:
                        await body(b, i)
                    except BackendError as exc:
                        self.tally.fail(kind, f"{type(exc).__name__}: {exc.message}")
                        await asyncio.sleep(0.05)

        asyncio.run(main())

    async def _sync(self, b, i: int) -> None:
        inv = await b.invoke("counted", {"tag": f"s{i}", "ms": 2})
        if inv.status == "ok":
            self.recent_pids.append(inv.result["pid"])
            self.tally.ok("sync")
        else:
            self.tally.fail("sync", f"{inv.status}: {inv.error}")
        await asyncio.sleep(0.01)

    async def _async(self, b, i: int) -> None:
        call_id = await b.invoke_async("counted", {"tag": f"a{i}", "ms": 5})
        self.tally.ok("async")
        with self.async_lock:
            self.async_ids.append(call_id)
        await asyncio.sleep(0.04)

    async def _dispatch(self, b, i: int) -> None:
        a, c = self.rng.choice(NODES), self.rng.choice(NODES)
        res = await b.dispatch({"tag": f"d{i}", "ms": 1}, [DispatchStep(a, "counted"), DispatchStep(c, "counted")])
        bad = [s for s in res.steps if s.status != "ok"]
        if bad or len(res.steps) != 2:
            self.tally.fail("dispatch", f"{bad[0].status}: {bad[0].error}" if bad else "short")
        else:
            self.tally.ok("dispatch")
        await asyncio.sleep(0.08)

    def _fetcher(self) -> None:
        """Fetch async results as they finish (and the rest at the end)."""

        async def main():
            async with LocalBackend(self.url, timeout=60) as b:
                while True:
                    final = self.stop.is_set()
                    with self.async_lock:
                        todo = [c for c in self.async_ids if c not in self.async_results]
                    if final and not todo:
                        return
                    for call_id in todo[:200]:
                        try:
                            inv = await b.result(call_id, wait=30 if final else 0)
                        except NotFound:
                            self.async_results[call_id] = "lost: not found"
                            continue
                        except BackendError:
                            await asyncio.sleep(0.2)  # restarting: ask again
                            break
                        if inv.status != "pending":
                            self.async_results[call_id] = inv.status
                        elif final:
                            self.async_results[call_id] = "lost: still pending"
                    await asyncio.sleep(0.2)

        asyncio.run(main())

    def _workflow(self) -> None:
        import redis

        from backends.workflow import protocol as P
        from backends.workflow.controller import RunConfig, WorkflowController, read_status, request_stop
        from backends.workflow.launchers import EngineLauncher
        from backends.workflow.phases import steady

        while not self.stop.is_set():
            while self.restarting.is_set():
                time.sleep(0.1)
            run = {"t": round(time.monotonic() - self.t0), "tasks": self.args.tasks}
            try:
                launcher = EngineLauncher(lambda: LocalBackend(self.url, timeout=60))
                config = RunConfig(
                    tasks=self.args.tasks, workers=2, workload=steady(150.0, task_duration_ms=2.0), tick_s=0.1
                )
                controller = WorkflowController(self.redis_url, launcher, config)
                try:
                    summary = controller.run(timeout_s=self.args.workflow_timeout)
                finally:
                    controller.close()
                r = redis.Redis.from_url(self.redis_url)
                ids = [json.loads(x)["task_id"] for x in r.lrange(P.OUTPUT_QUEUE, 0, -1)]
                status = read_status(r)
                r.close()
                run.update(
                    state=summary.state,
                    collected=len(set(ids)),
                    duplicates=len(ids) - len(set(ids)),
                    lost=summary.lost,
                    requeued=summary.requeued,
                    enqueued=summary.enqueued_total,
                    relaunched={k: v for k, v in controller.roles.relaunched.items() if v},
                )
                if summary.state != "done":  # where it stalled
                    run.update(emitted=status.emitted, waiting_results=status.results, queue=status.queue)
            except Exception as exc:  # noqa: BLE001 - a failed run is a data point
                run.update(state="failed", error=f"{type(exc).__name__}: {str(exc)[:120]}")
                try:
                    request_stop(self.redis_url)
                except Exception:  # noqa: BLE001
                    pass
            self.workflow_runs.append(run)

    # ---- chaos and memory -------------------------------------------------------------
    def _descendants(self):
        try:
            return psutil.Process(self.engine_pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def _chaos(self) -> None:
        restart_at = self.t0 + self.args.minutes * 30
        restarted = False
        while not self.stop.wait(self.rng.uniform(0.5, 1.5) * self.args.chaos_every):
            now = time.monotonic()
            if not restarted and now >= restart_at:
                restarted = True
                self.chaos.append((now - self.t0, "engine restart (down + up)"))
                self.restart()
                continue
            what = self.rng.choice(("worker", "zygote", "redis"))
            try:
                if what == "worker" and self.recent_pids:
                    pid = self.rng.choice(list(self.recent_pids))
                    os.kill(pid, signal.SIGKILL)
                elif what == "zygote":
                    zygotes = [
                        p
                        for p in psutil.Process(self.engine_pid).children()
                        if "backends.local.zygote" in " ".join(p.cmdline())
                    ]
                    pid = self.rng.choice(zygotes).pid
                    os.kill(pid, signal.SIGKILL)
                else:
                    pid = next(p.pid for p in psutil.Process(self.engine_pid).children() if "redis-server" in p.name())
                    os.kill(pid, signal.SIGKILL)
                self.chaos.append((now - self.t0, f"SIGKILL {what} (pid {pid})"))
            except (ProcessLookupError, psutil.NoSuchProcess, StopIteration, IndexError):
                pass

    def _memory(self) -> None:
        while not self.stop.wait(self.args.sample_every):
            try:
                rss = psutil.Process(self.engine_pid).memory_info().rss / 1e6
            except psutil.NoSuchProcess:
                continue
            self.memory.append((time.monotonic() - self.t0, self.engine_pid, rss))

    # ---- run ----------------------------------------------------------------------------
    def run(self) -> int:
        self.start()
        self.t0 = time.monotonic()
        threads = [
            threading.Thread(target=self._loop, args=("sync", self._sync), daemon=True),
            threading.Thread(target=self._loop, args=("async", self._async), daemon=True),
            threading.Thread(target=self._loop, args=("dispatch", self._dispatch), daemon=True),
            threading.Thread(target=self._fetcher, daemon=True),
            threading.Thread(target=self._workflow, daemon=True),
            threading.Thread(target=self._chaos, daemon=True),
            threading.Thread(target=self._memory, daemon=True),
        ]
        for t in threads:
            t.start()
        end = self.t0 + self.args.minutes * 60
        while time.monotonic() < end:
            time.sleep(1)
            print(
                f"\r{(time.monotonic() - self.t0) / 60:5.1f} min  calls {sum(self.tally.made.values())}"
                f"  chaos {len(self.chaos)}  workflow runs {len(self.workflow_runs)}",
                end="",
                file=sys.stderr,
                flush=True,
            )
        print(file=sys.stderr)
        self.stop.set()
        for t in threads:
            t.join(self.args.workflow_timeout + 60)
        return self.report()

    def report(self) -> int:
        tags = (
            collections.Counter(self.count_file.read_text().split())
            if self.count_file.exists()
            else collections.Counter()
        )
        duplicated = {t: n for t, n in tags.items() if n > 1}
        lost = {c: s for c, s in self.async_results.items() if s.startswith("lost")}
        wf_lost = sum(
            r.get("tasks", 0) - r.get("collected", 0) for r in self.workflow_runs if r.get("state") != "failed"
        )
        wf_dups = sum(r.get("duplicates", 0) for r in self.workflow_runs)
        wf_over = sum(max(0, r.get("enqueued", 0) - r.get("tasks", 0)) for r in self.workflow_runs)
        print(f"soak: {self.args.minutes:g} min, seed {self.args.seed}, engine {self.url} (measured under load)")
        print(f"  calls made: {dict(self.tally.made)} (total {sum(self.tally.made.values())})")
        for kind, reasons in self.tally.failed.items():
            print(f"  {kind} failed: {sum(reasons.values())}")
            for reason, n in reasons.most_common(6):
                print(f"      {n:6d}  {reason}")
        statuses = collections.Counter(self.async_results.values())
        print(f"  async results: {dict(statuses)}")
        print(f"  async results lost: {len(lost)}   (goal 0)")
        print(f"  executions recorded by the handler: {sum(tags.values())} of {len(tags)} tags")
        print(
            f"  executions duplicated: {len(duplicated)}   (goal 0)"
            + (f"  e.g. {list(duplicated.items())[:5]}" if duplicated else "")
        )
        done = sum(1 for r in self.workflow_runs if r.get("state") == "done")
        relaunched = collections.Counter()
        for r in self.workflow_runs:
            relaunched.update(r.get("relaunched") or {})
        print(
            f"  workflow: {done} of {len(self.workflow_runs)} runs done; tasks not collected "
            f"{wf_lost}, duplicated {wf_dups}, emitted beyond the run's {wf_over}   "
            f"(goal 0, 0, 0); emitter/collector launched again: {dict(relaunched)}"
        )
        for r in self.workflow_runs:
            print(f"      {r}")
        print(f"  chaos ({len(self.chaos)}):")
        kinds = collections.Counter(c.split(" (")[0] for _, c in self.chaos)
        print(f"      {dict(kinds)}")
        print("  daemon RSS (MB) over time:")
        for t, pid, rss in self.memory:
            print(f"      {t / 60:5.1f} min  pid {pid}  {rss:7.1f}")
        flat = None
        after = [m for m in self.memory if m[0] >= 60 and m[1] == (self.memory[-1][1] if self.memory else 0)]
        if len(after) >= 2:
            warm = statistics.median(m[2] for m in after[: max(1, len(after) // 4)])
            flat = after[-1][2] / warm
            print(f"  RSS last / after warm-up (same daemon): {flat:.2f}   (goal <= 1.25)")
        missed = [
            name
            for name, bad in (
                ("async results lost", lost),
                ("executions duplicated", duplicated),
                ("workflow tasks not collected", wf_lost),
                ("workflow tasks duplicated", wf_dups),
                ("workflow tasks emitted beyond the run's", wf_over),
                ("memory flat", flat is not None and flat > 1.25),
            )
            if bad
        ]
        stalled = [r for r in self.workflow_runs if r.get("state") not in ("done", None)]
        if stalled:
            print(f"  {len(stalled)} workflow run(s) did not finish (state, and where they stood, above)")
        print("  GOALS MET" if not missed else f"  GOALS NOT MET: {', '.join(missed)}")
        return 0 if not missed else 1

    def close(self) -> None:
        try:
            stop_engine(self.state, timeout=60)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--chaos-every", type=float, default=8.0, help="mean seconds between kills")
    p.add_argument("--tasks", type=int, default=1500, help="tasks per workflow run")
    p.add_argument("--workflow-timeout", type=float, default=90.0)
    p.add_argument("--sample-every", type=float, default=15.0, help="seconds between RSS samples")
    args = p.parse_args()
    soak = Soak(args)
    try:
        return soak.run()
    finally:
        soak.close()


if __name__ == "__main__":
    sys.exit(main())
