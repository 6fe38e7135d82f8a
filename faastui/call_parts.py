"""The parts of a function call beyond its body, as the CLI takes them and the specs keep
them: ``-H`` headers, ``--query`` items, ``-m`` and ``--path`` (``Capability.HTTP_REQUEST``).

``HttpParts`` is what the ``Invoke`` and ``InvokeAsync`` specs of ``faastui/actions.py``
share: the checked ``HttpRequest``, the command-line options back, and the call with
``request=`` when there is one. ``http_from_cli`` reads them from a command's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backends.errors import InvalidRequest

__all__ = ["HttpParts", "http_from_cli", "parse_header", "parse_query"]


def parse_header(text: str) -> tuple[str, str]:
    """``-H`` as faas-cli writes it (``K=V``) or as curl does (``K: V``): split at the first
    of ``=`` and ``:``. Raises: InvalidRequest."""
    cut = min((i for i in (text.find("="), text.find(":")) if i > 0), default=-1)
    if cut < 0:
        raise InvalidRequest(f"bad header {text!r}", hint="write -H 'Name: value' or -H Name=value")
    return text[:cut].strip(), text[cut + 1 :].strip()


def parse_query(items: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``--query name=value`` items. Raises: InvalidRequest."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidRequest(f"bad query {item!r}", hint="write --query name=value")
        out.append((key, value))
    return tuple(out)


class HttpParts:
    """What Invoke and InvokeAsync share: the request parts of a call beyond its body
    (``Capability.HTTP_REQUEST``), fields ``method``, ``path``, ``query`` and ``headers``
    (``-m``, ``--path``, ``--query``, ``-H``; hashable tuples), declared by each spec after
    its own fields so that ``Invoke(fn, payload)`` stays positional."""

    method: str | None
    path: str | None
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]

    def request(self):
        """The checked ``HttpRequest``, or None for a plain call. Raises: InvalidRequest."""
        from backends.base import HttpRequest

        return HttpRequest.of(self.method, self.path, list(self.query), dict(self.headers))

    def http_args(self) -> list[str]:
        out = ["-m", self.method] if self.method else []
        out += ["--path", self.path] if self.path else []
        for key, value in self.query:
            out += ["--query", f"{key}={value}"]
        for key, value in self.headers:
            out += ["-H", f"{key}: {value}"]
        return out

    async def _send(self, backend, call):
        """``call(**extra)`` with ``request=`` when there is one (checked against the
        backend's capabilities first)."""
        from backends.base import Capability

        request = self.request()
        if request is None:
            return await call()
        backend.require(Capability.HTTP_REQUEST, "pass a method, path, query or headers to a function")
        return await call(request=request)


def http_from_cli(p: Mapping[str, Any]) -> dict[str, Any]:
    headers = [parse_header(h) for h in p.get("header") or ()]
    if p.get("content_type"):
        headers.append(("Content-Type", p["content_type"]))
    return {
        "method": p.get("method"),
        "path": p.get("path"),
        "query": parse_query(p.get("query") or ()),
        "headers": tuple(headers),
    }
