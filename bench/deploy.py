"""Time from deploying a package with one requirement to its first answer.

Starts a private engine whose pip installs from a local wheel folder (built here, no
network: the requirement is "cached"), then, N times each (medians printed):

- new function: a package never deployed before with one requirement: pip runs
  (into the function's own folder, with the shared pip cache) — deploy, then first answer;
- redeploy: the same package again, requirements unchanged: no pip run;
- no requirement: the same code without its requirement (the engine's own floor);
- pip alone: `pip install --target` of the same wheel, as a fresh process (pip's floor).

Goal (issue 9): deploy with one cached requirement and first answer under 1 s.

    .venv/bin/python bench/deploy.py [-n 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backends.local.client import LocalBackend  # noqa: E402
from backends.local.control import start_engine, stop_engine  # noqa: E402
from tests.wheels import build_wheel, pip_env  # noqa: E402

GOAL_S = 1.0
HANDLER = "import benchlib\n\n\ndef handle(req):\n    return 'benchlib ' + benchlib.VALUE\n"


def package(base: Path, name: str, with_requirement: bool) -> Path:
    folder = base / name
    folder.mkdir(parents=True)
    (folder / "handler.py").write_text(
        HANDLER
        if with_requirement
        else HANDLER.replace("import benchlib\n", "benchlib = type('m', (), {'VALUE': '1.0'})\n")
    )
    if with_requirement:
        (folder / "requirements.txt").write_text("benchlib==1.0\n")
    return folder


async def deploy_then_answer(b: LocalBackend, folder: Path) -> tuple[float, float]:
    t0 = time.perf_counter()
    fn = await b.deploy(folder)
    t1 = time.perf_counter()
    inv = await b.invoke(fn.name, "x")
    t2 = time.perf_counter()
    if inv.status != "ok" or inv.result != "benchlib 1.0":
        raise SystemExit(f"{fn.name} answered {inv.status}: {inv.result or inv.error}")
    return t1 - t0, t2 - t0


def pip_alone(wheels: Path, target: Path) -> float:
    env = dict(os.environ, **pip_env(wheels), PIP_DISABLE_PIP_VERSION_CHECK="1")
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), "benchlib==1.0"],
        check=True,
        env=env,
        capture_output=True,
    )
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="faastui-bench-deploy-") as tmp:
        tmp = Path(tmp)
        wheels = tmp / "wheels"
        build_wheel(wheels, "benchlib", "1.0")
        saved = {k: os.environ.get(k) for k in pip_env(wheels)}
        os.environ.update(pip_env(wheels))
        try:
            info = start_engine(tmp / "state", port=0, nodes=2)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        rows: dict[str, list[tuple[float, float]]] = {"new": [], "redeploy": [], "none": []}
        pips = []
        try:

            async def run():
                async with LocalBackend(info["url"]) as b:
                    for i in range(args.n):
                        folder = package(tmp / "pkgs", f"bench-new-{i}", True)
                        rows["new"].append(await deploy_then_answer(b, folder))
                        rows["redeploy"].append(await deploy_then_answer(b, folder))
                        plain = package(tmp / "pkgs", f"bench-plain-{i}", False)
                        rows["none"].append(await deploy_then_answer(b, plain))

            asyncio.run(run())
            for i in range(args.n):
                pips.append(pip_alone(wheels, tmp / f"target-{i}"))
                shutil.rmtree(tmp / f"target-{i}", ignore_errors=True)
        finally:
            stop_engine(tmp / "state")
            info["process"].wait(timeout=10)

    def med(values):
        return statistics.median(values)

    print(f"deploy -> first answer, medians of {args.n} (measured under load: compare within this run)")
    print(f"{'case':<44}{'deploy':>10}{'to answer':>12}")
    labels = {
        "new": "new function, 1 cached requirement (pip runs)",
        "redeploy": "redeploy, requirement unchanged (no pip)",
        "none": "no requirement (the engine's floor)",
    }
    for key, label in labels.items():
        dep = med([d for d, _ in rows[key]])
        ans = med([a for _, a in rows[key]])
        print(f"{label:<44}{dep * 1000:>8.0f} ms{ans * 1000:>9.0f} ms")
    pip_s = med(pips)
    print(f"{'pip install --target alone (pip floor)':<44}{pip_s * 1000:>8.0f} ms")
    new_s = med([a for _, a in rows["new"]])
    none_s = med([a for _, a in rows["none"]])
    print(f"ratio new / (pip floor + engine floor): {new_s / (pip_s + none_s):.2f}")
    ok = new_s < GOAL_S and med([a for _, a in rows["redeploy"]]) < GOAL_S
    print(
        f"goal: deploy with one cached requirement to first answer < {GOAL_S:g} s: "
        f"{'met' if ok else 'NOT met'} ({new_s:.2f} s new, "
        f"{med([a for _, a in rows['redeploy']]):.2f} s redeploy)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
