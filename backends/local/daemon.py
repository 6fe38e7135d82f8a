"""The embedded engine daemon: ``python -m backends.local.daemon --state-dir DIR``.

Starts the private Redis, one zygote per node, the engine and its HTTP API;
writes ``engine.json`` (pid, url, redis url) atomically into the state dir
once it answers, and removes it on the way out. A lock file makes a second
daemon on the same state dir refuse to start. SIGTERM/SIGINT stop it
cleanly; every child (zygotes, workers, Redis) dies with it even when it is
killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path

import yaml

from ..errors import BackendError, InvalidRequest
from .nodes import NodeSpec

__all__ = ["main", "load_cluster", "write_json_atomic"]

DEFAULT_PORT = 8080


def write_json_atomic(path: Path, data: dict, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_cluster(path: Path | None, nodes: int | None) -> tuple[list[NodeSpec], dict]:
    """Node specs from a cluster file, or ``nodes`` default nodes."""
    settings: dict = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            raise InvalidRequest(f"cannot read cluster file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" (line {where.line + 1})" if where is not None else ""
            raise InvalidRequest(f"cluster file {path} is not valid YAML{at}") from None
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not data["nodes"]:
            raise InvalidRequest(f"cluster file {path} needs a non-empty 'nodes' list")
        specs = []
        seen = set()
        for i, n in enumerate(data["nodes"]):
            if not isinstance(n, dict) or not n.get("name"):
                raise InvalidRequest(f"cluster file {path}: node {i + 1} needs a name")
            from .packages import validate_name
            name = validate_name(str(n["name"]), "node")
            if name in seen:
                raise InvalidRequest(f"cluster file {path}: node {name!r} appears twice")
            seen.add(name)
            try:
                specs.append(NodeSpec(name=name, cpus=float(n.get("cpus", 2)),
                                      memory_mb=float(n.get("memory_mb", n.get("memory", 2048))),
                                      max_containers=int(n.get("max_containers", 16)),
                                      labels={str(k): str(v) for k, v in (n.get("labels") or {}).items()}))
            except (TypeError, ValueError):
                raise InvalidRequest(f"cluster file {path}: node {name!r} has a non-numeric capacity") from None
        settings = {k: v for k, v in data.items() if k != "nodes"}
    else:
        count = nodes or 2
        if count < 1 or count > 256:
            raise InvalidRequest("--nodes must be between 1 and 256")
        specs = [NodeSpec(name=f"node-{i + 1}") for i in range(count)]
    return specs, settings


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="faastui-engine", description=__doc__.splitlines()[0])
    p.add_argument("--state-dir", required=True)
    p.add_argument("--cluster")
    p.add_argument("--nodes", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--functions-dir")
    p.add_argument("--keep-alive", type=float)
    p.add_argument("--no-redis", action="store_true")
    return p.parse_args(argv)


async def _serve(args, state: Path, specs, settings, redis_srv, token: str | None) -> None:
    from .api import build_router, make_auth
    from .engine import Engine
    from .httpserver import HttpServer

    redis_client = watcher = None
    redis_url = ""
    if redis_srv is not None:
        import redis.asyncio as aioredis

        from ..queues import QueueWatcher
        redis_url = redis_srv.url
        redis_client = aioredis.Redis.from_url(redis_url)
        watcher = QueueWatcher(redis_url)
    keep_alive = args.keep_alive if args.keep_alive is not None else float(
        settings.get("keep_alive_s", 300))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    engine = Engine(state, specs, keep_alive_s=keep_alive, token=token or "",
                    redis=redis_client, redis_url=redis_url, queue_watcher=watcher)
    functions_dir = Path(args.functions_dir) if args.functions_dir else None
    server = HttpServer(build_router(engine, stop.set, functions_dir), auth=make_auth(args.host, token),
                        on_error=lambda req, exc: engine.event("error", error=f"{req.path}: {exc!r}"))
    port = await server.start(args.host, args.port)
    host_for_url = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    engine.gateway_url = f"http://{host_for_url}:{port}"
    await engine.start()
    info = {"pid": os.getpid(), "host": args.host, "port": port, "url": engine.gateway_url,
            "redis_url": redis_url, "redis_tcp_url": getattr(redis_srv, "tcp_url", None),
            "state_dir": str(state), "nodes": [s.name for s in specs], "started_at": time.time(),
            "auth": bool(token)}
    write_json_atomic(state / "engine.json", info)
    print(f"faastui engine listening on {engine.gateway_url} (pid {os.getpid()})", flush=True)
    try:
        await stop.wait()
    finally:
        try:
            (state / "engine.json").unlink()
        except FileNotFoundError:
            pass
        from .hosting import close_hosted  # deferred: only engines that host an API need it

        await close_hosted(engine)  # served APIs in this engine: calls in flight finish
        await server.close()
        await engine.stop()
        if redis_client is not None:
            await redis_client.aclose()


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    state = Path(args.state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = open(state / "engine.lock", "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"error: an engine is already running on {state}", file=sys.stderr)
        return 1
    try:
        specs, settings = load_cluster(Path(args.cluster) if args.cluster else None, args.nodes)
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    token = None
    from .api import _is_loopback
    if not _is_loopback(args.host):
        token = secrets.token_urlsafe(32)
        token_path = state / "token"
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token)
    (state / "engine.pid").write_text(str(os.getpid()))
    redis_srv = None
    try:
        if not args.no_redis:
            from .redis_server import RedisServer
            redis_srv = RedisServer(state / "redis")
            redis_srv.start()
        try:
            import uvloop
            loop_factory = uvloop.new_event_loop
        except ImportError:  # the default loop works, a little slower
            loop_factory = None
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_serve(args, state, specs, settings, redis_srv, token))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if redis_srv is not None:
            redis_srv.stop()
        for name in ("engine.pid", "engine.json"):
            try:
                (state / name).unlink()
            except FileNotFoundError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
