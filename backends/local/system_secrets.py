"""``/system/secrets`` on the engine, in the shapes of OpenFaaS's gateway spec.

- ``GET /system/secrets[?namespace=]`` -> 200, ``[{"name", "namespace"}]`` (a list of the
  spec's ``SecretDescription``, as every provider answers; names only, never values)
- ``POST /system/secrets`` ``{"name", "value"|"rawValue", "namespace"?}`` -> 201; 400 for a
  bad name or an empty value; 409 when it exists (as faas-netes, which faas-cli reads as
  "secret with the name ... already exists")
- ``PUT /system/secrets`` (same body) -> 200; 404 when it does not exist
- ``DELETE /system/secrets`` ``{"name"}`` -> 202, as faas-netes answers and faas-cli's
  ``secret remove`` requires (it accepts 200 and 202 only; the spec's 204 would fail it);
  404 when it does not exist

Values go to the store (``secret_store.py``) and nowhere else; events name the secret only.
"""

from __future__ import annotations

import asyncio

from ..errors import InvalidRequest
from ..secrets import check_name, from_wire
from .httpserver import Request, Response, Router, json_response
from .params import field
from .system_routes import check_namespace, guarded

__all__ = ["add_routes"]


def _body(req: Request) -> dict:
    try:
        data = req.json()
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return data


def add_routes(router: Router, engine) -> None:
    store = engine.secret_store

    def query_namespace(req: Request) -> str:
        return check_namespace(req.query.get("namespace") if req.query_string else None)

    async def list_secrets(req: Request) -> Response:
        ns = query_namespace(req)
        return json_response([{"name": n, "namespace": ns} for n in store.names()])

    async def put(req: Request, update: bool) -> str:
        data = _body(req)
        query_namespace(req)
        check_namespace(field(data, "namespace", str))
        name = check_name(field(data, "name", str, required=True))
        value = from_wire(data)
        await asyncio.to_thread(store.put, name, value, update=update)  # an fsync: off the loop
        engine.event("secret", secret=name, action="update" if update else "create")
        return name

    async def create(req: Request) -> Response:
        await put(req, update=False)
        return Response(201, b"")

    async def update(req: Request) -> Response:
        await put(req, update=True)
        return Response(200, b"")

    async def delete(req: Request) -> Response:
        data = _body(req)
        query_namespace(req)
        check_namespace(field(data, "namespace", str))
        name = field(data, "name", str, required=True)
        await asyncio.to_thread(store.remove, name)
        engine.event("secret", secret=name, action="remove")
        return Response(202, b"")

    for method, handler in (("GET", list_secrets), ("POST", create), ("PUT", update),
                            ("DELETE", delete)):
        router.add(method, "/system/secrets", guarded(handler))
