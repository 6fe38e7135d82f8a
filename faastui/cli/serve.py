"""``faastui serve NAME``: a seed system's own API in front of the current context's backend
(faastui/serve/), in the foreground until Ctrl-C or SIGTERM.

The API modules, the backend and grpc are imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._common import NamespaceOpt, handle_errors, state

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None)


#: the options only one API takes, and which
_OWN_OPTIONS = {"schedule": "fusionizer", "optimize": "fusionizer", "every": "fusionizer",
                "address": "fusionizer"}


def _settings(name: str, schedule: Optional[Path], optimize: bool, every: Optional[float],
              address: Optional[str]) -> dict:
    """What API ``name`` alone takes, checked. Raises InvalidRequest (exit 2)."""
    from backends.errors import InvalidRequest

    given = {"schedule": schedule is not None, "optimize": optimize,
             "every": every is not None, "address": address is not None}
    for option, used in given.items():
        if used and _OWN_OPTIONS[option] != name:
            raise InvalidRequest(f"--{option} is an option of `faastui serve "
                                 f"{_OWN_OPTIONS[option]}`, not of {name}")
    if name != "fusionizer":
        return {}
    if schedule is not None and optimize:
        raise InvalidRequest("--schedule and --optimize are two ways to choose the fusion "
                             "setup; give one")
    if every is not None and not optimize:
        raise InvalidRequest("--every is the time between --optimize rounds",
                             hint="add --optimize")
    if every is not None and not every > 0:
        raise InvalidRequest("--every must be a number of seconds above 0")
    if address is not None and (not address.strip() or any(c in address for c in "/ \r\n")):
        raise InvalidRequest(f"--address {address!r} is not a host name or address",
                             hint="the host tasks call this server at, e.g. 10.0.0.5")
    out: dict = {"optimize": optimize}
    if schedule is not None:
        from faastui.serve.fusion_setup import read_schedule

        out["schedule"] = [e.to_json() for e in read_schedule(schedule)]
    if every is not None:
        out["every"] = every
    if address:
        out["address"] = address.strip()
    return out


@app.command()
def serve(name: str = typer.Argument(...,
                                     help="fusionizer (port 8000), agent (port 5000) or "
                                          "iluvatar (port 8079)."),
          host: str = typer.Option("127.0.0.1", "--host",
                                   help="Address to bind; another than loopback needs --token "
                                        "or --allow-unauthenticated."),
          port: Optional[int] = typer.Option(None, "--port", min=0, max=65535,
                                             help="Port (default: the API's own; 0: any free)."),
          context: Optional[str] = typer.Option(None, "--context",
                                                help="Context whose backend serves the calls "
                                                     "(or -g URL, and -n NS, at the root)."),
          namespace: Optional[str] = NamespaceOpt,
          token: Optional[str] = typer.Option(None, "--token", envvar="FAASTUI_SERVE_TOKEN",
                                              help="Require 'Authorization: Bearer TOKEN'."),
          allow_unauthenticated: bool = typer.Option(
              False, "--allow-unauthenticated",
              help="Serve a non-loopback address without a token."),
          schedule: Optional[Path] = typer.Option(
              None, "--schedule", metavar="FILE",
              help="fusionizer: the static optimizer's file, "
                   '{"<seconds>": [["taska", "taskb"], ...]}.'),
          optimize: bool = typer.Option(False, "--optimize",
                                        help="fusionizer: regroup from the call graph in rounds."),
          every: Optional[float] = typer.Option(None, "--every", metavar="S",
                                                help="fusionizer: seconds between --optimize "
                                                     "rounds (default 30)."),
          address: Optional[str] = typer.Option(
              None, "--address",
              help="fusionizer: the host tasks call this server at (default: the host "
                   "each client reached it at).")):
    """Serve a seed system's own API (its clients work unchanged) over a backend."""
    from faastui import serve as apis  # deferred: each API pulls in its own server
    from faastui.serve.runner import serve as run

    from ._common import current_context

    if context is not None:
        state.context = context  # --context here, as at the root (with -g: a usage error)
    with handle_errors():
        apis.api_class(name)  # an unknown name fails before anything else
        settings = _settings(name, schedule, optimize, every, address)
        ctx = current_context()  # -g URL and -n NS as every command takes them
        run(name, host=host, port=apis.APIS[name].default_port if port is None else port,
            context=ctx, token=token, allow_unauthenticated=allow_unauthenticated,
            settings=settings)
