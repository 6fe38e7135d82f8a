"""Shared fixtures: a real engine daemon on a free loopback port, in a temp state dir.

Nothing here is a fake: the daemon is the real one (``python -m
backends.local.daemon``) with its own Redis, zygotes and worker processes.
Every process a fixture starts is stopped at teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest

from backends.local.control import start_engine, stop_engine

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"


def run(coro):
    """Run one coroutine to completion (the tests are sync; the backend is async)."""
    return asyncio.run(coro)


def cli(*args: str, input: str | None = None, env: dict | None = None, code: int = 0):
    """Run the faastui CLI in-process; it must exit with ``code`` and never show a traceback."""
    from typer.testing import CliRunner

    from faastui.cli import app

    result = CliRunner().invoke(app, list(args), input=input, env=env)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
    return result


def _children_of(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    except psutil.NoSuchProcess:
        return []


def live(pids) -> list[int]:
    import psutil

    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


class EngineHandle:
    def __init__(self, info: dict, state_dir: Path):
        self.info = info
        self.state_dir = state_dir
        self.url = info["url"]
        self.port = info["port"]
        self.pid = info["pid"]
        self.process = info["process"]

    def backend(self):
        from backends.local.client import LocalBackend

        return LocalBackend(self.url)

    def descendants(self) -> list[int]:
        return _children_of(self.pid)


@contextlib.contextmanager
def running_engine(state: Path, **options):
    """Start a real engine on ``state``; stop it after, and check nothing is left."""
    info = start_engine(state, port=0, functions_dir=FUNCTIONS, keep_alive=300, **options)
    handle = EngineHandle(info, state)
    try:
        yield handle
    finally:
        kids = handle.descendants()
        stop_engine(state)
        handle.process.wait(timeout=10)
        assert not live(kids), f"processes left after down: {live(kids)}"


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    """A running engine with the sample functions deployed (3 nodes)."""
    with running_engine(tmp_path_factory.mktemp("engine") / "state", nodes=3) as handle:

        async def deploy_all():
            async with handle.backend() as b:
                for d in sorted(FUNCTIONS.iterdir()):
                    if (d / "handler.py").exists():
                        await b.deploy(d)

        run(deploy_all())
        yield handle


@pytest.fixture()
def fresh_engine(tmp_path):
    """A private engine for tests that break things or need a clean slate."""
    with running_engine(tmp_path / "state", nodes=2) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _isolated_xdg(tmp_path, monkeypatch):
    """Never touch the user's real config or state."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.delenv("FAASTUI_CONTEXT", raising=False)
    os.environ.pop("NO_COLOR", None)
