"""Benchmark the shared Kubernetes view (backends/kube/) on a fake cluster of 1,000 nodes and
20,000 pods, next to a naive re-list each tick, in the same run.

The fake cluster (tests/fakes/kube_cluster.py over the fake API server; Kubernetes cannot run
here) runs in its own process, so the CPU measured is the client's only. Figures:

- time to the first full snapshot: start the view (settings, then a paged list of nodes,
  pods and events and the first metrics.k8s.io poll, in parallel threads) until nodes and
  placements are built; the import of the ``kubernetes`` client is shown apart;
- CPU per dashboard tick while the pods churn at 100 changes a second: one tick is what a
  backend's snapshot does with the view (nodes, placements, new events, problems, one
  Snapshot); shown as the tick's own CPU (thread time) and as the process's whole CPU per
  tick at one tick a second (so the watch threads applying the churn count too);
- memory: the process's RSS once the view holds the cluster (and what the view added);
- the same through a naive re-list each tick: list nodes, pods and node metrics, parse,
  build the same model objects (the view's own code, fed from scratch). The ratio is of
  whole CPU per tick.
- busy pods (the in-flight reader, backends/kube/inflight.py, each warm pod's watchdog gauge
  through the pod proxy): the same ticks with the reader on at its default budget, and with
  no budget (``--unbounded-rate``, no CPU cap): pod proxy reads a second (counted by the fake), whole
  CPU per tick, what choosing a round's reads costs, and how long a cycle over all the warm
  pods takes at that rate (how stale a pod's busy can be).

Goals (issue 15): first snapshot <= 2 s, CPU per tick <= 20 ms, memory <= 300 MB.

    .venv/bin/python bench/kube.py [--nodes 1000] [--pods 20000] [--seconds 10] [--naive 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from backends.kube import KubeOptions, KubeView, PodMapping  # noqa: E402
from backends.kube.view import METRICS_NODES  # noqa: E402
from backends.model import Snapshot  # noqa: E402
from backends.quantities import memory_mb, quantity  # noqa: E402

GOAL_FIRST_S, GOAL_TICK_MS, GOAL_RSS_MB = 2.0, 20.0, 300.0
MAPPINGS = (
    PodMapping("function", require=(("prewarm", "true"),), suffix="-pod", ready_state="prewarm"),
    PodMapping("faas_function"),
)
BUSY_MAPPINGS = (MAPPINGS[0], PodMapping("faas_function", metrics_port=8081))  # OpenFaaS's


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


class FakeCluster:
    """The fake cluster's process and its stdin commands."""

    def __init__(self, nodes: int, pods: int, functions: int):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakes.kube_cluster",
                "--nodes",
                str(nodes),
                "--pods",
                str(pods),
                "--functions",
                str(functions),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.info = json.loads(self.proc.stdout.readline())

    def send(self, command: str) -> dict | None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline()) if command in ("quiet", "proxied") else None

    def kubeconfig(self, path: Path) -> str:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "bench",
                    "clusters": [{"name": "bench", "cluster": {"server": self.info["api_url"]}}],
                    "users": [{"name": "bench", "user": {"token": self.info["token"]}}],
                    "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
                }
            )
        )
        return str(path)

    def close(self) -> None:
        try:
            self.send("stop")
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def tick(view: KubeView, since: float) -> tuple[Snapshot, float]:
    """What a backend's snapshot does with the view."""
    events = view.events(since)
    snap = Snapshot(nodes=view.nodes(), placements=view.placements(), errors=view.problems(), taken_at=time.time())
    return snap, max((e["t"] for e in events), default=since)


def pctl(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def view_phase(cluster: FakeCluster, kc: str, args) -> dict:
    t0 = time.perf_counter()
    import kubernetes.client  # noqa: F401 - what any cluster context pays once

    import_s = time.perf_counter() - t0
    rss0 = rss_mb()
    view = KubeView(KubeOptions(kubeconfig=kc, timeout=60), mappings=MAPPINGS, probe_interval=10.0)
    t0 = time.perf_counter()
    synced = asyncio.run(view.ready(120))
    snap, since = tick(view, 0.0)
    first_s = time.perf_counter() - t0
    assert synced and len(snap.nodes) == args.nodes, (synced, len(snap.nodes))
    assert sum(p.count for p in snap.placements) == args.pods
    rss1 = rss_mb()
    cluster.send(f"churn {args.churn}")
    time.sleep(2.0)  # let the watch reach the steady rate
    events0 = view.stats()["pods"]["events"]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    tick_ms = []
    next_at = time.perf_counter()
    ticks = int(args.seconds)
    for _ in range(ticks):
        t = time.thread_time()
        snap, since = tick(view, since)
        tick_ms.append((time.thread_time() - t) * 1000)
        next_at += 1.0
        time.sleep(max(0.0, next_at - time.perf_counter()))
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    applied = view.stats()["pods"]["events"] - events0
    rss2 = rss_mb()
    quiet = cluster.send("quiet")
    deadline = time.monotonic() + 30
    while view.informers["pods"].rv != str(quiet["rv"]) and time.monotonic() < deadline:
        time.sleep(0.05)  # the watch catches up with the last change (or a bookmark)
        if int(view.informers["pods"].rv or 0) >= quiet["rv"]:
            break
    held = [(p.function, p.node, p.state, p.count) for p in view.placements()]
    fresh = [(p.function, p.node, p.state, p.count) for p in naive_tick(KubeOptions(kubeconfig=kc, timeout=120))]
    stats = view.stats()
    view.close()
    return {
        "import_s": import_s,
        "first_s": first_s,
        "rss_before": rss0,
        "rss_after": rss1,
        "rss_churn": rss2,
        "tick_ms": tick_ms,
        "cpu_per_tick_ms": cpu / ticks * 1000,
        "events_per_s": applied / wall,
        "same": held == fresh,
        "pods_held": sum(c for *_, c in held),
        "stats": stats,
    }


def busy_phase(cluster: FakeCluster, kc: str, args, rate: float | None) -> dict:
    """Ticks while the pods churn, with the in-flight reader on (``rate`` reads a second at
    most; None: the view's default); then a warm pod turned busy, until the view shows it."""
    kw = {} if rate is None else {"inflight_rate": rate, "inflight_cpu": 1e9}
    view = KubeView(KubeOptions(kubeconfig=kc, timeout=60), mappings=BUSY_MAPPINGS, probe_interval=10.0, **kw)
    try:
        t0 = time.perf_counter()
        assert asyncio.run(view.ready(120))  # with the first round of reads
        snap, since = tick(view, 0.0)
        first_s = time.perf_counter() - t0
        reader = view.inflight
        choose = reader.due
        chosen = []  # (thread CPU s, reads) of each round's choice

        def timed_due(now):
            t = time.thread_time()
            out = choose(now)
            chosen.append((time.thread_time() - t, len(out)))
            return out

        reader.due = timed_due
        targets = len(view.pods.gauged)
        cluster.send(f"churn {args.churn}")
        time.sleep(2.0)
        proxied0 = cluster.send("proxied")["proxied"]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        tick_ms, next_at = [], time.perf_counter()
        for _ in range(int(args.seconds)):
            t = time.thread_time()
            snap, since = tick(view, since)
            tick_ms.append((time.thread_time() - t) * 1000)
            next_at += 1.0
            time.sleep(max(0.0, next_at - time.perf_counter()))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        reads_per_s = (cluster.send("proxied")["proxied"] - proxied0) / wall
        cluster.send("quiet")
        rounds = [c for c, _ in chosen[1:]] or [c for c, _ in chosen]  # the first takes the fresh
        return {
            "first_s": first_s,
            "rate": reader.rate,
            "budget": reader.budget,
            "targets": targets,
            "choose_ms": statistics.median(rounds) * 1000 if rounds else 0.0,
            "tick_ms": tick_ms,
            "cpu_per_tick_ms": cpu / len(tick_ms) * 1000,
            "reads_per_s": reads_per_s,
            # the last round's, or the one under way if it has taken longer already
            "round_s": max(reader.round_s, time.monotonic() - (reader.round_began or time.monotonic())),
            "round_done": reader.round_began is None,
            "cycle_s": targets / max(reads_per_s, 1e-6),
            "read_cpu_ms": reader.read_cpu * 1000,
            "failures": reader.failures,
        }
    finally:
        view.close()


def naive_tick(options: KubeOptions) -> list:
    """List everything, parse it, build the same model objects from scratch (the view's own
    code, its indexes fed by hand); the placements."""
    view = KubeView(options, mappings=MAPPINGS)  # never started
    conn = view.conn
    try:
        nodes = json.loads(conn.request("GET", "/api/v1/nodes", "list nodes"))["items"]
        pods = json.loads(conn.request("GET", "/api/v1/pods", "list pods"))["items"]
        usage = json.loads(conn.request("GET", METRICS_NODES, "read node metrics"))["items"]
        view.nodes_index.reset([view.nodes_index.reduce(n) for n in nodes])
        view.pods.reset([view.pods.reduce(p) for p in pods])
        view._set_usage(
            {
                u["metadata"]["name"]: (round(quantity(u["usage"]["cpu"]), 3), memory_mb(u["usage"]["memory"]))
                for u in usage
            }
        )
        del nodes, pods, usage
        snap = Snapshot(nodes=view.nodes(), placements=view.placements(), taken_at=time.time())
        return snap.placements
    finally:
        conn.close()


def naive_phase(kc: str, args) -> dict:
    """The naive re-list, ``args.naive`` ticks while the pods churn."""
    cpu_ms, wall_ms, peak = [], [], 0.0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_mb())
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    options = KubeOptions(kubeconfig=kc, timeout=120)
    for _ in range(args.naive):
        t, w = time.thread_time(), time.perf_counter()
        naive_tick(options)
        cpu_ms.append((time.thread_time() - t) * 1000)
        wall_ms.append((time.perf_counter() - w) * 1000)
    stop.set()
    sampler.join()
    return {"cpu_ms": cpu_ms, "wall_ms": wall_ms, "peak_rss": peak}


def _round(phase: dict) -> str:
    return f"{phase['round_s']:.2f} s" + ("" if phase["round_done"] else " (and going on)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=20000)
    parser.add_argument("--functions", type=int, default=200)
    parser.add_argument("--churn", type=float, default=100.0, help="pod changes a second")
    parser.add_argument("--seconds", type=float, default=10, help="ticks (one a second)")
    parser.add_argument("--naive", type=int, default=5, help="naive re-list ticks")
    parser.add_argument("--unbounded-rate", type=float, default=100000.0, help="the reader with no budget")
    args = parser.parse_args()
    print(
        f"fake cluster: {args.nodes} nodes, {args.pods} pods of {args.functions} functions "
        f"(own process); churn {args.churn:g} changes/s; measured under load\n"
    )
    cluster = FakeCluster(args.nodes, args.pods, args.functions)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            kc = cluster.kubeconfig(Path(tmp) / "kubeconfig")
            v = view_phase(cluster, kc, args)
            cluster.send(f"churn {args.churn}")
            n = naive_phase(kc, args)
            cluster.send("quiet")
            busy = [busy_phase(cluster, kc, args, None), busy_phase(cluster, kc, args, args.unbounded_rate)]
            cluster.send("quiet")
    finally:
        cluster.close()
    tick = v["tick_ms"]
    naive_cpu = statistics.median(n["cpu_ms"])
    rows = [
        (
            "first full snapshot",
            f"{v['first_s']:.2f} s (+{v['import_s']:.2f} s importing the kubernetes client)",
            f"{statistics.median(n['wall_ms']) / 1000:.2f} s every tick",
            f"<= {GOAL_FIRST_S:g} s",
        ),
        ("CPU of the tick itself, median / p95", f"{statistics.median(tick):.2f} / {pctl(tick, 0.95):.2f} ms", "", ""),
        (
            "CPU per tick at 1 tick/s, watch included",
            f"{v['cpu_per_tick_ms']:.1f} ms",
            f"{naive_cpu:.0f} ms",
            f"<= {GOAL_TICK_MS:g} ms",
        ),
        (
            "memory (RSS)",
            f"{v['rss_churn']:.0f} MB (view: +{v['rss_after'] - v['rss_before']:.0f} MB)",
            f"peak {n['peak_rss']:.0f} MB",
            f"<= {GOAL_RSS_MB:g} MB",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'view (list + watch)':44} {'naive re-list':22} goal")
    for name, a, b, goal in rows:
        print(f"{name:{width}}  {a:44} {b:22} {goal}")
    ratio = naive_cpu / max(v["cpu_per_tick_ms"], 1e-6)
    print(f"\nnaive / view, CPU per tick: {ratio:.0f}x")
    pods = v["stats"]["pods"]
    print(
        f"watch: {v['events_per_s']:.0f} pod events/s applied; lists {pods['lists']}, "
        f"410s {pods['expired']}, bookmarks {pods['bookmarks']}"
    )
    print(f"after the churn: the view's placements == a fresh full list: {v['same']} ({v['pods_held']} pods placed)")
    print(f"\nbusy pods: the in-flight reader on {busy[0]['targets']} warm pods (choosing a round's "
          f"reads: {busy[0]['choose_ms']:.2f} ms); no budget is capped here by the fake's ~90 answers/s")  # fmt: skip
    print(f"{'':{width}}  {'budget (default)':22} {'no budget':22} goal")
    b0, b1 = busy
    brows = [
        (
            "first full snapshot (+ a round of reads)",
            f"{b0['first_s']:.2f} s",
            f"{b1['first_s']:.2f} s",
            f"<= {GOAL_FIRST_S:g} s",
        ),
        (
            "reads a second (pod proxy)",
            f"{b0['reads_per_s']:.1f} (<= {b0['rate']:g}, CPU cap)",
            f"{b1['reads_per_s']:.0f}",
            "",
        ),
        (
            "CPU of the tick itself, median",
            f"{statistics.median(b0['tick_ms']):.2f} ms",
            f"{statistics.median(b1['tick_ms']):.2f} ms",
            "",
        ),
        (
            "CPU per tick at 1 tick/s, all included",
            f"{b0['cpu_per_tick_ms']:.1f} ms",
            f"{b1['cpu_per_tick_ms']:.1f} ms",
            f"<= {GOAL_TICK_MS:g} ms",
        ),
        ("a round's reads take", _round(b0), _round(b1), ""),
        ("CPU a read takes (the reader's average)", f"{b0['read_cpu_ms']:.2f} ms", f"{b1['read_cpu_ms']:.2f} ms", ""),
        ("every warm pod read once in", f"{b0['cycle_s']:.0f} s", f"{b1['cycle_s']:.0f} s", ""),
    ]
    for name, a, b, goal in brows:
        print(f"{name:{width}}  {a:22} {b:22} {goal}")
    print(f"no budget / budget, CPU per tick: {b1['cpu_per_tick_ms'] / max(b0['cpu_per_tick_ms'], 1e-6):.1f}x")
    ok = v["first_s"] <= GOAL_FIRST_S and v["cpu_per_tick_ms"] <= GOAL_TICK_MS and v["rss_churn"] <= GOAL_RSS_MB
    ok = ok and b0["cpu_per_tick_ms"] <= GOAL_TICK_MS and b0["first_s"] <= GOAL_FIRST_S
    print("goals met" if ok else "goals NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
