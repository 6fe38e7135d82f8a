"""Docker image references compared the way Docker reads them (for Ilúvatar's ``register``,
which names a function by its image).

``fn``, ``fn:latest``, ``library/fn``, ``docker.io/library/fn:latest`` and
``index.docker.io/library/fn`` are one image; ``ghcr.io/x/fn`` is another; a digest
(``@sha256:...``) is kept as it is. Private here until the engine's own matching (issue 9,
for OpenFaaS stack files) lands; then one of the two should go.
"""

from __future__ import annotations

__all__ = ["normalize_image", "same_image"]

_DEFAULT_REGISTRY = "docker.io"
_REGISTRY_ALIASES = {"index.docker.io": "docker.io", "registry-1.docker.io": "docker.io"}


def normalize_image(ref: str) -> str:
    """The fully qualified form of an image reference: ``registry/path:tag`` (or ``@digest``)."""
    ref = ref.strip()
    name, at, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:  # a tag (a ':' before the last '/' is a registry's port)
        name, _, tag = name.rpartition(":")
    parts = name.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost"):
        registry, path = _REGISTRY_ALIASES.get(first, first), parts[1:]
    else:
        registry, path = _DEFAULT_REGISTRY, parts
    if registry == _DEFAULT_REGISTRY and len(path) == 1:
        path = ["library", *path]
    out = f"{registry}/{'/'.join(path)}"
    if at:
        return f"{out}:{tag}@{digest}" if tag else f"{out}@{digest}"
    return f"{out}:{tag or 'latest'}"


def same_image(a: str, b: str) -> bool:
    return bool(a.strip()) and bool(b.strip()) and normalize_image(a) == normalize_image(b)
