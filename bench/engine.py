"""Benchmark the embedded engine: warm latency, overhead, throughput, cold start, fan-out.

Runs a real daemon (its own Redis, zygotes and workers) on a free loopback
port in a temp state dir, deploys a trivial handler and prints:

1. warm invoke latency p50/p99 end to end through HTTP with a keep-alive
   httpx.Client (and with a raw socket client, for reference);
2. the engine-added overhead p50/p99 (the X-Faastui-Overhead-Ms header:
   time in the gateway minus handler time);
3. warm invokes per second with 8 concurrent connections, from 2 load
   generator processes of raw asyncio connections (httpx.AsyncClient alone
   is too slow on 2 cores to be the load generator);
4. cold start p50 via the zygote next to a fresh interpreter that imports the
   same handler, as a ratio measured in the same run;
5. a fan-out dispatch to 100 warm targets.

Usage: .venv/bin/python bench/engine.py [--quick]
Figures are medians of 3 runs where noted; the machine is noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from backends.local.control import start_engine, stop_engine  # noqa: E402

NOOP = "def handle(req):\n    return req\n"
CLUSTER = """nodes:
  - {name: n1, cpus: 2, memory_mb: 8192, max_containers: 40}
  - {name: n2, cpus: 2, memory_mb: 8192, max_containers: 40}
  - {name: n3, cpus: 2, memory_mb: 8192, max_containers: 40}
  - {name: n4, cpus: 2, memory_mb: 8192, max_containers: 40}
"""


def pct(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def goal(ok: bool) -> str:
    return "meets goal" if ok else "MISSES goal"


# ---- 1 + 2: latency with a keep-alive client ----------------------------------------------


def latency_httpx(url: str, n: int) -> tuple[list[float], list[float]]:
    lat, over = [], []
    with httpx.Client(base_url=url) as client:
        for _ in range(200):
            client.post("/function/noop", content=b"x")
        for _ in range(n):
            t0 = time.perf_counter()
            r = client.post("/function/noop", content=b"x")
            lat.append((time.perf_counter() - t0) * 1000)
            over.append(float(r.headers["X-Faastui-Overhead-Ms"]))
    return lat, over


REQ = b"POST /function/noop HTTP/1.1\r\nHost: b\r\nContent-Length: 1\r\n\r\nx"


def _read_response(sock: socket.socket, buf: bytearray) -> None:
    while True:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = bytes(buf[:head_end]).lower()
            i = head.find(b"content-length:")
            length = int(head[i + 15 : head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None])
            total = head_end + 4 + length
            if len(buf) >= total:
                del buf[:total]
                return
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk


def latency_raw(port: int, n: int) -> list[float]:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    lat = []
    for i in range(n + 200):
        t0 = time.perf_counter()
        sock.sendall(REQ)
        _read_response(sock, buf)
        if i >= 200:
            lat.append((time.perf_counter() - t0) * 1000)
    sock.close()
    return lat


# ---- 3: throughput ---------------------------------------------------------------------


async def _load(port: int, conns: int, seconds: float) -> int:
    count = 0
    stop_at = time.perf_counter() + seconds

    async def one():
        nonlocal count
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop_at:
            writer.write(REQ)
            head = await reader.readuntil(b"\r\n\r\n")
            i = head.lower().find(b"content-length:")
            length = int(head[i + 15 : head.find(b"\r\n", i)])
            await reader.readexactly(length)
            count += 1
        writer.close()

    await asyncio.gather(*(one() for _ in range(conns)))
    return count


def _load_proc(port: int, conns: int, seconds: float, out) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    t0 = time.process_time()
    n = asyncio.run(_load(port, conns, seconds))
    out.put((n, time.process_time() - t0))


def throughput(port: int, procs: int = 2, conns_each: int = 4, seconds: float = 3.0):
    q = mp.get_context("fork").Queue()
    ps = [mp.get_context("fork").Process(target=_load_proc, args=(port, conns_each, seconds, q)) for _ in range(procs)]
    t0 = time.perf_counter()
    for p in ps:
        p.start()
    results = [q.get() for _ in ps]
    for p in ps:
        p.join()
    wall = time.perf_counter() - t0
    total = sum(r[0] for r in results)
    client_cpu = sum(r[1] for r in results)
    return total / seconds, client_cpu / wall


# ---- 4: cold start ---------------------------------------------------------------------


def cold_zygote(url: str, n: int) -> list[float]:
    out = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(n):
            node = f"n{i % 4 + 1}"
            r = client.post("/faastui/v1/prewarm", json={"function": "cold", "node": node, "count": 1})
            r.raise_for_status()
            out.append(r.json()[0]["cold_start_ms"])
            client.post("/prewarm", json={"nodes": [{"node": node, "function": "cold", "warm": False}]})
    return out


def cold_fresh(handler_dir: Path, n: int) -> list[float]:
    """What a spawn-per-container engine would pay: a new interpreter that loads the
    same handler through the same runtime and connects a Unix socket to say ready."""
    code = (
        "import sys, socket; sys.path.insert(0, sys.argv[3]); "
        "from backends.local import runtime; "
        "runtime.load_function('cold', sys.argv[1], 'handler:handle'); "
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[2]); s.sendall(b'r')"
    )
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ready.sock")
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(8)
        for _ in range(n):
            t0 = time.perf_counter()
            p = subprocess.Popen([sys.executable, "-c", code, str(handler_dir), path, str(ROOT)])
            conn, _ = srv.accept()
            assert conn.recv(1) == b"r"
            out.append((time.perf_counter() - t0) * 1000)
            conn.close()
            p.wait()
        srv.close()
    return out


# ---- 5: fan-out ------------------------------------------------------------------------


def fanout(url: str, runs: int) -> list[float]:
    steps = [{"node": f"n{i % 4 + 1}", "function": "noop"} for i in range(100)]
    with httpx.Client(base_url=url, timeout=60) as client:
        for node in ("n1", "n2", "n3", "n4"):
            client.post("/faastui/v1/prewarm", json={"function": "noop", "node": node, "count": 25})
        body = {"input": "x", "mode": "fanout", "steps": steps}
        for _ in range(3):
            client.post("/faastui/v1/dispatch", json=body).raise_for_status()
        out = []
        for _ in range(runs):
            t0 = time.perf_counter()
            r = client.post("/faastui/v1/dispatch", json=body)
            out.append((time.perf_counter() - t0) * 1000)
            states = {s["container_state"] for s in r.json()["steps"]}
            assert states == {"warm"}, states
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    args = ap.parse_args()
    n = 500 if args.quick else 3000
    runs = 1 if args.quick else 3
    tmp = Path(tempfile.mkdtemp(prefix="faastui-bench-"))
    (tmp / "cluster.yaml").write_text(CLUSTER)
    info = start_engine(tmp / "state", cluster=tmp / "cluster.yaml", port=0)
    url, port = info["url"], info["port"]
    try:
        with httpx.Client(base_url=url) as c:
            for name, extra in (("noop", {"memory": 32}), ("cold", {"memory": 32})):
                r = c.post("/faastui/v1/deploy", json={"id": name, "handler": NOOP, **extra})
                r.raise_for_status()
        print(f"engine at {url}; Python {sys.version.split()[0]}; {os.cpu_count()} cores")

        p50s, p99s, o50s, o99s, raw50 = [], [], [], [], []
        for _ in range(runs):
            lat, over = latency_httpx(url, n)
            p50s.append(pct(lat, 0.5))
            p99s.append(pct(lat, 0.99))
            o50s.append(pct(over, 0.5))
            o99s.append(pct(over, 0.99))
            raw50.append(pct(latency_raw(port, n), 0.5))
        p50, p99 = statistics.median(p50s), statistics.median(p99s)
        o50, o99 = statistics.median(o50s), statistics.median(o99s)
        print(f"\n1. warm invoke, httpx.Client keep-alive ({n} calls x {runs} runs, median of runs)")
        print(f"   p50 {p50:.3f} ms  p99 {p99:.3f} ms   [{goal(p50 <= 1.0 and p99 <= 5.0)}: p50 <= 1.0, p99 <= 5]")
        print(f"   raw socket client p50 {statistics.median(raw50):.3f} ms (reference)")
        print("2. engine-added overhead (gateway time minus handler time)")
        print(f"   p50 {o50:.3f} ms  p99 {o99:.3f} ms   [{goal(o50 <= 0.3)}: p50 <= 0.3]")

        rates = []
        for _ in range(runs):
            rate, client_cores = throughput(port, seconds=2.0 if args.quick else 3.0)
            rates.append(rate)
        rate = statistics.median(rates)
        print("3. throughput, 8 connections from 2 raw-asyncio load processes")
        print(
            f"   {rate:,.0f} invokes/s (runs: {', '.join(f'{r:,.0f}' for r in rates)}; "
            f"load generators used {client_cores:.2f} cores)   [{goal(rate >= 5000)}: >= 5,000/s]"
        )

        nz = 20 if args.quick else 60
        zyg = cold_zygote(url, nz)
        handler_dir = Path(info["state_dir"]) / "functions" / "cold"
        handler_dir = next(p for p in handler_dir.iterdir() if p.is_dir())
        fresh = cold_fresh(handler_dir, 10 if args.quick else 30)
        z50, f50 = pct(zyg, 0.5), pct(fresh, 0.5)
        print(
            "4. cold start: fork from the node's zygote vs a fresh interpreter that loads the same"
            " handler and connects a Unix socket"
        )
        print(
            f"   zygote p50 {z50:.2f} ms (p99 {pct(zyg, 0.99):.2f})  fresh interpreter p50 {f50:.2f} ms"
            f"  ratio {f50 / z50:.1f}x   [{goal(z50 <= 5 and f50 / z50 >= 10)}: <= 5 ms and >= 10x]"
        )

        # 300 samples: with 30, p99 was the slowest single call, one scheduler hiccup on a
        # loaded machine, and moved 2x between runs of the same code
        fo = fanout(url, 20 if args.quick else 300)
        print(f"5. fan-out dispatch to 100 warm targets (4 nodes x 25 containers), one request ({len(fo)} calls)")
        print(
            f"   p50 {pct(fo, 0.5):.2f} ms  p90 {pct(fo, 0.9):.2f} ms  p99 {pct(fo, 0.99):.2f} ms"
            f"   [{goal(pct(fo, 0.5) <= 20)}: <= 20 ms]"
        )
    finally:
        stop_engine(tmp / "state")
        info["process"].wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
