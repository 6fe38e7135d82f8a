"""The frame format between the engine and its worker processes.

A frame is ``!II`` (header length, body length), a JSON header, then the raw
body. It is used over a Unix stream socket pair, one per worker. Kept tiny:
it is imported by every worker and is on the invoke path.
"""

from __future__ import annotations

import json
import struct

__all__ = ["HEAD", "pack", "FrameReader"]

HEAD = struct.Struct("!II")
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def pack(header: dict, body: bytes = b"") -> bytes:
    raw = _dumps(header).encode()
    return HEAD.pack(len(raw), len(body)) + raw + body


class FrameReader:
    """Blocking frame reader for a worker: one ``recv`` per frame in the common case."""

    def __init__(self, sock, size: int = 1 << 16):
        self.sock = sock
        self.buf = bytearray()
        self.size = size

    def _fill(self, need: int) -> None:
        buf = self.buf
        while len(buf) < need:
            chunk = self.sock.recv(max(self.size, need - len(buf)))
            if not chunk:
                raise EOFError("peer closed")
            buf += chunk

    def read(self) -> tuple[dict, bytes]:
        self._fill(8)
        hlen, blen = HEAD.unpack_from(self.buf)
        end = 8 + hlen + blen
        self._fill(end)
        buf = self.buf
        header = json.loads(bytes(buf[8 : 8 + hlen])) if hlen else {}
        body = bytes(buf[8 + hlen : end])
        del buf[:end]
        return header, body
