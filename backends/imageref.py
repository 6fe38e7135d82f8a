"""Docker image references: which spellings name the same image.

Docker's rules (distribution/reference, ``ParseNormalizedNamed``): a reference is
``[domain/]path[:tag][@digest]``; the first component is a domain only when it holds
a ``.`` or a ``:`` or is ``localhost``, otherwise the domain is ``docker.io``; on
``docker.io`` a one-component path is an official image under ``library/``; a missing
tag (and no digest) means ``latest``; ``index.docker.io`` is ``docker.io``. So ``fn``,
``fn:latest``, ``library/fn`` and ``docker.io/library/fn:latest`` are one image, and
``registry/fn`` is ``registry/fn:latest``, but ``registry:5000/fn`` is another registry.

The Invokers SDK names functions by image without a tag, Ilúvatar registers by image
name; both match through :func:`normalize` here (the engine's ``resolve``).
"""

from __future__ import annotations

__all__ = ["normalize", "same_image"]

_DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAINS = ("index.docker.io", "registry-1.docker.io")


def normalize(ref: str) -> str:
    """The fully qualified form of ``ref``: ``domain/path:tag`` or ``domain/path@digest``.

    Text that is not a reference at all (empty, spaces) comes back unchanged, so it can
    only ever match itself.
    """
    text = (ref or "").strip()
    if not text or any(c.isspace() for c in text):
        return text
    digest = ""
    if "@" in text:
        text, _, digest = text.partition("@")
    domain, _, rest = text.partition("/")
    if not rest or not ("." in domain or ":" in domain or domain == "localhost"):
        domain, rest = _DEFAULT_DOMAIN, text
    if domain in _LEGACY_DOMAINS:
        domain = _DEFAULT_DOMAIN
    last = rest.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        rest, _, tag = rest.rpartition(":")
    if domain == _DEFAULT_DOMAIN and "/" not in rest:
        rest = "library/" + rest
    if digest:
        return f"{domain}/{rest}" + (f":{tag}" if tag else "") + f"@{digest}"
    return f"{domain}/{rest}:{tag or 'latest'}"


def same_image(a: str, b: str) -> bool:
    """Whether two references name the same image under Docker's rules."""
    return bool(a) and bool(b) and normalize(a) == normalize(b)
