"""How the Ilúvatar adapter talks to a worker: the worker's address, the rpc table and
the gRPC calls (WorkerRpc, a mixin of IluvatarBackend), gRPC status codes -> BackendErrors,
and the JSON text going both ways (arguments out, error bodies back).

Messages are encoded by ``backends._protowire``; ``grpc`` is imported on the first call
(an optional extra).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from .. import _protowire as pw
from ..errors import (AuthError, BackendError, CapacityExceeded, Conflict, FunctionNotFound,
                      InvalidRequest, NotFound, Unreachable, Unsupported)

#: the gRPC service of the worker (package iluvatar_rpc of iluvatar_rpc.proto)
SERVICE = "iluvatar_rpc.IluvatarWorker"
HINT = "check the worker address (grpc://HOST:PORT) and that iluvatar_worker is up"
INSTALL_HINT = "pip install 'faastui[iluvatar]'"

#: rpc name -> (request class, response class)
_METHODS: dict[str, tuple[type, type]] = {
    "ping": (pw.PingRequest, pw.PingResponse),
    "invoke": (pw.InvokeRequest, pw.InvokeResponse),
    "invoke_async": (pw.InvokeAsyncRequest, pw.InvokeAsyncResponse),
    "invoke_async_check": (pw.InvokeAsyncLookupRequest, pw.InvokeResponse),
    "prewarm": (pw.PrewarmRequest, pw.PrewarmResponse),
    "register": (pw.RegisterRequest, pw.RegisterResponse),
    "status": (pw.StatusRequest, pw.StatusResponse),
    "health": (pw.HealthRequest, pw.HealthResponse),
    "list_registered_funcs": (pw.ListFunctionRequest, pw.ListFunctionResponse),
}
_STATES = {pw.ContainerState.COLD: "cold", pw.ContainerState.PREWARM: "prewarm",
           pw.ContainerState.WARM: "warm"}
_ISOLATIONS = {"containerd": pw.Isolation.CONTAINERD, "docker": pw.Isolation.DOCKER}
#: gRPC status code name -> error class (NOT_FOUND on a function call: FunctionNotFound)
_BY_CODE = {"UNAVAILABLE": Unreachable, "DEADLINE_EXCEEDED": Unreachable,
            "NOT_FOUND": NotFound, "INVALID_ARGUMENT": InvalidRequest,
            "FAILED_PRECONDITION": InvalidRequest, "OUT_OF_RANGE": InvalidRequest,
            "ALREADY_EXISTS": Conflict, "ABORTED": Conflict,
            "RESOURCE_EXHAUSTED": CapacityExceeded, "UNIMPLEMENTED": Unsupported,
            "UNAUTHENTICATED": AuthError, "PERMISSION_DENIED": AuthError}


def _grpc():
    try:
        import grpc  # deferred: an optional extra, and 60 ms only this backend pays
        import grpc.aio  # noqa: F401
    except ImportError:
        raise InvalidRequest("the iluvatar backend needs grpcio, which is not installed",
                             hint=INSTALL_HINT) from None
    return grpc


def _target(url: str) -> str:
    """``grpc://host:port`` / ``http://host:port`` / ``host:port`` -> ``host:port``."""
    text = url.strip()
    for scheme in ("grpc://", "grpcs://", "http://", "https://"):
        if text.startswith(scheme):
            text = text[len(scheme):]
    text = text.rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or "/" in text:
        raise InvalidRequest(f"bad Ilúvatar worker address {url!r}: expected HOST:PORT",
                             hint="e.g. --url grpc://127.0.0.1:8079")
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
            raise InvalidRequest("Ilúvatar takes JSON arguments; the payload is not UTF-8") \
                from None
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
    def decode(data: bytes):
        try:
            return response_cls.decode(data)
        except pw.DecodeError as exc:
            return exc
    return decode


def _tid() -> str:
    return f"faastui-{uuid.uuid4().hex[:16]}"


class WorkerRpc:
    """The gRPC side of IluvatarBackend (a mixin: IluvatarBackend.__init__ sets ``address``,
    ``timeout``, ``_channel``, ``_loop`` and ``_stubs``)."""

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
            _request_cls, response_cls = _METHODS[method]
            # requests are encoded by _rpc (to report a bad value), so they go as bytes
            stub = self._channel.unary_unary(f"/{SERVICE}/{method}", request_serializer=None,
                                             response_deserializer=_lenient(response_cls))
            self._stubs[method] = stub
        return stub

    async def aclose(self) -> None:
        channel, self._channel, self._stubs = self._channel, None, {}
        if channel is not None and self._loop is asyncio.get_running_loop():
            await channel.close()

    async def _rpc(self, method: str, request, *, timeout: float | None = None,
                   fn: str | None = None):
        stub = self._stub(method)
        grpc = _grpc()
        try:
            data = request.encode()
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(f"cannot send this {method} request: {exc}") from None
        try:
            reply = await stub(data, timeout=timeout or min(self.timeout, 10.0))
        except grpc.aio.AioRpcError as exc:
            raise self._rpc_error(method, exc, fn) from None
        if not isinstance(reply, pw.Message):  # grpc hands back None if decoding raised
            raise BackendError(f"the {method} reply of {self.address} is not an Ilúvatar "
                               f"message: {reply or 'unreadable'}",
                               hint="is it an Ilúvatar worker (iluvatar_rpc.proto)?")
        return reply

    def _rpc_error(self, method: str, exc, fn: str | None) -> BackendError:
        """The BackendError for a failed gRPC call (``exc``: grpc.aio.AioRpcError)."""
        code = exc.code().name
        details = (exc.details() or "").strip()
        if code == "UNAVAILABLE":
            return Unreachable(f"the Ilúvatar worker at {self.address} does not answer"
                               + (f": {details}" if details else ""), hint=HINT)
        if code == "DEADLINE_EXCEEDED":
            return Unreachable(f"the Ilúvatar worker at {self.address} did not answer "
                               f"{method} in time", hint=HINT)
        if code == "UNIMPLEMENTED":
            return Unsupported(f"the Ilúvatar worker at {self.address} has no {method} call",
                               hint="an older worker version?")
        cls = FunctionNotFound if code == "NOT_FOUND" and fn else _BY_CODE.get(code, BackendError)
        return cls(f"Ilúvatar {method} failed ({code}): {details or 'no details'}")
