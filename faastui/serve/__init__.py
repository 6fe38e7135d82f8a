"""Provides ``faastui serve NAME``: a seed system's own API, served as a face over any Backend.

Each API is one module here, a ``ServedApi`` subclass (``base.py``) that answers its clients
by calling Backend methods only; ``runner.py`` is what they share (binding and its safety
rules, the ready line, stopping on SIGINT/SIGTERM, turning failures into one line and an
exit code). ``APIS`` names them without importing them, so ``faastui --help`` and listing
cost nothing:

- ``fusionizer`` (port 8000): the Nuclio Fusionizer's task API (``fusionizer.py``; its
  setups in ``fusion_setup.py``, its uploads read by ``multipart.py``);
- ``agent`` (port 5000): the radical faas agent's REST API (``agent.py``);
- ``iluvatar`` (port 8079): the Ilúvatar worker's gRPC service (``iluvatar.py``).

Adding an API is one module with a ``ServedApi`` subclass and one line in ``APIS``; its own
options reach it as ``ServeOptions.settings`` from ``faastui/cli/serve.py`` (JSON values,
so an engine can host it: ``hosted.py``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from backends.errors import InvalidRequest, did_you_mean

__all__ = ["ApiEntry", "APIS", "api_class", "names"]


@dataclass(frozen=True)
class ApiEntry:
    """Where an API lives: ``module:class`` under faastui.serve, its usual port, its summary."""

    target: str
    default_port: int
    summary: str


APIS: dict[str, ApiEntry] = {
    "fusionizer": ApiEntry("fusionizer:FusionizerApi", 8000, "the Nuclio Fusionizer's task API"),
    "agent": ApiEntry("agent:AgentApi", 5000, "the radical faas agent's REST API"),
    "iluvatar": ApiEntry("iluvatar:IluvatarApi", 8079, "the Ilúvatar worker's gRPC API"),
}


def names() -> list[str]:
    return sorted(APIS)


def api_class(name: str):
    """The ServedApi subclass of ``name``. Raises InvalidRequest for an unknown name."""
    entry = APIS.get(name)
    if entry is None:
        raise InvalidRequest(
            f"no API {name!r} to serve", hint=did_you_mean(name, APIS) or f"known: {', '.join(names())}"
        )
    module, _, cls = entry.target.partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)
