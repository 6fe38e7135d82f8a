"""The OpenFaaS gateway subset: ``/system/...``, ``/function/{name}``,
``/async-function/{name}``, ``/healthz``, with OpenFaaS's field names, texts and
status codes (the spec's: POST /system/functions 202, PUT and DELETE 200)."""

from __future__ import annotations

import platform
from pathlib import Path

from ...errors import InvalidRequest
from ..call_request import answer_headers, gateway_headers, split_function_path
from ..calls import CallOutcome
from ..httpserver import Request, Response, error_response, json_response
from ..params import field
from .routing import NAMESPACE, VERSION, Api, Routes, body_json, rfc3339

__all__ = ["routes", "call_headers"]

routes = Routes("openfaas")


def function_status(engine, name: str) -> dict:
    """A function as OpenFaaS's ``FunctionStatus``."""
    spec = engine.functions[name]
    total, _idle = engine.replicas(name)
    return {
        "name": spec.name,
        "image": spec.image,
        "namespace": NAMESPACE,
        "envProcess": spec.handler,
        "envVars": spec.env,
        "labels": spec.labels,
        "annotations": {
            **spec.annotations,
            "faastui/deadline_ms": str(spec.deadline_ms or ""),
            "faastui/timeout_s": f"{spec.timeout_s:g}",
            "faastui/fusion_group": engine.fn_group.get(name, ""),
            **({"faastui/description": spec.description} if spec.description else {}),
        },
        "secrets": list(spec.secrets),
        "constraints": [f"node.hostname == {spec.node}"] if spec.node else [],
        "limits": {"memory": f"{spec.memory_mb:g}Mi", "cpu": f"{spec.cpus:g}"},
        "requests": {"memory": f"{spec.memory_mb:g}Mi", "cpu": f"{spec.cpus:g}"},
        "invocationCount": engine.invocation_count.get(name, 0),
        "replicas": max(total, spec.min_replicas),
        "availableReplicas": total,
        "createdAt": rfc3339(spec.created_at),
    }


@routes.route("GET", "/healthz")
async def healthz(api: Api, req: Request) -> Response:
    return Response(200, "OK")


@routes.route("GET", "/system/info")
async def info(api: Api, req: Request) -> Response:
    return json_response(
        {
            "provider": {
                "provider": "faastui",
                "orchestration": "local",
                "version": {"release": VERSION, "sha": "embedded"},
            },
            "version": {"release": VERSION, "sha": "embedded", "commit_message": ""},
            "arch": platform.machine(),
        }
    )


@routes.route("GET", "/system/functions")
async def list_functions(api: Api, req: Request) -> Response:
    engine = api.engine
    return json_response([function_status(engine, n) for n in sorted(engine.functions)])


async def _deploy(api: Api, req: Request, status: int) -> Response:
    data = body_json(req)
    service = field(data, "service", str, required=True)
    if not service:
        raise InvalidRequest("'service' is required")
    image = field(data, "image", str, "")
    path = package_path(image, api.functions_dir)
    if path is None:
        raise InvalidRequest(
            f"image {image!r} is not a function package this engine can find",
            hint="use a folder path, 'local:/path', or a name under the engine's functions dir; "
            "or upload with `faastui deploy`",
        )
    secrets = field(data, "secrets", list)  # the function reads them by path
    if secrets is not None and not all(isinstance(x, str) for x in secrets):
        raise InvalidRequest("'secrets' must be an array of secret names")
    spec = await api.engine.deploy_dir(path, name=service, secrets=secrets)
    for key in ("envVars", "labels"):
        if isinstance(data.get(key), dict):
            getattr(spec, "env" if key == "envVars" else "labels").update(
                {str(k): str(v) for k, v in data[key].items()}
            )
    if image:
        spec.image = image
    return json_response(function_status(api.engine, spec.name), status)


@routes.route("POST", "/system/functions")
async def deploy(api: Api, req: Request) -> Response:
    return await _deploy(api, req, 202)


@routes.route("PUT", "/system/functions")
async def update(api: Api, req: Request) -> Response:  # the spec: 200 (POST, a new one, is 202)
    data = body_json(req)
    api.engine.resolve(field(data, "service", str, required=True))
    return await _deploy(api, req, 200)


@routes.route("DELETE", "/system/functions")
async def delete(api: Api, req: Request) -> Response:  # the spec: 200, no body
    data = body_json(req)
    name = field(data, "functionName", str) or field(data, "service", str)
    if not name:
        raise InvalidRequest("'functionName' is required")
    await api.engine.remove(name)
    return Response(200, b"")


@routes.route("GET", "/system/namespaces")
async def namespaces(api: Api, req: Request) -> Response:
    return json_response([NAMESPACE])  # the engine has one, the one each function names


@routes.route("GET", "/system/function/{name}")
async def get_function(api: Api, req: Request) -> Response:
    return json_response(function_status(api.engine, api.engine.resolve(req.params["name"]).name))


@routes.route("POST", "/system/scale-function/{name}")
async def scale(api: Api, req: Request) -> Response:
    data = body_json(req)
    replicas = field(data, "replicas", int, required=True)
    spec = await api.engine.scale(req.params["name"], replicas)
    return json_response(function_status(api.engine, spec.name), 202)


def call_headers(out: CallOutcome) -> list:
    """The headers a call's answer carries: its id, duration and where it ran."""
    return [
        ("X-Call-Id", out.call_id),
        ("X-Duration-Seconds", f"{out.duration_ms / 1000:.6f}"),
        ("X-Faastui-Node", out.node),
        ("X-Faastui-Container-State", out.container_state),
        ("X-Faastui-Cold-Start-Ms", f"{out.cold_start_ms:.3f}"),
        ("X-Faastui-Handler-Ms", f"{out.duration_ms:.3f}"),
        ("X-Faastui-Overhead-Ms", f"{out.overhead_ms:.3f}"),
    ]


def _in_namespace(engine, name: str) -> str:
    """OpenFaaS's ``FUNCTION.NAMESPACE`` form (``/function/hello.local``): the function
    name, when the namespace is the engine's own."""
    fn, dot, ns = name.rpartition(".")
    return fn if dot and ns == NAMESPACE and fn in engine.functions else name


@routes.route("POST|GET|PUT|PATCH|DELETE|OPTIONS", "/function/{name}")
async def invoke(api: Api, req: Request) -> Response:
    engine = api.engine
    name, path = split_function_path(req.params["name"])
    name = _in_namespace(engine, name)
    node = (req.query.get("node") or None) if req.query_string else None
    spec = engine.resolve(name)
    out = await engine.invoke(
        spec.name, req.body, node=node, headers=gateway_headers(req, path, spec.signature), t0=req.t0
    )
    if out.ok:
        return Response(out.http_status, out.output, out.content_type, call_headers(out) + answer_headers(out.headers))
    resp = error_response(
        out.http_status, out.error or out.status, "invocation_failed", status=out.status, call_id=out.call_id
    )
    resp.headers = call_headers(out)
    return resp


@routes.route("POST|GET|PUT|PATCH|DELETE", "/async-function/{name}")
async def invoke_async(api: Api, req: Request) -> Response:
    engine = api.engine
    name, path = split_function_path(req.params["name"])
    spec = engine.resolve(_in_namespace(engine, name))
    call_id = await engine.invoke_async(spec.name, req.body, gateway_headers(req, path, spec.signature))
    return json_response({"call_id": call_id}, 202, [("X-Call-Id", call_id)])


def package_path(image: str, functions_dir: Path | None) -> Path | None:
    """The package folder an OpenFaaS deploy's ``image`` names: an absolute folder,
    ``local:/path``, or a folder under the engine's functions dir (``name`` or
    ``repo/name:tag``). None when it names none of these."""
    if not image:
        return None
    candidate = image[len("local:") :] if image.startswith("local:") else image
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
