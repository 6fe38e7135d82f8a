"""The backend layer never imports the faces' libraries (DESIGN: dependencies point one
way). Every backends module is imported, and a real backend call is made, in a fresh
process; textual, rich and faastui must stay out of sys.modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CODE = r"""
import asyncio, importlib, pkgutil, sys
import backends
for mod in pkgutil.walk_packages(backends.__path__, "backends."):
    if not mod.name.endswith("__main__"):
        importlib.import_module(mod.name)
from backends.local.client import LocalBackend
async def call():
    async with LocalBackend(sys.argv[1]) as b:
        return await b.invoke("hello", {"name": "hygiene"})
print(asyncio.run(call()).result["message"])
bad = sorted({m.split(".")[0] for m in sys.modules} & {"textual", "rich", "faastui", "typer"})
print("BAD", bad)
"""


def test_backends_never_import_faces(engine):
    proc = subprocess.run(
        [sys.executable, "-c", CODE, engine.url], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "Hello, hygiene!"
    assert lines[-1] == "BAD []"
