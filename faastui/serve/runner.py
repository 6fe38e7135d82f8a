"""Running one served API in the foreground: what every ``faastui serve NAME`` shares.

``serve(name, ...)`` checks the bind rules first (loopback by default; any other address
needs ``--token`` or an explicit ``--allow-unauthenticated``, since each of these APIs
deploys or runs code), builds the context's backend, checks it has what the API needs,
binds, checks the backend answers, prints one ready line on stderr::

    serving the agent API on http://127.0.0.1:5000 over context local

and serves until SIGINT or SIGTERM, then stops cleanly (calls in flight finish) and says
so. Every failure is a BackendError carrying its exit code (2 usage, 3 unsupported,
4 unreachable, 1 otherwise, e.g. a port in use); the CLI prints it as one line.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from backends.errors import BackendError, InvalidRequest, Unsupported

from . import api_class
from .base import ServeOptions, is_loopback

__all__ = ["serve", "check_bind"]


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
             "or --allow-unauthenticated on a network you trust")


def serve(name: str, *, host: str, port: int, context, token: str | None = None,
          allow_unauthenticated: bool = False, settings: dict | None = None,
          out=None) -> None:
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
    options = ServeOptions(host=host, port=port, token=token or None, context=context.name,
                           settings=dict(settings or {}))
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
        missing = cls.needs & ~backend.capabilities
        if missing:
            what = ", ".join(sorted(c.name.lower() for c in type(missing) if c in missing))
            raise Unsupported(f"the {backend.name} backend cannot serve the {cls.name} API "
                              f"(it lacks: {what})",
                              hint="use a context whose backend can, e.g. local")
        api = cls(backend, options)
        api.on_note = lambda text: print(text, file=out, flush=True)
        port = await api.start()  # a port in use fails here, before any backend call
        try:
            await backend.functions()  # does it answer at all? (Unreachable: exit 4)
        except BaseException:
            await api.stop()
            raise
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            print(f"serving the {cls.name} API on {cls.scheme}://{options.display_host}:{port} "
                  f"over context {context.name}", file=out, flush=True)
            await stop.wait()
        finally:
            # from here on further signals are ignored: stopping is bounded anyway, and a
            # signal that lands while the loop closes its wakeup fd would print a traceback
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
                signal.signal(sig, signal.SIG_IGN)
            await api.stop()  # a second signal meanwhile changes nothing: stopping is bounded
        print(f"stopped the {cls.name} API", file=out, flush=True)
    finally:
        try:
            await backend.aclose()
        except BackendError:
            pass
