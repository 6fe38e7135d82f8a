"""faastui's own API, the reads: ``GET /faastui/v1/...`` for the snapshot, nodes,
functions, placements, QoS, events, recent calls, fusion groups, the call graph, logs
and the engine's info, in faastui's model shapes (``backends/model.py``)."""

from __future__ import annotations

import asyncio
import time

from ...errors import BackendError
from ...model import Function, Node, Placement, Snapshot
from .. import logread
from ..httpserver import Request, Response, json_response
from ..params import query_number
from .routing import VERSION, Api, Routes

__all__ = ["routes", "V1", "function_model"]

V1 = "/faastui/v1"
routes = Routes("faastui v1 (reads)")


def node_models(engine) -> list[Node]:
    return [
        Node(
            name=n.name,
            address="127.0.0.1",
            ready=n.ready,
            cpus=n.spec.cpus,
            memory_mb=n.spec.memory_mb,
            used_cpus=n.cpu_usage(),
            used_memory_mb=n.used_memory_mb,
            labels=dict(n.spec.labels),
            max_containers=n.spec.max_containers,
            containers=len(n.containers),
        )
        for n in engine.nodes.values()
    ]


def function_model(engine, name: str) -> Function:
    spec = engine.functions[name]
    total, _ = engine.replicas(name)
    return Function(
        name=name,
        image=spec.image,
        runtime=spec.runtime,
        handler=spec.handler,
        replicas=max(total, spec.min_replicas),
        available_replicas=total,
        memory_mb=spec.memory_mb,
        cpus=spec.cpus,
        timeout_s=spec.timeout_s,
        labels=dict(spec.labels),
        fusion_group=engine.fn_group.get(name),
        deadline_ms=spec.deadline_ms,
        invocations=engine.invocation_count.get(name, 0),
    )


def function_models(engine) -> list[Function]:
    return [function_model(engine, name) for name in sorted(engine.functions)]


def placements(engine) -> list[Placement]:
    counts: dict[tuple[str, str, str], int] = {}
    for node in engine.nodes.values():
        for c in node.containers.values():
            for fn in c.fns:
                key = (fn, node.name, c.state if c.state in ("prewarm", "warm", "busy") else "prewarm")
                counts[key] = counts.get(key, 0) + 1
    out = [Placement(function=f, node=n, state=s, count=k) for (f, n, s), k in counts.items()]
    placed = {(f, n) for (f, n, _s) in counts}
    for fn in engine.functions:  # code is on every node: cold where nothing runs
        for node in engine.nodes:
            if (fn, node) not in placed:
                out.append(Placement(function=fn, node=node, state="cold", count=0))
    out.sort(key=lambda p: (p.function, p.node, p.state))
    return out


def snapshot_model(engine) -> Snapshot:
    return Snapshot(
        nodes=node_models(engine),
        functions=function_models(engine),
        placements=placements(engine),
        queues=[],
        qos=engine.history.qos(),
        fusion_groups=engine.fusion_groups(),
        taken_at=time.time(),
        errors=engine.health_errors(),
    )


@routes.route("GET", V1 + "/snapshot")
async def snapshot(api: Api, req: Request) -> Response:
    engine = api.engine
    data = snapshot_model(engine).to_dict()
    if engine.queue_watcher is not None:
        try:
            data["queues"] = [q.to_dict() for q in await engine.queue_watcher.apoll()]
        except BackendError as exc:
            data["errors"].append(f"queues: {exc}")
    if engine.redis is not None and not engine.redis_link.degraded:
        # [workflow hook] the workflow's deadline % in the QoS pane
        from redis.exceptions import RedisError

        from ...workflow.qos import workflow_qos

        try:
            stat = await workflow_qos(engine.redis)
        except RedisError as exc:
            data["errors"].append(f"qos: the workflow's figures: Redis: {exc}")
        else:
            if stat is not None:
                data["qos"].append(stat.to_dict())
    return json_response(data)


@routes.route("GET", V1 + "/nodes")
async def nodes(api: Api, req: Request) -> Response:
    return json_response([n.to_dict() for n in node_models(api.engine)])


@routes.route("GET", V1 + "/functions")
async def functions(api: Api, req: Request) -> Response:
    return json_response([f.to_dict() for f in function_models(api.engine)])


@routes.route("GET", V1 + "/functions/{name}")
async def function(api: Api, req: Request) -> Response:
    name = api.engine.resolve(req.params["name"]).name
    return json_response(function_model(api.engine, name).to_dict())


@routes.route("GET", V1 + "/placements")
async def placement_list(api: Api, req: Request) -> Response:
    return json_response([p.to_dict() for p in placements(api.engine)])


@routes.route("GET", V1 + "/qos")
async def qos(api: Api, req: Request) -> Response:
    window = query_number(req, "window", 60.0, float, low=0.001)
    return json_response([q.to_dict() for q in api.engine.history.qos(window)])


@routes.route("GET", V1 + "/events")
async def events(api: Api, req: Request) -> Response:
    since = query_number(req, "since", 0.0, float)
    limit = query_number(req, "limit", None, int, low=1)
    found = [e for e in api.engine.events if e["t"] > since]
    return json_response(found[-limit:] if limit else found)


@routes.route("GET", V1 + "/invocations")
async def invocations(api: Api, req: Request) -> Response:
    limit = min(200, query_number(req, "limit", 50, int, low=1))  # 200 are kept
    latest = list(api.engine.recent)[-limit:][::-1]
    return json_response([o.to_dict(with_result=False) for o in latest])


@routes.route("GET", V1 + "/fusion")
async def fusion(api: Api, req: Request) -> Response:
    return json_response([g.to_dict() for g in api.engine.fusion_groups()])


@routes.route("GET", V1 + "/callgraph")
async def callgraph(api: Api, req: Request) -> Response:
    return json_response(
        [{"caller": a, "callee": b, "calls": n} for (a, b), n in sorted(api.engine.call_graph.items())]
    )


@routes.route("GET", V1 + "/redis")
async def redis(api: Api, req: Request) -> Response:
    return json_response({"url": api.engine.redis_url})


@routes.route("GET", V1 + "/logs/{name}")
async def logs(api: Api, req: Request) -> Response:
    """``?tail=N&since=EPOCH&instance=ID``: the last lines; ``?after=CURSOR``: what came
    after a cursor (following). Both answer with the ``cursor`` to continue from."""
    engine = api.engine
    spec = engine.resolve(req.params["name"])
    unit = engine.unit_of(spec.name)
    query = logread.Query.of(req.query)
    answer = await asyncio.to_thread(
        logread.answer, engine.logs_dir / f"{unit}.log", query, spec.name, unit != spec.name
    )
    return json_response({"function": spec.name, **answer})


@routes.route("GET", V1 + "/info")
async def info(api: Api, req: Request) -> Response:
    engine = api.engine
    return json_response(
        {
            "version": VERSION,
            "started_at": engine.started_at,
            "nodes": len(engine.nodes),
            "functions": len(engine.functions),
            "redis_url": engine.redis_url,
            "state_dir": str(engine.state_dir),
        }
    )
