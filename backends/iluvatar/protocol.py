"""How the Ilúvatar adapter talks to a worker: the worker's address, the rpc table and
the gRPC calls (WorkerRpc, which IluvatarBackend holds), gRPC status codes -> BackendErrors,
and the JSON text going both ways (arguments out, error bodies back).

Messages are the generated ones of ``rpc/iluvatar_rpc.proto`` (``messages()``); they and
``grpc`` are imported on the first call (the optional extra ``faastui[iluvatar]``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from ..errors import (
    AuthError,
    BackendError,
    CapacityExceeded,
    Conflict,
    FunctionNotFound,
    InvalidRequest,
    NotFound,
    Unreachable,
    Unsupported,
)

#: the gRPC service of the worker (package iluvatar_rpc of iluvatar_rpc.proto)
SERVICE = "iluvatar_rpc.IluvatarWorker"
HINT = "check the worker address (grpc://HOST:PORT) and that iluvatar_worker is up"
INSTALL_HINT = "pip install 'faastui[iluvatar]'"

#: rpc name -> response message name (the request is built by the caller)
_METHODS: dict[str, str] = {
    "ping": "PingResponse",
    "invoke": "InvokeResponse",
    "invoke_async": "InvokeAsyncResponse",
    "invoke_async_check": "InvokeResponse",
    "prewarm": "PrewarmResponse",
    "register": "RegisterResponse",
    "status": "StatusResponse",
    "health": "HealthResponse",
    "list_registered_funcs": "ListFunctionResponse",
}
#: ContainerState names -> the model's container_state
_STATES = {"COLD": "cold", "PREWARM": "prewarm", "WARM": "warm"}
#: bit flags of iluvatar_library::types (not in the .proto: plain uint32 fields there)
COMPUTE_CPU = 0b001
_ISOLATIONS = {"containerd": 0b01, "docker": 0b10}
#: gRPC status code name -> error class (NOT_FOUND on a function call: FunctionNotFound)
_BY_CODE = {
    "UNAVAILABLE": Unreachable,
    "DEADLINE_EXCEEDED": Unreachable,
    "NOT_FOUND": NotFound,
    "INVALID_ARGUMENT": InvalidRequest,
    "FAILED_PRECONDITION": InvalidRequest,
    "OUT_OF_RANGE": InvalidRequest,
    "ALREADY_EXISTS": Conflict,
    "ABORTED": Conflict,
    "RESOURCE_EXHAUSTED": CapacityExceeded,
    "UNIMPLEMENTED": Unsupported,
    "UNAUTHENTICATED": AuthError,
    "PERMISSION_DENIED": AuthError,
}


def _grpc():
    try:
        import grpc  # deferred: an optional extra, and 60 ms only this backend pays
        import grpc.aio  # noqa: F401
    except ImportError:
        raise InvalidRequest("the iluvatar backend needs grpcio, which is not installed", hint=INSTALL_HINT) from None
    return grpc


def messages():
    """The generated message module (``iluvatar_rpc_pb2``). Raises InvalidRequest without
    protobuf."""
    try:
        from .rpc import iluvatar_rpc_pb2  # deferred: protobuf, an optional extra, ~65 ms
    except ImportError:
        raise InvalidRequest("the iluvatar backend needs protobuf, which is not installed", hint=INSTALL_HINT) from None
    return iluvatar_rpc_pb2


def rpc_message(name: str, **fields):
    """A ``name`` message with ``fields``; a value it cannot carry is an InvalidRequest."""
    try:
        return getattr(messages(), name)(**fields)
    except (ValueError, TypeError) as exc:  # e.g. "Value out of range: -1" for a uint32
        raise InvalidRequest(f"cannot send this {name}: {exc}") from None


def container_state(number: int) -> str:
    """``cold`` / ``prewarm`` / ``warm`` for a ContainerState number ('' for the others)."""
    try:
        return _STATES.get(messages().ContainerState.Name(number), "")
    except ValueError:  # a number this schema does not know
        return ""


def _target(url: str) -> str:
    """``grpc://host:port`` / ``http://host:port`` / ``host:port`` -> ``host:port``."""
    text = url.strip()
    for scheme in ("grpc://", "grpcs://", "http://", "https://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
    text = text.rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or "/" in text:
        raise InvalidRequest(
            f"bad Ilúvatar worker address {url!r}: expected HOST:PORT", hint="e.g. --url grpc://127.0.0.1:8079"
        )
    return text


def _error_text(text: str) -> str:
    """The message inside the worker's ``{ "Error": "..." }`` / ``{ "Status": ... }`` bodies."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()
    if isinstance(data, dict):
        for key in ("Error", "Status", "error"):
            if key in data:
                return str(data[key])
    return text.strip()


def _json_args(payload: Any) -> str:
    """The ``json_args`` string for a payload (JSON value, JSON text, other text or bytes)."""
    if payload is None:
        return "{}"
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("Ilúvatar takes JSON arguments; the payload is not UTF-8") from None
    if isinstance(payload, str):
        try:
            json.loads(payload)
            return payload
        except ValueError:
            return json.dumps(payload)
    try:
        return json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"the payload is not JSON-serialisable: {exc}") from None


def _lenient(response_cls: type):
    """A response deserializer that returns a DecodeError instead of raising it."""
    from google.protobuf.message import DecodeError  # deferred with the messages

    def decode(data: bytes):
        try:
            return response_cls.FromString(data)
        except DecodeError as exc:
            return exc

    return decode


def _serialize(request) -> bytes:
    return request.SerializeToString()


def _message_base() -> type:
    from google.protobuf.message import Message  # deferred with the messages

    return Message


def _tid() -> str:
    return f"faastui-{uuid.uuid4().hex[:16]}"


class WorkerRpc:
    """The gRPC side of IluvatarBackend (which holds one): unary calls to the worker at
    ``address`` (``host:port``), each bounded by ``timeout`` (at most 10 s unless a call says),
    on a channel of the running event loop (made again for another loop)."""

    def __init__(self, address: str, *, timeout: float):
        self.address = address
        self.timeout = timeout
        self._channel = None
        self._loop = None
        self._stubs: dict[str, object] = {}

    # ---- transport ------------------------------------------------------------------------
    def _stub(self, method: str):
        grpc = _grpc()
        loop = asyncio.get_running_loop()
        if self._channel is None or self._loop is not loop:
            # a grpc.aio channel belongs to the event loop that made it
            self._channel = grpc.aio.insecure_channel(self.address)
            self._loop, self._stubs = loop, {}
        stub = self._stubs.get(method)
        if stub is None:
            response_cls = getattr(messages(), _METHODS[method])
            stub = self._channel.unary_unary(
                f"/{SERVICE}/{method}", request_serializer=_serialize, response_deserializer=_lenient(response_cls)
            )
            self._stubs[method] = stub
        return stub

    async def aclose(self) -> None:
        channel, self._channel, self._stubs = self._channel, None, {}
        if channel is not None and self._loop is asyncio.get_running_loop():
            await channel.close()

    async def call(self, method: str, request, *, timeout: float | None = None, fn: str | None = None):
        """The worker's reply to ``method``. Raises: the BackendError of its gRPC status."""
        stub = self._stub(method)
        grpc = _grpc()
        try:
            reply = await stub(request, timeout=timeout or min(self.timeout, 10.0))
        except grpc.aio.AioRpcError as exc:
            raise self._rpc_error(method, exc, fn) from None
        if not isinstance(reply, _message_base()):  # grpc hands back None if decoding raised
            raise BackendError(
                f"the {method} reply of {self.address} is not an Ilúvatar message: {reply or 'unreadable'}",
                hint="is it an Ilúvatar worker (iluvatar_rpc.proto)?",
            )
        return reply

    def _rpc_error(self, method: str, exc, fn: str | None) -> BackendError:
        """The BackendError for a failed gRPC call (``exc``: grpc.aio.AioRpcError)."""
        code = exc.code().name
        details = (exc.details() or "").strip()
        if code == "UNAVAILABLE":
            return Unreachable(
                f"the Ilúvatar worker at {self.address} does not answer" + (f": {details}" if details else ""),
                hint=HINT,
            )
        if code == "DEADLINE_EXCEEDED":
            return Unreachable(f"the Ilúvatar worker at {self.address} did not answer {method} in time", hint=HINT)
        if code == "UNIMPLEMENTED":
            return Unsupported(
                f"the Ilúvatar worker at {self.address} has no {method} call", hint="an older worker version?"
            )
        cls = FunctionNotFound if code == "NOT_FOUND" and fn else _BY_CODE.get(code, BackendError)
        return cls(f"Ilúvatar {method} failed ({code}): {details or 'no details'}")
