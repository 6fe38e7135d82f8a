"""A tiny protobuf (proto3) wire codec and the Ilúvatar messages, by hand: the FAKE worker's
own (tests/fakes/iluvatar_worker.py), never used by faastui itself.

Why by hand: faastui's Ilúvatar code (the client backend and ``faastui serve iluvatar``) uses
the messages protoc generates from ``backends/iluvatar/rpc/iluvatar_rpc.proto``. A fake that
decoded with that same generated code would agree with it on any mistake in the .proto (a
wrong field number, a wrong type). This codec is written from the protobuf encoding spec
(developers.google.com/protocol-buffers/docs/encoding) and the field table of COMPAT.md
section 5, and checked against byte strings worked out by hand (tests/test_iluvatar_proto.py),
so a .proto that drifts from upstream's makes the adapter and serve tests fail.

What it covers: varints (bool, enums, int32/int64 with negative values as 10-byte two's
complement, uint32/uint64), zigzag ``sint`` types, fixed 32/64-bit (``float``/``double``),
length-delimited ``string``/``bytes``, nested messages and ``repeated`` fields (packed or
not, on decoding; packed scalars on encoding, as proto3 does). Fields at their default value
are not written (proto3); unknown fields are skipped on decoding, so a newer peer's extra
fields do no harm. Malformed input raises ``DecodeError``.

A message is a dataclass whose fields are declared with ``pb(number, kind)``::

    @dataclass
    class PingRequest(Message):
        message: str = pb(1, "string")
        transaction_id: str = pb(2, "string")

    PingRequest(message="Ping").encode()  -> b"\\n\\x04Ping"
    PingRequest.decode(b"\\n\\x04Ping")    -> PingRequest(message="Ping", ...)

The second half declares the messages of ``iluvatar_rpc`` (current schema, 2025:
``StatusResponse`` with cpu_queue_len ... timestamp).
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "DecodeError",
    "Message",
    "pb",
    "encode_varint",
    "decode_varint",
    # Ilúvatar worker messages
    "ContainerState",
    "RpcHealthStatus",
    "Compute",
    "Isolation",
    "PingRequest",
    "PingResponse",
    "InvokeRequest",
    "InvokeResponse",
    "InvokeAsyncRequest",
    "InvokeAsyncResponse",
    "InvokeAsyncLookupRequest",
    "PrewarmRequest",
    "PrewarmResponse",
    "RegisterRequest",
    "RegisterResponse",
    "StatusRequest",
    "StatusResponse",
    "HealthRequest",
    "HealthResponse",
    "CleanRequest",
    "CleanResponse",
    "ListFunctionRequest",
    "RegisteredFunction",
    "ListFunctionResponse",
    "EstInvokeRequest",
    "EstInvokeResponse",
    "MESSAGES",
]

_U64 = (1 << 64) - 1
_U32 = (1 << 32) - 1

# wire types
_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5

#: kind -> wire type of one (unpacked) value
_WIRE = {
    "bool": _VARINT,
    "enum": _VARINT,
    "int32": _VARINT,
    "int64": _VARINT,
    "uint32": _VARINT,
    "uint64": _VARINT,
    "sint32": _VARINT,
    "sint64": _VARINT,
    "double": _I64,
    "fixed64": _I64,
    "sfixed64": _I64,
    "float": _I32,
    "fixed32": _I32,
    "sfixed32": _I32,
    "string": _LEN,
    "bytes": _LEN,
    "message": _LEN,
}
_DEFAULTS = {"bool": False, "string": "", "bytes": b"", "double": 0.0, "float": 0.0}


class DecodeError(ValueError):
    """The bytes are not a valid encoding of the message."""


# ---- varints --------------------------------------------------------------------------------
def encode_varint(value: int) -> bytes:
    """Base-128 varint of a non-negative int below 2**64."""
    if value < 0 or value > _U64:
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the varint at ``buf[pos]``."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & _U64, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


# ---- one value ------------------------------------------------------------------------------
def _encode_scalar(kind: str, value: Any) -> bytes:
    if kind in ("int32", "int64", "enum"):
        return encode_varint(int(value) & _U64)  # negatives: 10-byte two's complement
    if kind in ("uint32", "uint64"):
        limit = _U32 if kind == "uint32" else _U64
        if not 0 <= int(value) <= limit:
            raise ValueError(f"{kind} out of range: {value}")
        return encode_varint(int(value))
    if kind == "bool":
        return b"\x01" if value else b"\x00"
    if kind in ("sint32", "sint64"):
        v = int(value)
        return encode_varint(((v << 1) ^ (v >> 63)) & _U64)
    if kind == "double":
        return struct.pack("<d", float(value))
    if kind == "float":
        return struct.pack("<f", float(value))
    if kind in ("fixed64", "sfixed64"):
        return struct.pack("<Q" if kind == "fixed64" else "<q", int(value))
    if kind in ("fixed32", "sfixed32"):
        return struct.pack("<I" if kind == "fixed32" else "<i", int(value))
    raise TypeError(f"not a scalar kind: {kind}")


def _decode_varint_kind(kind: str, raw: int) -> Any:
    if kind == "bool":
        return raw != 0
    if kind == "int64":
        return _signed(raw, 64)
    if kind in ("int32", "enum"):
        return _signed(raw, 32)
    if kind == "uint32":
        return raw & _U32
    if kind in ("sint32", "sint64"):
        return (raw >> 1) ^ -(raw & 1)
    return raw  # uint64


def _decode_fixed(kind: str, chunk: bytes) -> Any:
    fmt = {"double": "<d", "float": "<f", "fixed64": "<Q", "sfixed64": "<q", "fixed32": "<I", "sfixed32": "<i"}[kind]
    return struct.unpack(fmt, chunk)[0]


# ---- messages -------------------------------------------------------------------------------
def pb(number: int, kind: str, *, message: type | None = None, repeated: bool = False):
    """Declare a protobuf field on a Message dataclass (its default is proto3's)."""
    if kind not in _WIRE:
        raise ValueError(f"unknown field kind {kind!r}")
    if (kind == "message") != (message is not None):
        raise ValueError("kind 'message' needs message=Class (and only it)")
    meta = {"pb": (number, kind, message, repeated)}
    if repeated:
        return dataclasses.field(default_factory=list, metadata=meta)
    if kind == "message":
        return dataclasses.field(default=None, metadata=meta)
    return dataclasses.field(default=_DEFAULTS.get(kind, 0), metadata=meta)


class Message:
    """Base of the hand-declared messages: ``encode()`` and ``decode(data)``."""

    _table: ClassVar[dict[int, tuple[str, str, type | None, bool]] | None] = None

    @classmethod
    def fields_by_number(cls) -> dict[int, tuple[str, str, type | None, bool]]:
        """{number: (attribute, kind, message class, repeated)}, built once per class."""
        table = cls.__dict__.get("_table")
        if table is None:
            table = {}
            for f in dataclasses.fields(cls):  # type: ignore[arg-type]
                number, kind, sub, repeated = f.metadata["pb"]
                if number in table:
                    raise TypeError(f"{cls.__name__}: field number {number} used twice")
                table[number] = (f.name, kind, sub, repeated)
            cls._table = table
        return table

    def encode(self) -> bytes:
        out = bytearray()
        for number, (name, kind, _sub, repeated) in sorted(self.fields_by_number().items()):
            value = getattr(self, name)
            wire = _WIRE[kind]
            if repeated:
                if not value:
                    continue
                if wire == _LEN:
                    for item in value:
                        out += encode_varint(number << 3 | _LEN)
                        out += _length_prefixed(kind, item)
                else:  # packed
                    body = b"".join(_encode_scalar(kind, item) for item in value)
                    out += encode_varint(number << 3 | _LEN) + encode_varint(len(body)) + body
                continue
            if kind == "message":
                if value is None:
                    continue
            elif value == _DEFAULTS.get(kind, 0) and not (kind in ("double", "float") and str(value) == "-0.0"):
                continue
            out += encode_varint(number << 3 | wire)
            out += _length_prefixed(kind, value) if wire == _LEN else _encode_scalar(kind, value)
        return bytes(out)

    def __bytes__(self) -> bytes:
        return self.encode()

    @classmethod
    def decode(cls, data: bytes):
        table = cls.fields_by_number()
        values: dict[str, Any] = {}
        buf = bytes(data)
        pos, end = 0, len(buf)
        while pos < end:
            key, pos = decode_varint(buf, pos)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise DecodeError("field number 0")
            spec = table.get(number)
            if wire == _VARINT:
                raw, pos = decode_varint(buf, pos)
                if spec:
                    _store(values, spec, wire, _decode_varint_kind(spec[1], raw))
            elif wire in (_I64, _I32):
                size = 8 if wire == _I64 else 4
                if pos + size > end:
                    raise DecodeError("truncated fixed-width field")
                chunk, pos = buf[pos : pos + size], pos + size
                if spec:
                    _store(values, spec, wire, _decode_fixed(spec[1], chunk))
            elif wire == _LEN:
                size, pos = decode_varint(buf, pos)
                if pos + size > end:
                    raise DecodeError("truncated length-delimited field")
                chunk, pos = buf[pos : pos + size], pos + size
                if spec:
                    _store_len(values, spec, chunk)
            else:
                raise DecodeError(f"unsupported wire type {wire} (field {number})")
        return cls(**values)


def _length_prefixed(kind: str, value: Any) -> bytes:
    if kind == "string":
        body = str(value).encode("utf-8")
    elif kind == "bytes":
        body = bytes(value)
    else:
        body = value.encode()
    return encode_varint(len(body)) + body


def _store(values: dict, spec: tuple, wire: int, value: Any) -> None:
    name, kind, _sub, repeated = spec
    if _WIRE[kind] != wire:
        raise DecodeError(f"field {name!r}: wire type {wire} does not fit {kind}")
    if repeated:
        values.setdefault(name, []).append(value)
    else:
        values[name] = value  # last one wins, as protobuf says


def _store_len(values: dict, spec: tuple, chunk: bytes) -> None:
    name, kind, sub, repeated = spec
    if kind == "string":
        try:
            value: Any = chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"field {name!r} is not valid UTF-8") from None
    elif kind == "bytes":
        value = chunk
    elif kind == "message":
        value = sub.decode(chunk)  # type: ignore[union-attr]
    elif repeated:  # a packed run of scalars
        wire, items, pos = _WIRE[kind], [], 0
        while pos < len(chunk):
            if wire == _VARINT:
                raw, pos = decode_varint(chunk, pos)
                items.append(_decode_varint_kind(kind, raw))
            else:
                size = 8 if wire == _I64 else 4
                if pos + size > len(chunk):
                    raise DecodeError(f"field {name!r}: truncated packed value")
                items.append(_decode_fixed(kind, chunk[pos : pos + size]))
                pos += size
        values.setdefault(name, []).extend(items)
        return
    else:
        raise DecodeError(f"field {name!r}: wire type 2 does not fit {kind}")
    if repeated:
        values.setdefault(name, []).append(value)
    else:
        values[name] = value


# ---- the Ilúvatar worker's messages (iluvatar_rpc.proto) ------------------------------------
class ContainerState:
    """enum ContainerState: the container an invocation ran on, as it found it."""

    ERROR = 0
    UNHEALTHY = 1  # "Unhealthy" in the .proto
    COLD = 2
    PREWARM = 3
    WARM = 4


class RpcHealthStatus:
    HEALTHY = 0
    UNHEALTHY = 1


class Compute:
    """Bit flags of iluvatar_library::types::Compute (``compute`` fields)."""

    CPU = 0b001
    GPU = 0b010
    FPGA = 0b100


class Isolation:
    """Bit flags of iluvatar_library::types::Isolation (``isolate`` field)."""

    CONTAINERD = 0b01
    DOCKER = 0b10


@dataclass
class PingRequest(Message):
    message: str = pb(1, "string")
    transaction_id: str = pb(2, "string")


@dataclass
class PingResponse(Message):
    message: str = pb(1, "string")


@dataclass
class InvokeRequest(Message):
    function_name: str = pb(1, "string")
    function_version: str = pb(2, "string")
    json_args: str = pb(3, "string")
    transaction_id: str = pb(4, "string")


@dataclass
class InvokeResponse(Message):
    json_result: str = pb(1, "string")
    success: bool = pb(2, "bool")
    duration_us: int = pb(3, "uint64")  # E2E latency between the worker and the container
    compute: int = pb(4, "uint32")
    container_state: int = pb(5, "enum")  # ContainerState


@dataclass
class InvokeAsyncRequest(Message):
    function_name: str = pb(1, "string")
    function_version: str = pb(2, "string")
    json_args: str = pb(3, "string")
    transaction_id: str = pb(4, "string")


@dataclass
class InvokeAsyncResponse(Message):
    lookup_cookie: str = pb(1, "string")
    success: bool = pb(2, "bool")


@dataclass
class InvokeAsyncLookupRequest(Message):
    lookup_cookie: str = pb(1, "string")
    transaction_id: str = pb(2, "string")


@dataclass
class PrewarmRequest(Message):
    function_name: str = pb(1, "string")
    function_version: str = pb(2, "string")
    transaction_id: str = pb(3, "string")
    compute: int = pb(4, "uint32")


@dataclass
class PrewarmResponse(Message):
    success: bool = pb(1, "bool")
    message: str = pb(2, "string")


@dataclass
class RegisterRequest(Message):
    function_name: str = pb(1, "string")
    function_version: str = pb(2, "string")
    image_name: str = pb(3, "string")
    memory: int = pb(4, "int64")  # MB
    cpus: int = pb(5, "uint32")
    parallel_invokes: int = pb(6, "uint32")
    transaction_id: str = pb(7, "string")
    language: int = pb(8, "enum")  # LanguageRuntime: 0 NOLANG (an image), 1 PYTHON3
    compute: int = pb(9, "uint32")  # Compute flags
    isolate: int = pb(10, "uint32")  # Isolation flags
    container_server: int = pb(11, "uint32")  # 0 HTTP, 1 UnixSocket
    resource_timings_json: str = pb(12, "string")
    system_function: bool = pb(13, "bool")


@dataclass
class RegisterResponse(Message):
    success: bool = pb(1, "bool")
    fqdn: str = pb(2, "string")
    error: str = pb(3, "string")


@dataclass
class StatusRequest(Message):
    transaction_id: str = pb(1, "string")


@dataclass
class StatusResponse(Message):
    cpu_queue_len: int = pb(1, "uint64")
    gpu_queue_len: int = pb(2, "uint64")
    used_mem_pct: float = pb(3, "double")
    cpu_util: float = pb(4, "double")
    cpu_load_avg: float = pb(5, "double")
    gpu_load_avg: float = pb(6, "double")
    num_running_funcs: int = pb(7, "uint32")
    worker_name: str = pb(8, "string")
    timestamp: int = pb(9, "uint64")


@dataclass
class HealthRequest(Message):
    transaction_id: str = pb(1, "string")


@dataclass
class HealthResponse(Message):
    status: int = pb(1, "enum")  # RpcHealthStatus


@dataclass
class CleanRequest(Message):
    transaction_id: str = pb(1, "string")


@dataclass
class CleanResponse(Message):
    pass


@dataclass
class ListFunctionRequest(Message):
    transaction_id: str = pb(1, "string")


@dataclass
class RegisteredFunction(Message):
    function_name: str = pb(1, "string")
    function_version: str = pb(2, "string")
    image_name: str = pb(3, "string")


@dataclass
class ListFunctionResponse(Message):
    functions: list[RegisteredFunction] = pb(1, "message", message=RegisteredFunction, repeated=True)


@dataclass
class EstInvokeRequest(Message):
    fqdns: list[str] = pb(1, "string", repeated=True)
    transaction_id: str = pb(2, "string")


@dataclass
class EstInvokeResponse(Message):
    est_time: list[float] = pb(1, "double", repeated=True)


#: every message of the worker service, by name (the schema test walks them)
MESSAGES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        PingRequest,
        PingResponse,
        InvokeRequest,
        InvokeResponse,
        InvokeAsyncRequest,
        InvokeAsyncResponse,
        InvokeAsyncLookupRequest,
        PrewarmRequest,
        PrewarmResponse,
        RegisterRequest,
        RegisterResponse,
        StatusRequest,
        StatusResponse,
        HealthRequest,
        HealthResponse,
        CleanRequest,
        CleanResponse,
        ListFunctionRequest,
        RegisteredFunction,
        ListFunctionResponse,
        EstInvokeRequest,
        EstInvokeResponse,
    )
}
