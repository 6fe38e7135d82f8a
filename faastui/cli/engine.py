"""The embedded engine's lifecycle: up, down, status, demo.

``up``/``down`` use ``backends.local.control`` on the context's state dir
(``<XDG state>/faastui/engine`` for the default ``local`` context);
``status`` adds a summary from one ``snapshot()``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from backends.errors import BackendError

from ..output import Format, emit, message
from ._common import NamespaceOpt, OutputOpt, call, current_context, handle_errors, usage_error

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None)


def _local_context():
    ctx = current_context()
    if ctx.backend != "local":
        raise usage_error(
            f"context {ctx.name!r} uses the {ctx.backend} backend; only local contexts have an embedded engine",
            hint="switch with `faastui context use local`",
        )
    return ctx


@app.command()
def up(
    cluster: Optional[Path] = typer.Option(None, "--cluster", help="A cluster YAML (nodes and capacities)."),
    nodes: Optional[int] = typer.Option(None, "--nodes", min=1, max=256, help="Number of default nodes."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, envvar="FAASTUI_PORT", help="Port (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (non-loopback needs a token)."),
    redis_fsync: Optional[str] = typer.Option(
        None,
        "--redis-fsync",
        metavar="everysec|always",
        help="When Redis's append-only file is synced to disk (default everysec).",
    ),
    foreground: bool = typer.Option(False, "--foreground", help="Run in this process until Ctrl-C."),
):
    """Start the embedded engine. Without --cluster or --nodes it resumes the cluster it
    last ran with (with its scale minimums and fusion groups)."""
    from faastui import locations

    with handle_errors():
        ctx = _local_context()
        state_dir = ctx.engine_state_dir()
        if cluster is not None and not cluster.is_file():
            raise usage_error(f"cluster file {cluster} does not exist")
        if redis_fsync not in (None, "everysec", "always"):
            raise usage_error(f"--redis-fsync must be everysec or always, not {redis_fsync!r}")
        options = dict(
            cluster=cluster,
            nodes=nodes,
            port=port,
            host=host,
            functions_dir=locations.functions_dir(),
            redis_fsync=redis_fsync,
        )
        if foreground:
            from backends.local import control, daemon

            argv = control.daemon_command(state_dir, **options)[3:]  # drop python -m module
            raise typer.Exit(daemon.main(argv))
        from backends.local.control import start_engine

        info = start_engine(state_dir, **options)
    listen = ", ".join(info.get("listen") or [info["url"]])
    message(f"engine up at {listen} (pid {info['pid']}, state {state_dir})")
    if info.get("cluster"):
        message(f"cluster {info['cluster']}: {', '.join(info.get('nodes') or [])}")


@app.command()
def down():
    """Stop the embedded engine."""
    from backends.local.control import stop_engine

    with handle_errors():
        ctx = _local_context()
        state_dir = ctx.engine_state_dir()
        if not stop_engine(state_dir):
            message(f"no engine running on {state_dir}")
            return
    message("engine stopped")


@app.command()
def status(output: Format = OutputOpt, namespace: Optional[str] = NamespaceOpt):
    """Where the engine is and what it holds, from one snapshot."""
    with handle_errors():
        ctx = current_context()
        info: dict = {}
        if ctx.backend == "local":
            from backends.local.control import engine_status

            info = dict(engine_status(ctx.engine_state_dir()) or {})
            info.pop("process", None)
    backend_info, snap = call(_status)
    data = {
        "context": ctx.name,
        "backend": ctx.backend,
        "url": backend_info.get("url") or info.get("url"),
        "pid": info.get("pid"),
        "redis_url": backend_info.get("redis_url") or info.get("redis_url"),
        "nodes": len(snap.nodes),
        "nodes_ready": sum(1 for n in snap.nodes if n.ready),
        "functions": len(snap.functions),
        "containers": sum(p.count for p in snap.placements if p.state != "cold"),
        "fusion_groups": len(snap.fusion_groups),
        "queues": len(snap.queues),
        "queued": sum(q.length for q in snap.queues),
        "state": "degraded" if snap.errors else "ok",
        "errors": snap.errors,
    }
    if output in (Format.json, Format.yaml):
        emit(data, output)
        return
    width = max(len(k) for k in data) + 2
    for key, value in data.items():
        if key == "errors":
            value = "; ".join(value) or "-"
        if key == "redis_url" and value:
            value = _redact(str(value))
        sys.stdout.write(f"{key + ':':<{width}}{'-' if value is None else value}\n")


def _redact(url: str) -> str:
    """Hide a password in a URL (never print secrets)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


async def _status(backend):
    snap = await backend.snapshot()
    extra: dict = {"url": getattr(backend, "url", None)}
    try:  # Backend.info: Unsupported where the backend says nothing of itself
        extra.update({k: v for k, v in (await backend.info() or {}).items() if k == "redis_url"})
    except BackendError:
        pass
    return extra, snap


@app.command()
def demo(
    keep_running: bool = typer.Option(False, "--keep-running", help="Leave the engine up afterwards."),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Engine port (0: any free port)."),
    no_ui: bool = typer.Option(False, "--no-ui", help="Print a report instead of opening the dashboard."),
):
    """Start an engine with the sample cluster and functions under a mixed load, and open the
    dashboard on it (on a terminal; a printed report otherwise, or with --no-ui)."""
    from faastui import demo as demo_module

    with handle_errors():
        raise typer.Exit(demo_module.main(port=port, keep_running=keep_running, ui=False if no_ui else None))
