"""Backend registry: kind name -> Backend class, via entry points.

Built-in backends register through the ``faastui.backends`` entry point group
exactly as third-party ones do. Listing names imports nothing; a backend's
module is imported only when it is asked for. A built-in kind is found without
reading the installed packages' entry points (``importlib.metadata`` and the
scan cost ~25 ms, a sixth of a one-shot command), so a plugin cannot shadow a
built-in name; any other kind is looked up among the entry points.
"""

from __future__ import annotations

import importlib

from .errors import InvalidRequest, did_you_mean

__all__ = ["available", "load"]

GROUP = "faastui.backends"
#: fallback when the package is used from a source tree without being installed
_BUILTIN = {
    "local": "backends.local.client:LocalBackend",
    "openfaas": "backends.openfaas:OpenFaaSBackend",
    "invokers": "backends.invokers:InvokersBackend",
    "knative": "backends.knative:KnativeBackend",
    "nuclio": "backends.nuclio:NuclioBackend",
    "iluvatar": "backends.iluvatar:IluvatarBackend",
}


def _targets() -> dict[str, str]:
    # deferred: importlib.metadata is only needed past the built-in kinds (see the docstring)
    from importlib.metadata import entry_points

    targets = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    targets.update(_BUILTIN)
    return targets


def available() -> list[str]:
    """Names of the installed backends, sorted. Imports none of them."""
    return sorted(_targets())


def load(kind: str):
    """The Backend class for ``kind``. Raises InvalidRequest for an unknown kind."""
    targets = _BUILTIN if kind in _BUILTIN else _targets()
    if kind not in targets:
        hint = did_you_mean(kind, targets) or f"installed: {', '.join(sorted(targets))}"
        raise InvalidRequest(f"unknown backend kind {kind!r}", hint=hint)
    module_name, _, attr = targets[kind].partition(":")
    return getattr(importlib.import_module(module_name), attr)
