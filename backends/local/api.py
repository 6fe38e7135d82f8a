"""The engine's wire APIs, as routes over ``Engine``.

Three surfaces, each exactly as DESIGN.md names it:
- the OpenFaaS gateway subset (``/system/...``, ``/function/{name}``,
  ``/async-function/{name}``, ``/healthz``), with OpenFaaS field names;
- the Invokers gateway (``/nodes``, ``/prewarm``, ``/dispatch``), durations in
  integer nanoseconds and times in RFC 3339;
- faastui's own ``/faastui/v1/...`` for placements, fusion, results, QoS, events.
Every 4xx/5xx answer is JSON with an ``error`` message.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from ..errors import BackendError, InvalidRequest
from ..model import Function, Node, Placement, Snapshot
from . import logread
from .engine import CallOutcome, Engine
from .call_request import answer_headers, gateway_headers, pseudo_headers, split_function_path
from .httpserver import Request, Response, Router, error_response, json_response
from .params import field, query_number

__all__ = ["build_router", "make_auth", "VERSION"]

VERSION = "0.1.0"
#: the one namespace the engine's OpenFaaS routes name (``GET /system/namespaces``)
NAMESPACE = "local"


def _err(exc: BackendError) -> Response:
    return json_response(exc.to_dict(), exc.http_status)


def _routes(engine: Engine, shutdown, functions_dir: Path | None):  # noqa: C901 - a route table
    router = Router()

    def route(method: str, path: str):
        def deco(fn):
            async def wrapped(req: Request) -> Response:
                try:
                    return await fn(req)
                except BackendError as exc:
                    return _err(exc)
                except ValueError as exc:
                    return error_response(400, str(exc), "invalid")
                finally:
                    if engine.dirty:  # on disk before the client hears it is done
                        engine.persist()
            for m in method.split("|"):
                router.add(m, path, wrapped)
            return fn
        return deco

    def body_json(req: Request) -> dict:
        data = req.json()
        if not isinstance(data, dict):
            raise InvalidRequest("the request body must be a JSON object")
        return data

    # ---- OpenFaaS gateway subset --------------------------------------------------------
    def of_status(name: str) -> dict:
        spec = engine.functions[name]
        total, idle = engine.replicas(name)
        return {
            "name": spec.name, "image": spec.image, "namespace": NAMESPACE,
            "envProcess": spec.handler, "envVars": spec.env, "labels": spec.labels,
            "annotations": {**spec.annotations, "faastui/deadline_ms": str(spec.deadline_ms or ""),
                            "faastui/timeout_s": f"{spec.timeout_s:g}",
                            "faastui/fusion_group": engine.fn_group.get(name, ""),
                            **({"faastui/description": spec.description} if spec.description else {})},
            "secrets": list(spec.secrets),
            "constraints": [f"node.hostname == {spec.node}"] if spec.node else [],
            "limits": {"memory": f"{spec.memory_mb:g}Mi", "cpu": f"{spec.cpus:g}"},
            "requests": {"memory": f"{spec.memory_mb:g}Mi", "cpu": f"{spec.cpus:g}"},
            "invocationCount": engine.invocation_count.get(name, 0),
            "replicas": max(total, spec.min_replicas), "availableReplicas": total,
            "createdAt": _rfc3339(spec.created_at),
        }

    @route("GET", "/healthz")
    async def healthz(req):
        return Response(200, "OK")

    @route("GET", "/system/info")
    async def info(req):
        return json_response({
            "provider": {"provider": "faastui", "orchestration": "local",
                         "version": {"release": VERSION, "sha": "embedded"}},
            "version": {"release": VERSION, "sha": "embedded", "commit_message": ""},
            "arch": platform.machine()})

    @route("GET", "/system/functions")
    async def list_functions(req):
        return json_response([of_status(n) for n in sorted(engine.functions)])

    async def of_deploy(req: Request, status: int) -> Response:
        data = body_json(req)
        service = field(data, "service", str, required=True)
        if not service:
            raise InvalidRequest("'service' is required")
        image = field(data, "image", str, "")
        path = _package_path(image, functions_dir)
        if path is None:
            raise InvalidRequest(
                f"image {image!r} is not a function package this engine can find",
                hint="use a folder path, 'local:/path', or a name under the engine's functions dir; "
                     "or upload with `faastui deploy`")
        secrets = field(data, "secrets", list)  # the function reads them by path
        if secrets is not None and not all(isinstance(x, str) for x in secrets):
            raise InvalidRequest("'secrets' must be an array of secret names")
        spec = await engine.deploy_dir(path, name=service, secrets=secrets)
        for key in ("envVars", "labels"):
            if isinstance(data.get(key), dict):
                getattr(spec, "env" if key == "envVars" else "labels").update(
                    {str(k): str(v) for k, v in data[key].items()})
        if image:
            spec.image = image
        return json_response(of_status(spec.name), status)

    @route("POST", "/system/functions")
    async def deploy(req):
        return await of_deploy(req, 202)

    @route("PUT", "/system/functions")
    async def update(req):  # the spec: 200 (POST, a new function, is 202)
        data = body_json(req)
        engine.resolve(field(data, "service", str, required=True))
        return await of_deploy(req, 200)

    @route("DELETE", "/system/functions")
    async def delete(req):  # the spec: 200, no body
        data = body_json(req)
        name = field(data, "functionName", str) or field(data, "service", str)
        if not name:
            raise InvalidRequest("'functionName' is required")
        await engine.remove(name)
        return Response(200, b"")

    @route("GET", "/system/namespaces")
    async def namespaces(req):  # the engine has one namespace, the one each function names
        return json_response([NAMESPACE])

    @route("GET", "/system/function/{name}")
    async def get_function(req):
        return json_response(of_status(engine.resolve(req.params["name"]).name))

    @route("POST", "/system/scale-function/{name}")
    async def scale(req):
        data = body_json(req)
        replicas = field(data, "replicas", int, required=True)
        spec = await engine.scale(req.params["name"], replicas)
        return json_response(of_status(spec.name), 202)

    def call_headers(out: CallOutcome) -> list:
        return [("X-Call-Id", out.call_id),
                ("X-Duration-Seconds", f"{out.duration_ms / 1000:.6f}"),
                ("X-Faastui-Node", out.node),
                ("X-Faastui-Container-State", out.container_state),
                ("X-Faastui-Cold-Start-Ms", f"{out.cold_start_ms:.3f}"),
                ("X-Faastui-Handler-Ms", f"{out.duration_ms:.3f}"),
                ("X-Faastui-Overhead-Ms", f"{out.overhead_ms:.3f}")]

    def fn_headers(req: Request) -> dict | None:
        """What a /faastui/v1 call hands the function: its content type, and the method,
        path, query and headers the caller gave as parameters (``LocalBackend._call``)."""
        ct = req.headers.get("content-type")
        out = {"content-type": ct} if ct else {}
        if not req.query_string:
            return out or None
        q = req.query
        if "method" in q or "path" in q or "headers" in q or "query" in q:
            try:
                extra = json.loads(q.get("headers") or "{}")
            except ValueError:
                raise InvalidRequest("'headers' must be a JSON object") from None
            if not isinstance(extra, dict):
                raise InvalidRequest("'headers' must be a JSON object")
            out.update({str(k).lower(): str(v) for k, v in extra.items()})
            out.update(pseudo_headers(q.get("method") or "POST", q.get("path") or "/", q.get("query") or ""))
        return out or None

    def in_namespace(name: str) -> str:
        """OpenFaaS's ``FUNCTION.NAMESPACE`` form (``/function/hello.local``): the function
        name, when the namespace is the engine's own."""
        fn, dot, ns = name.rpartition(".")
        return fn if dot and ns == NAMESPACE and fn in engine.functions else name

    @route("POST|GET|PUT|PATCH|DELETE|OPTIONS", "/function/{name}")
    async def invoke(req):
        name, path = split_function_path(req.params["name"])
        name = in_namespace(name)
        node = (req.query.get("node") or None) if req.query_string else None
        spec = engine.resolve(name)
        out = await engine.invoke(spec.name, req.body, node=node,
                                  headers=gateway_headers(req, path, spec.signature), t0=req.t0)
        if out.ok:
            return Response(out.http_status, out.output, out.content_type,
                            call_headers(out) + answer_headers(out.headers))
        resp = error_response(out.http_status, out.error or out.status, "invocation_failed",
                              status=out.status, call_id=out.call_id)
        resp.headers = call_headers(out)
        return resp

    @route("POST|GET|PUT|PATCH|DELETE", "/async-function/{name}")
    async def invoke_async(req):
        name, path = split_function_path(req.params["name"])
        name = in_namespace(name)
        spec = engine.resolve(name)
        call_id = await engine.invoke_async(spec.name, req.body,
                                            gateway_headers(req, path, spec.signature))
        return json_response({"call_id": call_id}, 202, [("X-Call-Id", call_id)])

    # ---- Invokers gateway ---------------------------------------------------------------
    @route("GET", "/nodes")
    async def nodes(req):
        return json_response([{"NodeName": n, "ClusterIP": "127.0.0.1"} for n in engine.nodes])

    @route("POST", "/prewarm")
    async def prewarm(req):
        data = body_json(req)
        entries = data.get("nodes")
        if not isinstance(entries, list) or not entries:
            raise InvalidRequest("'nodes' must be a non-empty list of {node, function, warm}")
        for e in entries:  # validate the whole request before acting on any of it
            if not isinstance(e, dict) or not e.get("node") or not e.get("function"):
                raise InvalidRequest("each entry needs 'node' and 'function'")
            field(e, "node", str), field(e, "function", str), field(e, "warm", bool)
            engine.node(str(e["node"]))
            engine.resolve(str(e["function"]))
        results = []
        for e in entries:
            if e.get("warm", True):
                started = await engine.prewarm(str(e["function"]), str(e["node"]), 1)
                results.append({"node": e["node"], "function": e["function"], "warm": True,
                                "coldStartDuration": int(started[0].cold_start_ms * 1e6)})
            else:
                stopped = await engine.cool(str(e["function"]), str(e["node"]))
                results.append({"node": e["node"], "function": e["function"], "warm": False,
                                "stopped": stopped})
        return json_response({"results": results})

    def parse_steps(data: dict) -> list[tuple[str | None, str]]:
        steps = data.get("steps")
        if not isinstance(steps, list) or not steps:
            raise InvalidRequest("'steps' must be a non-empty list of {node, function}")
        out = []
        for s in steps:
            if not isinstance(s, dict) or not isinstance(s.get("function"), str) or not s["function"]:
                raise InvalidRequest(f"malformed step {s!r}: needs 'function' (and 'node')")
            node = s.get("node")
            if node is not None and not isinstance(node, str):
                raise InvalidRequest(f"malformed step {s!r}: 'node' must be a string")
            out.append((node or None, s["function"]))
        return out

    def input_bytes(value) -> bytes:
        if value is None:
            return b""
        if isinstance(value, str):
            return value.encode()
        return json.dumps(value).encode()

    @route("POST", "/dispatch")
    async def dispatch(req):
        data = body_json(req)
        steps = parse_steps(data)
        outs = await engine.dispatch(input_bytes(data.get("input")), steps, "chain")
        failed = next((o for o in outs if not o.ok), None)
        if failed is not None:
            return error_response(502, f"step {len(outs)} ({failed.function}) failed: {failed.error}",
                                  "invocation_failed", results=[_invokers_step(o) for o in outs])
        return json_response({"output": outs[-1].output.decode("utf-8", "replace"),
                              "results": [_invokers_step(o) for o in outs]})

    # ---- faastui/v1 --------------------------------------------------------------------
    V1 = "/faastui/v1"

    def snapshot_model() -> Snapshot:
        return Snapshot(nodes=node_models(), functions=function_models(),
                        placements=placements(), queues=[], qos=engine.history.qos(),
                        fusion_groups=engine.fusion_groups(), taken_at=time.time(),
                        errors=engine.health_errors())

    def node_models() -> list[Node]:
        return [Node(name=n.name, address="127.0.0.1", ready=n.ready, cpus=n.spec.cpus,
                     memory_mb=n.spec.memory_mb, used_cpus=n.cpu_usage(),
                     used_memory_mb=n.used_memory_mb, labels=dict(n.spec.labels),
                     max_containers=n.spec.max_containers, containers=len(n.containers))
                for n in engine.nodes.values()]

    def function_model(name: str) -> Function:
        spec = engine.functions[name]
        total, _ = engine.replicas(name)
        return Function(name=name, image=spec.image, runtime=spec.runtime, handler=spec.handler,
                        replicas=max(total, spec.min_replicas), available_replicas=total,
                        memory_mb=spec.memory_mb, cpus=spec.cpus, timeout_s=spec.timeout_s,
                        labels=dict(spec.labels), fusion_group=engine.fn_group.get(name),
                        deadline_ms=spec.deadline_ms,
                        invocations=engine.invocation_count.get(name, 0))

    def function_models() -> list[Function]:
        return [function_model(name) for name in sorted(engine.functions)]

    def placements() -> list[Placement]:
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

    @route("GET", V1 + "/snapshot")
    async def snapshot(req):
        snap = snapshot_model()
        data = snap.to_dict()
        if engine.queue_watcher is not None:
            try:
                data["queues"] = [q.to_dict() for q in await engine.queue_watcher.apoll()]
            except BackendError as exc:
                data["errors"].append(f"queues: {exc}")
        if engine.redis is not None and not engine.redis_link.degraded:
            # [workflow hook] the workflow's deadline % in the QoS pane
            from redis.exceptions import RedisError

            from ..workflow.qos import workflow_qos

            try:
                stat = await workflow_qos(engine.redis)
            except RedisError as exc:
                data["errors"].append(f"qos: the workflow's figures: Redis: {exc}")
            else:
                if stat is not None:
                    data["qos"].append(stat.to_dict())
        return json_response(data)

    @route("GET", V1 + "/nodes")
    async def v1_nodes(req):
        return json_response([n.to_dict() for n in node_models()])

    @route("GET", V1 + "/functions")
    async def v1_functions(req):
        return json_response([f.to_dict() for f in function_models()])

    @route("GET", V1 + "/functions/{name}")
    async def v1_function(req):
        name = engine.resolve(req.params["name"]).name
        return json_response(function_model(name).to_dict())

    @route("DELETE", V1 + "/functions/{name}")
    async def v1_remove(req):
        await engine.remove(req.params["name"])
        return json_response({"removed": req.params["name"]})

    @route("GET", V1 + "/placements")
    async def v1_placements(req):
        return json_response([p.to_dict() for p in placements()])

    @route("GET", V1 + "/qos")
    async def v1_qos(req):
        window = query_number(req, "window", 60.0, float, low=0.001)
        return json_response([q.to_dict() for q in engine.history.qos(window)])

    @route("GET", V1 + "/events")
    async def v1_events(req):
        since = query_number(req, "since", 0.0, float)
        limit = query_number(req, "limit", None, int, low=1)
        events = [e for e in engine.events if e["t"] > since]
        return json_response(events[-limit:] if limit else events)

    @route("GET", V1 + "/invocations")
    async def v1_invocations(req):
        limit = min(200, query_number(req, "limit", 50, int, low=1))  # 200 are kept
        latest = list(engine.recent)[-limit:][::-1]
        return json_response([o.invocation(with_result=False).to_dict() for o in latest])

    @route("GET", V1 + "/fusion")
    async def v1_fusion(req):
        return json_response([g.to_dict() for g in engine.fusion_groups()])

    @route("GET", V1 + "/callgraph")
    async def v1_callgraph(req):
        return json_response([{"caller": a, "callee": b, "calls": n}
                              for (a, b), n in sorted(engine.call_graph.items())])

    @route("GET", V1 + "/redis")
    async def v1_redis(req):
        return json_response({"url": engine.redis_url})

    @route("POST", V1 + "/invoke/{name}")
    async def v1_invoke(req):
        out = await engine.invoke(req.params["name"], req.body, node=req.query.get("node") or None,
                                  headers=fn_headers(req), t0=req.t0)
        return json_response(out.invocation().to_dict())

    @route("POST", V1 + "/async/{name}")
    async def v1_async(req):
        call_id = await engine.invoke_async(req.params["name"], req.body, fn_headers(req))
        return json_response({"call_id": call_id}, 202, [("X-Call-Id", call_id)])

    @route("GET", V1 + "/results/{call_id}")
    async def v1_result(req):
        q = req.query
        record = await engine.result(req.params["call_id"], query_number(req, "wait", 0.0, float, low=0),
                                     keep=q.get("keep") in ("1", "true"))
        return json_response(record, 202 if record.get("status") == "pending" else 200)

    @route("POST", V1 + "/prewarm")
    async def v1_prewarm(req):
        data = body_json(req)
        count = field(data, "count", int, 1)
        fn = field(data, "function", str, required=True)
        started = await engine.prewarm(fn, field(data, "node", str) or None, count)
        return json_response([{"call_id": c.id, "function": str(data["function"]), "node": c.node.name,
                               "container_state": "prewarm", "cold_start_ms": round(c.cold_start_ms, 3),
                               "status": "ok"} for c in started])

    @route("POST", V1 + "/dispatch")
    async def v1_dispatch(req):
        data = body_json(req)
        mode = field(data, "mode", str, "chain")
        outs = await engine.dispatch(input_bytes(data.get("input")), parse_steps(data), mode)
        if mode == "fanout":
            output = [o.result_value() for o in outs]
        else:
            output = outs[-1].result_value() if outs and outs[-1].ok else None
        return json_response({"output": output, "mode": mode,
                              "steps": [o.invocation().to_dict() for o in outs]})

    @route("POST", V1 + "/fuse")
    async def v1_fuse(req):
        data = body_json(req)
        fns = data.get("functions")
        if not isinstance(fns, list) or not all(isinstance(f, str) for f in fns):
            raise InvalidRequest("'functions' must be a list of names")
        group = await engine.fuse(fns, field(data, "name", str))
        return json_response(next(g.to_dict() for g in engine.fusion_groups() if g.name == group.name))

    @route("POST", V1 + "/unfuse")
    async def v1_unfuse(req):
        data = body_json(req)
        return json_response({"functions": await engine.unfuse(field(data, "group", str, required=True))})

    @route("POST", V1 + "/scale")
    async def v1_scale(req):
        data = body_json(req)
        replicas = field(data, "replicas", int, required=True)
        spec = await engine.scale(field(data, "function", str, required=True), replicas)
        return json_response(function_model(spec.name).to_dict())

    @route("POST", V1 + "/deploy")
    async def v1_deploy(req):
        name = req.query.get("name") or None
        ctype = req.headers.get("content-type", "")
        if "json" in ctype:
            data = body_json(req)
            if "handler" in data:  # the agent style: handler source text
                source = field(data, "handler", str, required=True)
                reqs = field(data, "requirements", (list, str), [])
                if isinstance(reqs, str):
                    reqs = reqs.split()
                elif not all(isinstance(r, str) for r in reqs):
                    raise InvalidRequest("'requirements' must be an array of strings")
                extra = {k: field(data, k, (int, float)) for k in ("memory", "timeout", "deadline_ms")
                         if data.get(k) is not None}
                spec = await engine.deploy_source(source, field(data, "id", str) or name, reqs, extra)
            elif "path" in data:
                spec = await engine.deploy_dir(Path(field(data, "path", str, required=True)),
                                               field(data, "name", str) or name)
            else:
                raise InvalidRequest("JSON deploys need 'handler' (source) or 'path' (a folder)")
        else:
            spec = await engine.deploy_zip(req.body, name, req.query.get("source") or None)
        return json_response(function_model(spec.name).to_dict(), 201)

    @route("GET", V1 + "/logs/{name}")
    async def v1_logs(req):
        """``?tail=N&since=EPOCH&instance=ID``: the last lines; ``?after=CURSOR``: what came
        after a cursor (following). Both answer with the ``cursor`` to continue from."""
        spec = engine.resolve(req.params["name"])
        unit = engine.unit_of(spec.name)
        query = logread.Query.of(req.query)
        answer = await asyncio.to_thread(logread.answer, engine.logs_dir / f"{unit}.log", query,
                                         spec.name, unit != spec.name)
        return json_response({"function": spec.name, **answer})

    @route("GET", V1 + "/info")
    async def v1_info(req):
        return json_response({"version": VERSION, "started_at": engine.started_at,
                              "nodes": len(engine.nodes), "functions": len(engine.functions),
                              "redis_url": engine.redis_url, "state_dir": str(engine.state_dir)})

    @route("POST", V1 + "/shutdown")
    async def v1_shutdown(req):
        asyncio.get_running_loop().call_soon(shutdown)
        return json_response({"stopping": True}, 202)

    from .hosting import add_routes  # deferred: served APIs hosted in the engine (issue 10)

    add_routes(router, engine)  # /faastui/v1/serve...
    from .system_routes import add_routes as add_system_routes  # /system/secrets, /system/logs

    add_system_routes(router, engine)
    return router


def _rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t or 0, timezone.utc).isoformat(timespec="microseconds").replace(
        "+00:00", "Z")


def _invokers_step(o: CallOutcome) -> dict:
    total_ms = o.duration_ms + o.cold_start_ms + o.overhead_ms
    return {"output": o.output.decode("utf-8", "replace") if o.ok else (o.error or ""),
            "coldStartDuration": int(round(o.cold_start_ms * 1e6)),
            "runningDuration": int(round(o.duration_ms * 1e6)),
            "startAt": _rfc3339(o.started_at),
            "endAt": _rfc3339(o.started_at + total_ms / 1000.0)}


def _package_path(image: str, functions_dir: Path | None) -> Path | None:
    if not image:
        return None
    candidate = image[len("local:"):] if image.startswith("local:") else image
    path = Path(candidate)
    if path.is_absolute() and path.is_dir():
        return path
    if functions_dir is not None:
        short = candidate.split("/")[-1].split(":")[0]
        for name in (candidate, short):
            p = functions_dir / name
            if "/" not in name and p.is_dir():
                return p
    return None


def build_router(engine: Engine, shutdown, functions_dir: Path | None = None) -> Router:
    return _routes(engine, shutdown, functions_dir)


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_auth(host: str, token: str | None):
    """Bound to loopback: no auth. Elsewhere: a bearer token on every route but /healthz."""
    if _is_loopback(host) or not token:
        return None
    expected = f"Bearer {token}".encode()

    def auth(req: Request):
        if req.path == "/healthz":
            return None
        given = req.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return error_response(401, "missing or wrong bearer token", "auth",
                                  hint="the token is in the engine's state dir (token file)")
        return None

    return auth
