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


def test_the_engine_owns_its_parts_instead_of_mixing_them_in(tmp_path):
    from backends.local import calls, deploy, fusion, placement
    from backends.local.engine import Engine
    from backends.local.nodes import NodeSpec

    parts_modules = {deploy.__name__, fusion.__name__, calls.__name__, placement.__name__}
    assert not [base for base in Engine.__mro__ if base.__module__ in parts_modules]
    engine = Engine(tmp_path / "state", [NodeSpec("n1"), NodeSpec("n2")])  # not started
    parts = {"placement": placement.Placement, "deployer": deploy.Deployer,
             "fusion": fusion.Fusion, "calls": calls.CallStore}
    for attr, cls in parts.items():
        part = getattr(engine, attr)
        assert type(part) is cls, attr
        # what a part needs is passed in; none holds the engine itself
        assert not any(v is engine for v in vars(part).values()), attr
    # the catalog is one set of dicts, shared by the engine and the parts that read it
    assert engine.placement.functions is engine.functions is engine.deployer.functions
    assert engine.placement.groups is engine.groups is engine.fusion.groups
    assert engine.fusion.fn_group is engine.fn_group is engine.deployer.fn_group
    assert engine.placement.nodes is engine.nodes
    assert engine.idle is engine.placement.idle and engine.busy is engine.placement.busy
    assert engine.node("n2") is engine.nodes["n2"]
