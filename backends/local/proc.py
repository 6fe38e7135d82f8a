"""Process hygiene shared by the engine's children: die with the parent.

PID 1 here does not reap orphans, and a killed engine must not leave Redis,
zygotes or workers behind; ``PR_SET_PDEATHSIG`` makes the kernel kill them.
"""

from __future__ import annotations

import ctypes
import signal

__all__ = ["set_pdeathsig", "describe_returncode"]

PR_SET_PDEATHSIG = 1


try:  # looked up once: this runs in every freshly forked worker
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def set_pdeathsig(sig: int = signal.SIGKILL) -> None:
    """Die with ``sig`` when the parent exits (Linux); a no-op elsewhere.

    Safe as a ``preexec_fn``: it only calls prctl.
    """
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def describe_returncode(returncode: int | None) -> str:
    """``exit code N`` or ``signal N (SIGNAME)`` for a ``Popen`` return code."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "?"
        return f"signal {-returncode} ({name})"
    return f"exit code {returncode}"
