"""Kubernetes resource quantities ('3800m', '7Gi', '8148348Ki', '2', '64M') as numbers.

OpenFaaS, Knative and Nuclio all carry limits and capacities in this notation;
the model keeps memory in MB (MiB) and CPU in cores. Unreadable text is 0 (a
platform's odd value must not break a listing).
"""

from __future__ import annotations

from typing import Any

__all__ = ["quantity", "memory_mb", "cpus", "limits"]

_SUFFIXES = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}
_ORDER = sorted(_SUFFIXES, key=len, reverse=True)


def quantity(value: Any) -> float:
    """The number a quantity stands for (bytes for memory, cores for CPU); 0 if unreadable."""
    text = str(value if value is not None else "").strip()
    number, scale = text, 1.0
    for suffix in _ORDER:
        if text.endswith(suffix):
            number, scale = text[: -len(suffix)], _SUFFIXES[suffix]
            break
    try:
        return float(number) * scale
    except ValueError:
        return 0.0


def memory_mb(value: Any) -> float:
    """A memory quantity in MB (MiB): '128Mi' -> 128, '1Gi' -> 1024, '1048576' -> 1."""
    return round(quantity(value) / 2**20, 3)


def cpus(value: Any) -> float:
    """A CPU quantity in cores: '500m' -> 0.5, '2' -> 2."""
    return round(quantity(value), 3)


def limits(memory: Any = None, cpus: Any = None) -> dict[str, str]:
    """Kubernetes-style limits from function.yaml's ``memory`` (MB) and ``cpus`` (cores):
    ``{"memory": "128Mi", "cpu": "500m"}``, leaving out what is not given.
    Raises: ValueError for a value that is not a number."""
    out = {}
    if memory:
        out["memory"] = f"{int(float(memory))}Mi"
    if cpus:
        out["cpu"] = f"{int(float(cpus) * 1000)}m"
    return out
