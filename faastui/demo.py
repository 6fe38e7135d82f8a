"""`faastui demo`: the embedded engine with the sample cluster and functions, under load.

Starts the engine on ``demo/cluster.yaml``, deploys every package in
``functions/`` and prewarms, then either opens the dashboard with a mixed
background load running until you quit (``ui=True``, the default on a
terminal) while the fusion optimizer runs in rounds and fuses the two fusion
samples once their calls show up (watch the Fusion pane and Events), or
fuses them up front and sends a short mixed load (sync calls on every
node, a chain dispatch, a fan-out, async calls) and prints nodes, placements
and latencies (``ui=False``: ``python -m faastui.demo --no-ui``, or
``FAASTUI_NO_UI=1``, or no terminal, for CI). The engine is stopped at the
end unless ``keep_running``.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

from backends.errors import BackendError
from backends.model import DispatchStep

from . import locations

LOAD = [  # (function, payload)
    ("hello", {"name": "Alex"}),
    ("echo", "ping"),
    ("data-processor", {"numbers": [1, 2, 3, 4, 5]}),
    ("json-transformer", {"Name": "FaaS", "Count": 21}),
    ("sleep", {"ms": 20}),
    ("cpu-burn", {"ms": 10}),
    ("fusion-front", {"text": "fused"}),
]


#: the fusion optimizer in the dashboard demo: seconds between rounds, and the calls an
#: edge needs within one round to fuse (fusion-front makes ~4 calls/s in the demo load)
OPTIMIZE_EVERY_S = 8.0
OPTIMIZE_MIN_CALLS = 10


async def prepare(backend, fuse: bool = True) -> list[str]:
    """Prewarm a little and (``fuse``) fuse the fusion samples; returns the node names."""
    nodes = [n.name for n in await backend.nodes()]
    await backend.prewarm("hello", nodes[0], 2)
    await backend.prewarm("echo", nodes[-1], 1)
    if fuse:
        await backend.fuse(["fusion-front", "fusion-back"], "fusion-pair")
    return nodes


async def dashboard_background(backend) -> None:
    """The dashboard demo: the mixed load, and the fusion optimizer applying its plan every
    ``OPTIMIZE_EVERY_S`` seconds (fusion-front calls fusion-back, so they get fused)."""
    from backends.fusionizer import optimize_every

    await asyncio.gather(
        background_load(backend),
        optimize_every(
            backend, OPTIMIZE_EVERY_S, apply=True, min_calls=OPTIMIZE_MIN_CALLS, on_error=lambda round_no, exc: None
        ),
    )  # a failed round is retried


async def background_load(backend, seed: int = 11, pause_s: float = 0.05) -> None:
    """The dashboard demo's load: mixed calls, chains, fan-outs and async calls, until cancelled."""
    rng = random.Random(seed)
    nodes = [n.name for n in await backend.nodes()]
    i = 0
    while True:
        i += 1
        batch = []
        for _ in range(3):
            fn, payload = LOAD[rng.randrange(len(LOAD))]
            batch.append(backend.invoke(fn, payload, node=rng.choice(nodes + [None, None])))
        if i % 10 == 0:
            batch.append(
                backend.dispatch(
                    {"name": "chain"},
                    [DispatchStep(rng.choice(nodes), "hello"), DispatchStep(rng.choice(nodes), "json-transformer")],
                )
            )
        if i % 25 == 0:
            batch.append(
                backend.dispatch({"numbers": [2, 4]}, [DispatchStep(n, "data-processor") for n in nodes], mode="fanout")
            )
        if i % 15 == 0:
            batch.append(backend.invoke_async("sleep", {"ms": 30}))
        if i % 40 == 0:
            batch.append(backend.invoke("crash", {}, node=rng.choice(nodes)))
        await asyncio.gather(*batch, return_exceptions=True)  # a failed call is part of the show
        await asyncio.sleep(pause_s * (1 + rng.random()))


async def run_load(backend, calls: int = 120, seed: int = 7) -> list:
    """Send the mixed load; returns every Invocation."""
    rng = random.Random(seed)
    nodes = await prepare(backend)
    invocations = []
    sem = asyncio.Semaphore(4)

    async def one(i: int):
        fn, payload = LOAD[i % len(LOAD)]
        node = rng.choice(nodes + [None, None])
        async with sem:
            invocations.append(await backend.invoke(fn, payload, node=node))

    await asyncio.gather(*(one(i) for i in range(calls)))
    chain = await backend.dispatch(
        {"name": "chain"}, [DispatchStep(nodes[0], "hello"), DispatchStep(nodes[-1], "json-transformer")]
    )
    invocations.extend(chain.steps)
    fan = await backend.dispatch({"numbers": [2, 4]}, [DispatchStep(n, "data-processor") for n in nodes], mode="fanout")
    invocations.extend(fan.steps)
    ids = [await backend.invoke_async("sleep", {"ms": 5}) for _ in range(3)]
    for call_id in ids:
        invocations.append(await backend.result(call_id, wait=10))
    return invocations


def _report(snapshot, invocations) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    nodes = Table(title="nodes")
    for col in ("node", "containers", "memory used/total MB", "labels"):
        nodes.add_column(col)
    for n in snapshot.nodes:
        nodes.add_row(
            n.name,
            f"{n.containers}/{n.max_containers}",
            f"{n.used_memory_mb:g}/{n.memory_mb:g}",
            ",".join(f"{k}={v}" for k, v in n.labels.items()),
        )
    console.print(nodes)
    grid = Table(title="placement (containers by state)")
    grid.add_column("function")
    for n in snapshot.nodes:
        grid.add_column(n.name)
    cells: dict[tuple[str, str], list[str]] = {}
    for p in snapshot.placements:
        if p.count:
            cells.setdefault((p.function, p.node), []).append(f"{p.state}:{p.count}")
    for f in snapshot.functions:
        grid.add_row(f.name, *(" ".join(cells.get((f.name, n.name), ["cold"])) for n in snapshot.nodes))
    console.print(grid)
    lat = Table(title="latency per function (ms, end to end in the engine)")
    for col in ("function", "calls", "errors", "p50", "p95", "p99", "deadline met", "cold"):
        lat.add_column(col, justify="right" if col != "function" else "left")
    for q in snapshot.qos:
        met = f"{q.deadline_met}/{q.deadline_total}" if q.deadline_total else "-"
        lat.add_row(
            q.subject,
            str(q.count),
            str(q.errors),
            f"{q.p50_ms:.2f}",
            f"{q.p95_ms:.2f}",
            f"{q.p99_ms:.2f}",
            met,
            f"{q.cold_ratio:.0%}",
        )
    console.print(lat)
    states: dict[str, int] = {}
    for inv in invocations:
        states[inv.container_state] = states.get(inv.container_state, 0) + 1
    for g in snapshot.fusion_groups:
        console.print(
            f"fusion group {g.name}: {', '.join(g.functions)}  "
            f"local calls {g.calls_local}, remote calls {g.calls_remote}"
        )
    console.print(
        f"{len(invocations)} calls; container state as found: "
        + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    )


def _want_ui() -> bool:
    import os

    if os.environ.get("FAASTUI_NO_UI"):
        return False
    return sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()


def main(
    state_dir: Path | None = None,
    port: int = 0,
    keep_running: bool = False,
    ui: bool | None = None,
    theme: str | None = None,
) -> int:
    """Run the demo. ``ui``: open the dashboard (None: when on a terminal). Returns the exit code."""
    from backends.local.client import LocalBackend
    from backends.local.control import start_engine, stop_engine

    if ui is None:
        ui = _want_ui()

    state_dir = state_dir or locations.state_dir() / "demo"
    try:
        info = start_engine(
            state_dir, cluster=locations.demo_dir() / "cluster.yaml", port=port, functions_dir=locations.functions_dir()
        )
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"engine up at {info['url']} (state in {state_dir})", file=sys.stderr)

    async def deploy_all(backend):
        for pkg in sorted(locations.functions_dir().iterdir()):
            if (pkg / "handler.py").exists():
                await backend.deploy(pkg)

    async def go():
        async with LocalBackend(info["url"]) as backend:
            await deploy_all(backend)
            invocations = await run_load(backend)
            return await backend.snapshot(), invocations

    async def setup():
        async with LocalBackend(info["url"]) as backend:
            await deploy_all(backend)
            await prepare(backend, fuse=False)  # the optimizer fuses them, live

    try:
        if ui:
            from .tui.app import run as run_dashboard  # deferred: textual costs ~400 ms

            asyncio.run(setup())
            # remember_theme=False: a `:theme` in the demo is not the user's choice for later
            code = run_dashboard(
                make_backend=lambda: LocalBackend(info["url"]),
                theme=theme,
                background=dashboard_background,
                label="demo",
                remember_theme=False,
            )
            if code:
                return code
        else:
            snapshot, invocations = asyncio.run(go())
            _report(snapshot, invocations)
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if not keep_running:
            stop_engine(state_dir)
            info["process"].wait()
    if keep_running:
        print(
            f"the engine keeps running at {info['url']}; stop it with `faastui down` (state dir {state_dir})",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(ui=False if "--no-ui" in sys.argv[1:] else None, keep_running="--keep-running" in sys.argv[1:]))
