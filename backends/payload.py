"""HTTP calls of the adapters: how a payload goes on the wire (bytes and str as they are,
anything else as JSON), and transport failures turned into ``Unreachable``."""

from __future__ import annotations

import json
from typing import Any

from .errors import Unreachable

__all__ = ["encode_payload", "payload_request", "send"]


def encode_payload(payload: Any) -> tuple[bytes, str]:
    """(body, content type) for a payload: bytes and str as they are, else JSON."""
    if payload is None:
        return b"", "application/octet-stream"
    if isinstance(payload, bytes):
        return payload, "application/octet-stream"
    if isinstance(payload, str):
        return payload.encode(), "text/plain; charset=utf-8"
    return json.dumps(payload).encode(), "application/json"


def payload_request(payload: Any) -> tuple[bytes, dict[str, str]]:
    """(body, headers) for an HTTP call: no Content-Type for an empty payload."""
    if payload is None:
        return b"", {}
    body, ctype = encode_payload(payload)
    return body, {"Content-Type": ctype}


async def send(client, method: str, url: str, *, where: str, hint: str, **kwargs):
    """``client.request(...)`` (an ``httpx.AsyncClient``) with a transport failure raised as
    Unreachable: "<where> timed out" or "<where> does not answer: <error>"."""
    import httpx  # deferred: the adapters create their clients lazily too

    try:
        return await client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise Unreachable(f"{where} timed out", hint=hint) from None
    except httpx.HTTPError as exc:
        raise Unreachable(f"{where} does not answer: {exc}".rstrip(": "), hint=hint) from None
