"""The house rules of the backend side, checked: the engine's route table assembled from
one module per wire API (module-level handlers, a route registered twice refused), the
engine owning its parts, and no module over ``MAX_LINES`` outside the tests."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from backends.local import api
from backends.local.api import routing


class _Engine:
    dirty = False  # what the route guard reads; nothing else is touched while building


def test_every_wire_api_is_a_module_of_module_level_handlers():
    names = {routes.name for routes in api.API_ROUTES}
    assert names == {
        "openfaas",
        "openfaas secrets",
        "openfaas logs",
        "invokers",
        "faastui v1 (reads)",
        "faastui v1 (actions)",
    }
    for routes in api.API_ROUTES:
        assert routes.table, routes.name
        for _method, _path, fn in routes.table:
            module = inspect.getmodule(fn)
            assert getattr(module, fn.__name__) is fn, f"{fn.__qualname__} is not module-level"
            assert inspect.iscoroutinefunction(fn) and list(inspect.signature(fn).parameters) == ["api", "req"]


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
    from backends.local import calls, deploy, durable, failures, fusion, placement, scaler
    from backends.local.engine import Engine
    from backends.local.nodes import NodeSpec

    parts_modules = {m.__name__ for m in (deploy, fusion, calls, placement, scaler, durable, failures)}
    assert Engine.__mro__ == (Engine, object)
    assert not [base for base in Engine.__mro__ if base.__module__ in parts_modules]
    engine = Engine(tmp_path / "state", [NodeSpec("n1"), NodeSpec("n2")])  # not started
    parts = {
        "placement": placement.Placement,
        "deployer": deploy.Deployer,
        "fusion": fusion.Fusion,
        "calls": calls.CallStore,
        "scaler": scaler.Scaler,
        "durable": durable.Durable,
        "failures": failures.Failures,
    }
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
    assert engine.failures.nodes is engine.nodes and engine.durable.functions is engine.functions
    assert engine.durable.groups is engine.groups and engine.durable.forming is engine.fusion.forming
    assert engine.scaler.functions is engine.functions and engine.scaler.placement is engine.placement
    # a node's deaths are heard by failures, and the durable flag is the one the HTTP layer reads
    n1 = engine.nodes["n1"]
    assert n1._on_lost == engine.failures.container_lost and n1._on_zygote_lost == engine.failures.zygote_lost
    assert not engine.dirty
    engine.event("scale", function="f", replicas=1)
    assert engine.dirty and engine.durable.dirty


MAX_LINES = 500  # STYLE.md: split a module before it grows past this
ROOT = Path(__file__).resolve().parent.parent
#: modules still over MAX_LINES, each with why it may be for now; empty it as they shrink
OVER_FOR_NOW: dict[str, str] = {}


def _line_counts() -> dict[str, int]:
    out = {}
    for top in ("faastui", "backends", "bench", "functions"):
        for path in (ROOT / top).rglob("*.py"):
            if "_pb2" in path.name:  # generated by grpcio-tools from a .proto
                continue
            with path.open("rb") as f:
                out[path.relative_to(ROOT).as_posix()] = sum(1 for _ in f)
    return out


def test_no_module_outside_the_tests_is_over_the_line_limit():
    counts = _line_counts()
    assert "backends/local/engine.py" in counts and "faastui/cli/app.py" in counts  # it looked
    over = {p: n for p, n in counts.items() if n > MAX_LINES and p not in OVER_FOR_NOW}
    assert not over, f"over {MAX_LINES} lines (split them along a real seam): {over}"
    stale = [p for p in OVER_FOR_NOW if counts.get(p, 0) <= MAX_LINES]
    assert not stale, f"no longer over {MAX_LINES} lines: take them off OVER_FOR_NOW: {stale}"
