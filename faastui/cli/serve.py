"""``faastui serve NAME``: a seed system's own API in front of the current context's backend
(faastui/serve/), in the foreground until Ctrl-C or SIGTERM.

The API modules, the backend and grpc are imported only when the command runs.
"""

from __future__ import annotations

from typing import Optional

import typer

from ._common import handle_errors, state

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None)


@app.command()
def serve(name: str = typer.Argument(...,
                                     help="agent (port 5000) or iluvatar (port 8079)."),
          host: str = typer.Option("127.0.0.1", "--host",
                                   help="Address to bind; another than loopback needs --token "
                                        "or --allow-unauthenticated."),
          port: Optional[int] = typer.Option(None, "--port", min=0, max=65535,
                                             help="Port (default: the API's own; 0: any free)."),
          context: Optional[str] = typer.Option(None, "--context",
                                                help="Context whose backend serves the calls."),
          token: Optional[str] = typer.Option(None, "--token", envvar="FAASTUI_SERVE_TOKEN",
                                              help="Require 'Authorization: Bearer TOKEN'."),
          allow_unauthenticated: bool = typer.Option(
              False, "--allow-unauthenticated",
              help="Serve a non-loopback address without a token.")):
    """Serve a seed system's own API (its clients work unchanged) over a backend."""
    from faastui import serve as apis  # deferred: each API pulls in its own server
    from faastui.config import resolve_context
    from faastui.serve.runner import serve as run

    with handle_errors():
        apis.api_class(name)  # an unknown name fails before anything else
        ctx = resolve_context(context or state.context)
        run(name, host=host, port=apis.APIS[name].default_port if port is None else port,
            context=ctx, token=token, allow_unauthenticated=allow_unauthenticated)
