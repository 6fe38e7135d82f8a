"""Wall time of one-shot CLI commands as fresh processes, next to `python -c pass`.

Starts a private engine (port 0, temp state dir, sample functions deployed),
points the CLI at it through a temp XDG config, then runs each command N
times (default 20) as a fresh process and prints the medians. Goals from
issue #3: `faastui --help` <= 200 ms, a one-shot `faastui invoke hello` <= 300 ms.

With ``--compare-httpx`` it also times `invoke hello` through a LocalBackend
whose transport is httpx (the client before backends/local/transport.py), to
report the ratio.

With ``--compare-to DIR`` it also times each faastui command through another
checkout of faastui (DIR, with its own ``DIR/.venv``; e.g. a worktree of an
older commit) against the same engine, interleaved with this one's, and prints
both medians and the ratio this / DIR.

    .venv/bin/python bench/cli.py [-n 20] [--compare-httpx] [--compare-to DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backends.local.control import start_engine, stop_engine  # noqa: E402

PEER = "peer: "  # the prefix of the cases run through --compare-to's checkout
GOALS_MS = {"faastui --help": 200.0, "faastui invoke hello": 300.0}

HTTPX_INVOKE = r"""
import asyncio, sys, httpx
async def main(url):
    async with httpx.AsyncClient(base_url=url) as c:
        r = await c.post("/faastui/v1/invoke/hello", content=b"")
        sys.stdout.write(r.text)
asyncio.run(main(sys.argv[1]))
"""

STDLIB_INVOKE = r"""
import asyncio, sys
from backends.local.transport import HttpTransport
async def main(url):
    t = HttpTransport(url)
    r = await t.request("POST", "/faastui/v1/invoke/hello")
    sys.stdout.write(r.content.decode())
    await t.aclose()
asyncio.run(main(sys.argv[1]))
"""


def timed(cmd: list[str], env: dict, n: int, cwd: Path = ROOT, cpu: list | None = None) -> list[float]:
    """Wall ms of ``n`` runs of ``cmd``; each run's CPU ms (user + system) goes to ``cpu``."""
    out = []
    for _ in range(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        out.append((time.perf_counter() - t0) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if cpu is not None:
            cpu.append(1000 * (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime))
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-400:]}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--compare-httpx", action="store_true")
    ap.add_argument("--compare-to", metavar="DIR", type=Path, help="another faastui checkout with its own .venv")
    args = ap.parse_args()
    py = sys.executable
    peer = args.compare_to.resolve() if args.compare_to else None
    if peer is not None and not (peer / ".venv" / "bin" / "python").exists():
        raise SystemExit(f"{peer}/.venv/bin/python not found: run `make setup` there")
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "engine"
        info = start_engine(state, port=0, nodes=2, functions_dir=ROOT / "functions")
        try:
            env = dict(
                os.environ,
                XDG_CONFIG_HOME=f"{tmp}/cfg",
                XDG_STATE_HOME=f"{tmp}/state",
                FAASTUI_URL=info["url"],
                PYTHONPATH=str(ROOT),
                # bytecode of every checkout in one temp tree, written by the warm-up round:
                # a stale __pycache__ (an edited file, PYTHONDONTWRITEBYTECODE) is not timed
                PYTHONPYCACHEPREFIX=f"{tmp}/pycache",
            )
            env.pop("NO_COLOR", None)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            faastui = [py, "-m", "faastui"]
            subprocess.run(
                faastui + ["deploy", str(ROOT / "functions" / "hello")],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            subprocess.run(
                faastui + ["invoke", "hello"], env=env, cwd=ROOT, check=True, capture_output=True
            )  # warm a container: time the CLI, not a cold start
            commands = [["--help"], ["workflow", "--help"], ["invoke", "hello"], ["functions", "-o", "json"]]
            cases = [("python -c pass", [py, "-c", "pass"], env, ROOT)]
            cases += [("faastui " + " ".join(argv), faastui + argv, env, ROOT) for argv in commands]
            if peer is not None:
                peer_env = dict(env, PYTHONPATH=str(peer))
                peer_faastui = [str(peer / ".venv" / "bin" / "python"), "-m", "faastui"]
                # the interpreter's own start in DIR's venv: its site-packages (an editable
                # install's finder, say) is part of every command there
                cases.append((f"{PEER}python -c pass", [peer_faastui[0], "-c", "pass"], peer_env, peer))
                for argv in commands:
                    cases.append((f"{PEER}faastui " + " ".join(argv), peer_faastui + argv, peer_env, peer))
            if args.compare_httpx:
                cases.append(("httpx one POST /invoke", [py, "-c", HTTPX_INVOKE, info["url"]], env, ROOT))
                cases.append(("stdlib transport one POST /invoke", [py, "-c", STDLIB_INVOKE, info["url"]], env, ROOT))
            for _name, cmd, case_env, cwd in cases:  # warm-up: bytecode written, pages cached
                timed(cmd, case_env, 1, cwd)
            results = {name: [] for name, *_ in cases}  # printed in this order
            cpu = {name: [] for name, *_ in cases}
            # interleave rounds, each in a new order, so machine noise and what ran just
            # before hit every case alike
            order = random.Random(13)
            for _ in range(args.n):
                for name, cmd, case_env, cwd in order.sample(cases, len(cases)):
                    results[name].extend(timed(cmd, case_env, 1, cwd, cpu[name]))
        finally:
            stop_engine(state)
            info["process"].wait(timeout=10)
    base = statistics.median(results["python -c pass"])
    print(f"{'command':38} {'median ms':>10} {'p90 ms':>8} {'- python':>9}  goal")
    for name, values in results.items():
        if name.startswith(PEER):
            continue
        med = statistics.median(values)
        p90 = sorted(values)[int(0.9 * (len(values) - 1))]
        goal = GOALS_MS.get(name)
        verdict = "" if goal is None else f"<= {goal:.0f} {'ok' if med <= goal else 'MISSED'}"
        print(f"{name:38} {med:10.1f} {p90:8.1f} {med - base:9.1f}  {verdict}")
    if peer is not None:
        print(f"\nthis checkout vs {peer} (same run, interleaved, medians; CPU = user + system)")
        print(
            f"{'command':38} {'this ms':>10} {'peer ms':>8} {'this/peer':>9} {'CPU this':>9} {'peer':>6} {'ratio':>6}"
        )
        for name, values in results.items():
            if name.startswith(PEER):
                own = name[len(PEER) :]
                mine, theirs = statistics.median(results[own]), statistics.median(values)
                cpu_mine, cpu_theirs = statistics.median(cpu[own]), statistics.median(cpu[name])
                print(
                    f"{own:38} {mine:10.1f} {theirs:8.1f} {mine / theirs:9.2f}"
                    f" {cpu_mine:9.1f} {cpu_theirs:6.1f} {cpu_mine / cpu_theirs:6.2f}"
                )
    if args.compare_httpx:
        h = statistics.median(results["httpx one POST /invoke"])
        s = statistics.median(results["stdlib transport one POST /invoke"])
        print(f"httpx / stdlib transport, one-shot process: {h / s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
