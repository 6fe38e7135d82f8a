"""IluvatarBackend: one Ilúvatar worker (github.com/COS-IN/iluvatar-faas) over its gRPC API.

Speaks the worker service ``iluvatar_rpc.IluvatarWorker`` (current schema):
``invoke``, ``invoke_async`` + ``invoke_async_check``, ``prewarm``, ``register``,
``status``, ``health`` and ``list_registered_funcs``, with the messages protoc generates
from ``rpc/iluvatar_rpc.proto`` (upstream's package, names and field numbers). ``grpcio``
and ``protobuf`` are an optional extra (``pip install 'faastui[iluvatar]'``), imported on
the first call.

The context URL is the worker's gRPC address: ``grpc://HOST:PORT`` or ``HOST:PORT``.

Names. Ilúvatar keys a function by (name, version) and calls the pair its
fqdn, ``name-version``. faastui shows and reports functions by that fqdn
(``hello-1``); as input it also takes ``name@version`` and a bare ``name`` when
exactly one version is registered. ``deploy``/``register`` default the version to "1".

Mapping. A worker is one node, named by its address (``127.0.0.1:8079``).
``duration_ms`` is the worker's ``duration_us`` (worker to container);
``overhead_ms`` is what this client measured on top of it, and for a cold call
that overhead, container start included, is reported as ``cold_start_ms``
(Ilúvatar does not report start-up apart). A function's own error comes back
from the worker as ``success`` with the error text (not JSON) as its result:
it becomes an Invocation with status "error". The worker's own refusals
become errors: "Function was not registered" -> FunctionNotFound, "Not enough
memory" -> CapacityExceeded; gRPC status codes are mapped in ``_rpc_error``.

What the API does not tell. Ilúvatar lists no containers, so placements are
what this client saw: prewarms it made and the container state each call
reported (a fresh process starts from "cold"); QoS comes from this client's
calls; memory and cpus are known for functions this client registered. The
isolation sent is containerd unless function.yaml says ``isolation: docker``
(a worker refuses one it does not run). An async result is handed out once
by the worker; this client keeps it so ``result`` can be asked again. A
registration cannot be removed.

Layout: ``protocol.py`` holds the gRPC calls and the wire helpers, ``answers.py`` how the
worker's answers read (Invocations, refusals as errors, the Node), ``ledger.py`` what
this client remembers (calls, containers, QoS), ``backend.py`` IluvatarBackend itself,
``rpc/`` the .proto and its generated code (shared with ``faastui serve iluvatar``).
Importing this package imports neither ``grpc`` nor ``protobuf``.

The worker's ``status`` (2025 schema) reports percentages: the node shows them as labels
(``used_mem_pct``, ``cpu_util``, ``cpu_load_avg``, queue lengths, ``worker_name``) and
leaves cpus and memory_mb at 0, which that schema does not tell.
"""

from __future__ import annotations

from ..errors import InvalidRequest
from .backend import IluvatarBackend
from .protocol import SERVICE

__all__ = ["IluvatarBackend", "SERVICE"]

#: importable from here as from the former single module (the adapter tests catch
#: ``backends.iluvatar.InvalidRequest``); kept out of ``__all__`` as before
_ALSO_EXPORTED = (InvalidRequest,)
