"""The backend side's house rules, checked: the engine's route table assembled from one
module per wire API (module-level handlers, a route registered twice refused)."""

from __future__ import annotations

import inspect

import pytest

from backends.local import api
from backends.local.api import routing


class _Engine:
    dirty = False  # what the route guard reads; nothing else is touched while building


def test_every_wire_api_is_a_module_of_module_level_handlers():
    names = {routes.name for routes in api.API_ROUTES}
    assert names == {"openfaas", "openfaas secrets", "openfaas logs", "invokers", "faastui v1 (reads)", "faastui v1 (actions)"}
    for routes in api.API_ROUTES:
        assert routes.table, routes.name
        for _method, _path, fn in routes.table:
            module = inspect.getmodule(fn)
            assert getattr(module, fn.__name__) is fn, f"{fn.__qualname__} is not module-level"
            assert inspect.iscoroutinefunction(fn) and list(inspect.signature(fn).parameters) == \
                ["api", "req"]


def test_the_router_serves_every_registered_route_and_the_hosting_ones():
    router = api.build_router(_Engine(), lambda: None)
    for routes in api.API_ROUTES:
        for method, path, fn in routes.table:
            for m in method.split("|"):
                probe = path.replace("{name}", "x").replace("{call_id}", "x")
                handler, _params, known = router.match(m, probe)
                assert known and handler is not None and handler.__name__ == fn.__name__, (m, path)
    assert router.match("POST", "/faastui/v1/serve")[0] is not None


def test_a_route_registered_by_two_apis_is_refused():
    mine, theirs = routing.Routes("mine"), routing.Routes("theirs")

    async def a(api, req): ...

    mine.route("GET", "/healthz")(a)
    theirs.route("POST|GET", "/healthz")(a)
    router, taken = routing.Router(), {}
    ctx = routing.Api(_Engine(), lambda: None)
    routing.mount(router, ctx, mine, taken)
    with pytest.raises(ValueError, match=r"GET /healthz is registered twice \(mine, theirs\)"):
        routing.mount(router, ctx, theirs, taken)
