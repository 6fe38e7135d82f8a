"""The embedded engine daemon: ``python -m backends.local.daemon --state-dir DIR``.

Starts the private Redis (supervised, with its append-only file in the state
dir), one zygote per node, the engine and its HTTP API; writes ``engine.json``
(pid, url, the addresses bound, redis url, where the cluster came from)
atomically into the state dir once it answers, and removes it on the way out.
A lock file makes a second daemon on the same state dir refuse to start.

The cluster is the one the engine last ran with (``engine-state.json``, see
``durable.py``) unless ``--cluster`` or ``--nodes`` say otherwise; the daemon
says which. SIGTERM/SIGINT stop it cleanly: it stops listening, waits up to
``--drain`` seconds for running async calls, then stops. Every child (zygotes,
workers, Redis) dies with it even when it is killed (PR_SET_PDEATHSIG).

It logs through ``logging`` into ``<state>/engine.log`` (errors with their
tracebacks); what it prints is the address it actually bound.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path

import yaml

from ..errors import BackendError, InvalidRequest
from .durable import cluster_from_dict, cluster_to_dict, load_state, write_json_atomic
from .nodes import NodeSpec

__all__ = ["main", "load_cluster", "resolve_cluster", "write_json_atomic", "listen_urls", "route_error_reporter"]

DEFAULT_PORT = 8080
DEFAULT_DRAIN_S = 10.0
log = logging.getLogger("backends.local.daemon")


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
                specs.append(
                    NodeSpec(
                        name=name,
                        cpus=float(n.get("cpus", 2)),
                        memory_mb=float(n.get("memory_mb", n.get("memory", 2048))),
                        max_containers=int(n.get("max_containers", 16)),
                        labels={str(k): str(v) for k, v in (n.get("labels") or {}).items()},
                    )
                )
            except (TypeError, ValueError):
                raise InvalidRequest(f"cluster file {path}: node {name!r} has a non-numeric capacity") from None
        settings = {k: v for k, v in data.items() if k != "nodes"}
    else:
        count = nodes or 2
        if count < 1 or count > 256:
            raise InvalidRequest("--nodes must be between 1 and 256")
        specs = [NodeSpec(name=f"node-{i + 1}") for i in range(count)]
    return specs, settings


def resolve_cluster(cluster: Path | None, nodes: int | None, saved: dict) -> tuple[list[NodeSpec], dict, dict, str]:
    """(specs, settings, the record to save, how it was chosen): ``--cluster`` or
    ``--nodes`` if given, else the cluster of the last run, else two default nodes."""
    if cluster is not None or nodes is not None:
        specs, settings = load_cluster(cluster, nodes)
        how = (
            f"from {Path(cluster).resolve()}"
            if cluster is not None
            else f"{len(specs)} node{'s' if len(specs) != 1 else ''} from --nodes"
        )
        return specs, settings, cluster_to_dict(specs, settings, how), how
    record = saved.get("cluster")
    if isinstance(record, dict):
        specs, settings = cluster_from_dict(record)
        how = f"resumed from the last run (first chosen {record.get('source') or 'earlier'})"
        return specs, settings, record, how
    specs, settings = load_cluster(None, None)
    how = "2 default nodes (none saved; --cluster or --nodes choose)"
    return specs, settings, cluster_to_dict(specs, settings, "2 default nodes"), how


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
    p.add_argument(
        "--redis-fsync",
        choices=("everysec", "always"),
        help="appendfsync of Redis's append-only file (default everysec)",
    )
    p.add_argument(
        "--drain",
        type=float,
        default=None,
        help=f"seconds a clean stop waits for async calls (default {DEFAULT_DRAIN_S:g})",
    )
    p.add_argument(
        "--http",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an HTTP limit, e.g. header_timeout_s=10 (see HttpLimits)",
    )
    p.add_argument(
        "--logs", action="append", default=[], metavar="KEY=VALUE", help="function log rotation: max_bytes=N, backups=N"
    )
    return p.parse_args(argv)


def _pairs(items: list[str], flag: str) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidRequest(f"{flag} takes KEY=VALUE, not {item!r}")
        out[key.strip()] = value.strip()
    return out


def listen_urls(addresses: list[tuple[str, int]]) -> list[str]:
    """``http://host:port`` for each address bound (IPv6 in brackets)."""
    return [f"http://[{h}]:{p}" if ":" in h else f"http://{h}:{p}" for h, p in addresses]


def route_error_reporter(engine):
    """The HTTP server's ``on_error``: a bug in a route goes to engine.log with its
    traceback, and to the engine's events in a line (the client gets a 500)."""

    def on_error(req, exc):
        log.error("%s %s failed", req.method, req.path, exc_info=exc)
        engine.event("error", error=f"{req.path}: internal error: {type(exc).__name__}: {exc}")

    return on_error


_to_terminal = True  # False when stdout/stderr are engine.log already (started by `up`)


def _say(message: str) -> None:
    """A line for the log, and for the terminal when there is one."""
    log.info("%s", message)
    if _to_terminal:
        print(message, flush=True)


def _setup_logging(state: Path) -> None:
    """Everything to ``<state>/engine.log``; warnings also to a terminal in the foreground."""
    global _to_terminal
    path = state / "engine.log"
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    try:  # started by `faastui up`: stderr already is engine.log
        err, log_file = os.fstat(sys.stderr.fileno()), os.stat(path)
        stderr_is_log = (err.st_dev, err.st_ino) == (log_file.st_dev, log_file.st_ino)
    except (OSError, ValueError, AttributeError):
        stderr_is_log = False
    _to_terminal = not stderr_is_log
    handler = logging.StreamHandler(sys.stderr) if stderr_is_log else logging.FileHandler(path)
    handler.setFormatter(fmt)
    root.addHandler(handler)
    if not stderr_is_log and sys.stderr is not None:
        terminal = logging.StreamHandler(sys.stderr)
        terminal.setLevel(logging.WARNING)
        terminal.setFormatter(fmt)
        root.addHandler(terminal)


async def _serve(
    args, state: Path, specs, settings, redis_srv, token: str | None, cluster_record: dict, how: str, saved: dict
) -> None:
    from .api import build_router, make_auth
    from .engine import Engine
    from .httpserver import HttpLimits, HttpServer
    from .logs import LogLimits

    try:
        limits = HttpLimits.from_settings({**(settings.get("http") or {}), **_pairs(args.http, "--http")})
        log_limits = LogLimits.from_settings({**(settings.get("logs") or {}), **_pairs(args.logs, "--logs")})
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    redis_client = watcher = None
    redis_url = ""
    if redis_srv is not None:
        from ..queues import QueueWatcher
        from .redislink import make_client

        redis_url = redis_srv.url
        redis_client = make_client(redis_url)
        watcher = QueueWatcher(redis_url)
    keep_alive = args.keep_alive if args.keep_alive is not None else float(settings.get("keep_alive_s", 300))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    engine = Engine(
        state,
        specs,
        keep_alive_s=keep_alive,
        token=token or "",
        redis=redis_client,
        redis_url=redis_url,
        queue_watcher=watcher,
        cluster_record=cluster_record,
        saved_state=saved,
        log_limits=log_limits,
    )
    if redis_srv is not None:

        def redis_changed(event: str, detail: dict) -> None:  # on the loop, from the supervisor
            engine.redis_link.changed(event, detail)
            if event == "up":
                engine.event("redis", state="up", restarts=detail.get("restarts"))
            elif event == "down":
                engine.event("error", error=f"redis died ({detail.get('exit')}); restarting it")
            else:
                engine.event("error", error=f"redis does not come back: {detail.get('error')}")

        redis_srv.on_change = lambda event, detail: loop.call_soon_threadsafe(redis_changed, event, detail)
        health = redis_srv.health()
        if health["status"] != "up":
            redis_changed("down", {"exit": health.get("last_exit")})

    functions_dir = Path(args.functions_dir) if args.functions_dir else None
    server = HttpServer(
        build_router(engine, stop.set, functions_dir),
        auth=make_auth(args.host, token),
        on_error=route_error_reporter(engine),
        limits=limits,
    )
    server.hold()  # requests wait until the engine has restored its functions and state
    port = await server.start(args.host, args.port)
    listen = listen_urls(server.addresses)
    host_for_url = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    if ":" in host_for_url:
        host_for_url = f"[{host_for_url}]"
    engine.gateway_url = f"http://{host_for_url}:{port}"  # where local clients connect
    await engine.start()
    server.open()
    info = {
        "pid": os.getpid(),
        "host": args.host,
        "port": port,
        "url": engine.gateway_url,
        "listen": listen,
        "redis_url": redis_url,
        "redis_tcp_url": getattr(redis_srv, "tcp_url", None),
        "state_dir": str(state),
        "nodes": [s.name for s in specs],
        "cluster": how,
        "started_at": time.time(),
        "auth": bool(token),
    }
    write_json_atomic(state / "engine.json", info)
    _say(f"faastui engine listening on {', '.join(listen)} (pid {os.getpid()})")
    try:
        await stop.wait()
        log.info("stopping")
    finally:
        try:
            (state / "engine.json").unlink()
        except FileNotFoundError:
            pass
        from .hosting import close_hosted  # deferred: only engines that host an API need it

        await close_hosted(engine)  # served APIs in this engine: calls in flight finish
        await server.stop_listening()
        drain = args.drain if args.drain is not None else float(settings.get("drain_s", DEFAULT_DRAIN_S))
        busy, _ = await asyncio.gather(server.drain(drain), engine.drain(drain))
        if busy:
            log.warning("%d request(s) still running after %gs; their connections close", busy, drain)
        await engine.stop()
        await server.close()
        if redis_client is not None:
            await redis_client.aclose()
        if watcher is not None:
            watcher.close()


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
    _setup_logging(state)
    saved, warning = load_state(state)
    if warning:
        log.warning("%s", warning)
        print(f"warning: {warning}", file=sys.stderr)
    try:
        specs, settings, record, how = resolve_cluster(Path(args.cluster) if args.cluster else None, args.nodes, saved)
        if not isinstance(settings.get("http") or {}, dict) or not isinstance(settings.get("logs") or {}, dict):
            raise InvalidRequest("the cluster file's 'http' and 'logs' must be mappings")
        _pairs(args.http, "--http")
        _pairs(args.logs, "--logs")
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _say(f"cluster {how}: {', '.join(s.name for s in specs)}")
    token = None
    from .api import is_loopback

    if not is_loopback(args.host):
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

            fsync = args.redis_fsync or str((settings.get("redis") or {}).get("appendfsync") or "everysec")
            redis_srv = RedisServer(state / "redis", persist=True, appendfsync=fsync)
            redis_srv.start(timeout=60.0).supervise()  # a big append-only file takes a while
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:  # the default loop works, a little slower
            loop_factory = None
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_serve(args, state, specs, settings, redis_srv, token, record, how, saved))
    except InvalidRequest as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        log.error("the engine stopped: %s", exc, exc_info=exc)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BackendError as exc:
        log.error("the engine stopped: %s", exc)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception:  # a bug: its traceback goes to engine.log, not only to a lost stderr
        log.exception("the engine crashed")
        raise
    finally:
        if redis_srv is not None:
            redis_srv.stop()
        for name in ("engine.pid", "engine.json"):
            try:
                (state / name).unlink()
            except FileNotFoundError:
                pass
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
