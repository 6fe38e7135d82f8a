"""The frame format between the engine and its worker processes.

A frame is ``!II`` (header length, body length), a JSON header, then the raw
body. It is used over a Unix stream socket pair, one per worker. Kept tiny:
it is imported by every worker and is on the invoke path.
"""

from __future__ import annotations

import json
import struct

__all__ = ["HEAD", "pack", "read_frame"]

HEAD = struct.Struct("!II")
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def pack(header: dict, body: bytes = b"") -> bytes:
    raw = _dumps(header).encode()
    return HEAD.pack(len(raw), len(body)) + raw + body


def _recv_exact(sock, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise EOFError("peer closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(sock) -> tuple[dict, bytes]:
    """Blocking read of one frame from a socket (worker side)."""
    hlen, blen = HEAD.unpack(_recv_exact(sock, HEAD.size))
    header = json.loads(_recv_exact(sock, hlen)) if hlen else {}
    body = _recv_exact(sock, blen) if blen else b""
    return header, body
