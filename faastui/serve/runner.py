"""Running one served API in the foreground: what every ``faastui serve NAME`` shares.

``serve(name, ...)`` checks the bind rules first (loopback by default; any other address
needs ``--token`` or an explicit ``--allow-unauthenticated``, since each of these APIs
deploys or runs code), builds the context's backend, checks it has what the API needs,
binds, checks the backend answers, prints one ready line on stderr::

    serving the agent API on http://127.0.0.1:5000 over context local

and serves until SIGINT or SIGTERM, then stops cleanly (calls in flight finish) and says
so. Over the embedded engine the API runs inside the engine's daemon (one hop from the
workers: ``hosted.py``, ``backends/local/hosting.py``) and this process follows it: the
same ready line, its notes, the same signals and exit codes; ``FAASTUI_SERVE_IN_ENGINE=0``
keeps it here, as it is for every other backend. Every failure is a BackendError carrying
its exit code (2 usage, 3 unsupported, 4 unreachable, 1 otherwise, e.g. a port in use); the
CLI prints it as one line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from backends.errors import BackendError, InvalidRequest, NotFound, Unreachable, Unsupported
from backends.local.hosting import ENGINE_STOPPED

from . import api_class
from .base import ServeOptions, is_loopback, missing_capabilities

__all__ = ["serve", "check_bind", "in_engine_wanted"]

NOTE_POLL_S = 0.5  # how often a hosted API's notes are fetched (and the engine told we live)


def check_bind(name: str, host: str, token: str | None, allow_unauthenticated: bool) -> None:
    """Refuse a non-loopback address without auth. Raises InvalidRequest (exit 2)."""
    if not host.strip():
        raise InvalidRequest("--host is empty", hint="e.g. --host 127.0.0.1")
    if token is not None and not token.strip():
        raise InvalidRequest("--token is empty")
    if is_loopback(host) or token or allow_unauthenticated:
        return
    raise InvalidRequest(
        f"refusing to serve the {name} API on {host} without authentication: "
        "it deploys and runs code for whoever can reach it",
        hint="pass --token SECRET (clients then send 'Authorization: Bearer SECRET'), "
        "or --allow-unauthenticated on a network you trust",
    )


def serve(
    name: str,
    *,
    host: str,
    port: int,
    context,
    token: str | None = None,
    allow_unauthenticated: bool = False,
    settings: dict | None = None,
    out=None,
) -> None:
    """Serve API ``name`` over ``context`` (a faastui.config.Context) until a signal.

    For the foreground process of ``faastui serve``: once it has served, it returns with
    SIGINT and SIGTERM ignored (the process is about to exit).
    Raises: BackendError (the CLI turns it into one line and its exit code).
    """
    cls = api_class(name)
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):  # [::1], as in a URL
        host = host[1:-1]
    check_bind(name, host, token, allow_unauthenticated)
    options = ServeOptions(
        host=host,
        port=port,
        token=token or None,
        context=context.name,
        settings=dict(settings or {}),
        allow_unauthenticated=allow_unauthenticated,
    )
    loop_factory = None
    if cls.event_loop == "uvloop":
        try:
            import uvloop  # deferred: only the HTTP APIs use it; the default loop also works

            loop_factory = uvloop.new_event_loop
        except ImportError:
            pass
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_serve(cls, context, options, out or sys.stderr))
    finally:
        # closing the loop gave SIGINT/SIGTERM their defaults back; a late second signal
        # while the process exits must not turn a clean stop into a kill or a traceback
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)


async def _serve(cls, context, options: ServeOptions, out) -> None:
    backend = context.build_backend()
    try:
        missing = missing_capabilities(cls, backend)
        if missing:
            raise Unsupported(missing, hint="use a context whose backend can, e.g. local")
        hosted = await _host_in_engine(cls, backend, options)
        if hosted is not None:
            await _follow_hosted(cls, backend, options, context, hosted, out)
            return
        api = cls(backend, options)
        api.on_note = lambda text: print(text, file=out, flush=True)
        port = await api.start()  # a port in use fails here, before any backend call
        try:
            await backend.functions()  # does it answer at all? (Unreachable: exit 4)
        except BaseException:
            await api.stop()
            raise
        stop = _stop_on_signals()
        try:
            _ready(cls, options, port, context, out)
            await stop.wait()
        finally:
            _ignore_signals()
            await api.stop()  # a second signal meanwhile changes nothing: stopping is bounded
        print(f"stopped the {cls.name} API", file=out, flush=True)
    finally:
        try:
            await backend.aclose()
        except BackendError:
            pass


def _ready(cls, options: ServeOptions, port: int, context, out) -> None:
    print(
        f"serving the {cls.name} API on {cls.scheme}://{options.display_host}:{port} over context {context.name}",
        file=out,
        flush=True,
    )


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _ignore_signals() -> None:
    """From here on further signals are ignored: stopping is bounded anyway, and a signal
    that lands while the loop closes its wakeup fd would print a traceback."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
        signal.signal(sig, signal.SIG_IGN)


# ---- inside the embedded engine ------------------------------------------------------------
def in_engine_wanted() -> bool:
    """``FAASTUI_SERVE_IN_ENGINE=0`` keeps an API in this process even over the engine."""
    return os.environ.get("FAASTUI_SERVE_IN_ENGINE", "1").strip().lower() not in ("0", "no", "false", "off")


async def _host_in_engine(cls, backend, options: ServeOptions) -> dict | None:
    """Have the embedded engine host the API (one hop from the workers instead of two:
    ``bench/serve.py``). None when it cannot (another backend, an API that is not hostable, an engine
    elsewhere or without hosting): the API then runs in this process."""
    host_api = getattr(backend, "host_api", None)
    if not cls.hostable or host_api is None or not in_engine_wanted():
        return None
    spec = {
        "api": cls.name,
        "host": options.host,
        "port": options.port,
        "token": options.token,
        "context": options.context,
        "settings": dict(options.settings),
        "allow_unauthenticated": options.allow_unauthenticated,  # the engine checks again
        "owner_pid": os.getpid(),
    }
    try:
        return await host_api(spec)
    except Unsupported:
        return None


async def _follow_hosted(cls, backend, options, context, hosted: dict, out) -> None:
    """The foreground half of a hosted API: the ready line, its notes as they come, and on
    SIGINT/SIGTERM closing it (calls in flight finish). If the engine goes away, so does
    the API: said, exit code 4."""
    stop = _stop_on_signals()
    seen, closed = 0, False
    try:
        _ready(cls, options, hosted["port"], context, out)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), NOTE_POLL_S)
            except TimeoutError:
                pass
            try:
                state = await backend.hosted_api(hosted["id"], since=seen)
            except (NotFound, Unreachable):
                state = {"closed": ENGINE_STOPPED}
            for line in state.get("notes") or []:
                print(line, file=out, flush=True)
            seen = int(state.get("next") or seen)
            if state.get("closed"):
                closed = True
                if state["closed"] == ENGINE_STOPPED:
                    raise Unreachable(
                        f"the engine stopped, and the {cls.name} API with it",
                        hint="start it with `faastui up`, then serve again",
                    )
                raise BackendError(f"the engine closed the {cls.name} API: {state['closed']}")
    finally:
        _ignore_signals()
        if not closed:
            try:
                await backend.unhost_api(hosted["id"])
            except BackendError:
                pass  # the engine went away meanwhile: nothing is left to close
    print(f"stopped the {cls.name} API", file=out, flush=True)
