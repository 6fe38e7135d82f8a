"""``faastui serve iluvatar``: the Ilúvatar worker's gRPC service ``iluvatar_rpc.IluvatarWorker``
(default port 8079), over any backend that can invoke.

Upstream's clients (``iluvatar_load_gen``, the controller, any stub generated from upstream's
``iluvatar_rpc.proto``) talk to it unchanged: the messages are the code protoc generates
from faastui's copy of that .proto (``backends/iluvatar/rpc/``, upstream's package, names
and field numbers). What each rpc answers is ``iluvatar_worker.py``; this module serves it:
a grpc.aio server on the asyncio loop, a bearer-token check when ``--token`` is given
(metadata ``authorization: Bearer ...``, else UNAUTHENTICATED), and SO_REUSEPORT off, so a
second server on a taken port fails instead of sharing it.
"""

from __future__ import annotations

import socket

from backends.base import Capability
from backends.errors import InvalidRequest

from .base import ServedApi, bearer_ok, bind_error
from .iluvatar_worker import WorkerState

__all__ = ["IluvatarApi", "RPCS"]

INSTALL_HINT = "pip install 'faastui[iluvatar]'"
STOP_GRACE_S = 5.0
#: the worker service's rpcs (all of them: ``WorkerState`` has a method for each)
RPCS = (
    "ping",
    "prewarm",
    "invoke",
    "invoke_async",
    "invoke_async_check",
    "register",
    "health",
    "status",
    "clean",
    "list_registered_funcs",
    "est_invoke_time",
)


def _grpc_modules():
    try:
        import grpc  # deferred: grpcio and protobuf are the optional extra 'iluvatar'
        import grpc.aio  # noqa: F401

        from backends.iluvatar.rpc import iluvatar_rpc_pb2, iluvatar_rpc_pb2_grpc
    except ImportError as exc:
        raise InvalidRequest(f"serving the Ilúvatar API needs grpcio and protobuf ({exc})", hint=INSTALL_HINT) from None
    return grpc, iluvatar_rpc_pb2, iluvatar_rpc_pb2_grpc


def _check_free(host: str, port: int) -> None:
    """Bind ``host:port`` once as grpc would, for an OSError that says why it cannot (grpc's
    own error does not tell an address in use from one that does not exist)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host.strip("[]"), port))


class IluvatarApi(ServedApi):
    name = "iluvatar"
    scheme = "grpc"
    needs = Capability.INVOKE
    #: in its own process, grpc.aio on the default loop; hosted by the embedded engine, on the
    #: engine's uvloop (tests/test_serve_iluvatar.py runs there): invoke 5.4x -> 2.7x the
    #: OpenFaaS route's p50 (bench/serve.py)
    hostable = True
    event_loop = "asyncio"

    def __init__(self, backend, options):
        super().__init__(backend, options)
        self._server = None
        self.state: WorkerState | None = None

    async def start(self) -> int:
        grpc, pb, pb_grpc = _grpc_modules()
        host, port = self.options.host, self.options.port
        try:
            _check_free(host, port)
        except OSError as exc:
            raise bind_error(self.name, host, port, exc) from None
        self.state = WorkerState(self.backend, pb, worker_name=self.options.context)
        interceptors = [_bearer_check(grpc, self.options.token)] if self.options.token else []
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)], interceptors=interceptors)
        pb_grpc.add_IluvatarWorkerServicer_to_server(_servicer(pb_grpc, self.state), server)
        where = f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = server.add_insecure_port(where)
        except RuntimeError as exc:
            raise bind_error(self.name, host, port, exc) from None
        if not bound:  # older grpcio: 0 instead of an exception
            raise bind_error(self.name, host, port, RuntimeError("failed to bind"))
        await server.start()
        self._server = server
        return bound

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop(grace=STOP_GRACE_S)  # calls in flight get to finish
        if self.state is not None:
            await self.state.close()


def _servicer(pb_grpc, state: WorkerState):
    """An IluvatarWorkerServicer whose every rpc is ``state``'s method of that name."""

    def rpc(name):
        method = getattr(state, name)

        async def handle(self, request, context):
            return await method(request)

        handle.__name__ = name
        return handle

    cls = type("Servicer", (pb_grpc.IluvatarWorkerServicer,), {n: rpc(n) for n in RPCS})
    return cls()


def _bearer_check(grpc, token: str):
    """A grpc.aio server interceptor: calls without ``authorization: Bearer <token>`` get
    UNAUTHENTICATED."""

    async def refuse(request, context):
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

    refused = grpc.unary_unary_rpc_method_handler(refuse)

    class BearerCheck(grpc.aio.ServerInterceptor):
        async def intercept_service(self, continuation, details):
            given = dict(details.invocation_metadata or ()).get("authorization")
            if bearer_ok(given, token):
                return await continuation(details)
            return refused

    return BearerCheck()
