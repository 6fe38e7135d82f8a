"""The engine's wire APIs, as routes over ``Engine``; one module per API.

- ``openfaas``: the OpenFaaS gateway subset (``/system/...``, ``/function/{name}``,
  ``/async-function/{name}``, ``/healthz``), with OpenFaaS field names; its
  ``/system/secrets`` and ``/system/logs`` (faas-cli's ``secret`` and ``logs``) in
  ``openfaas_secrets`` and ``openfaas_logs``;
- ``invokers``: the Invokers gateway (``/nodes``, ``/prewarm``, ``/dispatch``), durations
  in integer nanoseconds and times in RFC 3339;
- ``v1_reads`` and ``v1_actions``: faastui's own ``/faastui/v1/...`` for the snapshot,
  placements, fusion, results, QoS, events, logs, and the actions;
- the served APIs the engine hosts (``../hosting.py``, ``/faastui/v1/serve``).

Each module registers module-level handlers ``async def h(api, req)`` on its own
``routing.Routes`` table; ``API_ROUTES`` below is the one place the engine's route table
is assembled (a new wire API is a module and one line there). Every 4xx/5xx answer is
JSON with an ``error`` message.
"""

from __future__ import annotations

from pathlib import Path

from ..httpserver import Router
from . import invokers, openfaas, openfaas_logs, openfaas_secrets, v1_actions, v1_reads
from .auth import is_loopback, make_auth
from .routing import VERSION, Api, Routes

__all__ = ["build_router", "make_auth", "is_loopback", "VERSION", "API_ROUTES"]

#: the engine's wire APIs, mounted in this order; a route registered twice is an error
API_ROUTES: tuple[Routes, ...] = (
    openfaas.routes,
    openfaas_secrets.routes,
    openfaas_logs.routes,
    invokers.routes,
    v1_reads.routes,
    v1_actions.routes,
)


def build_router(engine, shutdown, functions_dir: Path | None = None) -> Router:
    """The engine's whole route table: every API in ``API_ROUTES``, then the hosting routes."""
    from ..hosting import add_routes  # deferred: served APIs hosted in the engine (issue 10)
    from .routing import mount

    router = Router()
    api = Api(engine, shutdown, functions_dir)
    taken: dict[tuple[str, str], str] = {}
    for routes in API_ROUTES:
        mount(router, api, routes, taken)
    add_routes(router, engine)  # /faastui/v1/serve...
    return router
