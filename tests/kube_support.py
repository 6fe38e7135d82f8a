"""Helpers the Kubernetes tests share: a wait with a deadline (never a fixed sleep), a
started FAKE cluster (tests/fakes/kube_api.py) that checks no thread of it or of the code
under test is left afterwards, and a kubeconfig whose server nobody listens on."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

from tests.fakes.kube_api import fake_kube

__all__ = ["wait_for", "checked_fake", "closed_port", "unreachable_kubeconfig"]


def wait_for(check, timeout: float = 15.0, what: str = "condition"):
    """``check()``'s first truthy value; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def checked_fake(**options):
    """A started fake cluster; afterwards, no thread started meanwhile may be alive."""
    threads = set(threading.enumerate())
    with fake_kube(**options) as kube:
        yield kube
    left = [t for t in set(threading.enumerate()) - threads if t.is_alive()]
    assert not left, left


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unreachable_kubeconfig(fake, folder: Path) -> Path:
    """A kubeconfig like ``fake``'s, its server a loopback port nobody listens on."""
    path = folder / "unreachable-kubeconfig"
    path.write_text(
        fake.kubeconfig(folder / "reachable-kubeconfig")
        .read_text()
        .replace(fake.api_url, f"http://127.0.0.1:{closed_port()}")
    )
    return path
