"""How a call's payload goes on the wire: bytes and str as they are, anything else as JSON."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["encode_payload", "payload_request"]


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
