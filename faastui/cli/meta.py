"""About faastui itself: `faastui version` (client and backend), `faastui info` (where the
config, the state and the logs live) and `faastui completion bash|zsh|fish`.

`info` contacts nothing; `version` asks the current context's backend for its own version
(``Backend.version``) after printing the client's.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from .. import __version__
from ..output import Format, emit, message
from ._common import NamespaceOpt, current_context, fail, handle_errors, usage_error

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None)

_DictOutputOpt = typer.Option(Format.table, "--output", "-o", help="table, json or yaml.", case_sensitive=False)


def _print_pairs(data: dict) -> None:
    width = max(len(k) for k in data) + 2
    for key, value in data.items():
        sys.stdout.write(f"{key + ':':<{width}}{'-' if value is None else value}\n")


@app.command()
def version(output: Format = _DictOutputOpt, namespace: Optional[str] = NamespaceOpt):
    """The client's version and the backend's (from the current context)."""
    import asyncio  # deferred, as in _common.call

    from backends.errors import BackendError, Unsupported

    data: dict = {"client": f"faastui {__version__}", "python": sys.version.split()[0]}
    error: BackendError | None = None
    with handle_errors():
        ctx = current_context()
    data.update(context=ctx.name, backend=ctx.backend)

    async def ask():
        backend = ctx.build_backend()
        try:
            return await backend.version()
        finally:
            await backend.aclose()

    try:
        data["backend_version"] = asyncio.run(ask())
    except Unsupported as exc:
        data["backend_version"] = None
        message(f"note: {exc.message}")
    except BackendError as exc:
        data["backend_version"] = None
        error = exc
    if output in (Format.json, Format.yaml):
        emit(data, output)
    elif output in (Format.table, Format.wide):
        _print_pairs(data)
    else:
        raise usage_error(f"-o {output.value} does not go with version", hint="table, json or yaml")
    if error is not None:
        raise fail(error)


@app.command()
def info(output: Format = _DictOutputOpt):
    """Where faastui keeps its config, credentials, state and logs (nothing is contacted)."""
    from .. import locations
    from ..config import config_path, credentials_path

    with handle_errors():
        ctx = current_context()
    data: dict = {
        "version": f"faastui {__version__}",
        "context": ctx.name,
        "backend": ctx.backend,
        "config": str(config_path()),
        "credentials": str(credentials_path()),
        "state": str(locations.state_dir()),
    }
    if ctx.backend == "local":
        engine = ctx.engine_state_dir()
        data.update(
            {
                "engine_state": str(engine),
                "engine_log": str(engine / "engine.log"),
                "function_logs": str(engine / "logs"),
                "redis_log": str(engine / "redis.log"),
            }
        )
    data.update(
        {
            "functions": str(locations.functions_dir()),
            "themes": str(locations.themes_dir()),
            "demo": str(locations.demo_dir()),
        }
    )
    if output in (Format.json, Format.yaml):
        emit(data, output)
    elif output in (Format.table, Format.wide):
        _print_pairs(data)
    else:
        raise usage_error(f"-o {output.value} does not go with info", hint="table, json or yaml")


@app.command()
def completion(
    shell: str = typer.Argument(
        ..., metavar="bash|zsh|fish|powershell", help="The shell to print the completion script for."
    ),
):
    """Print the shell completion script, e.g. `source <(faastui completion bash)`."""
    from ._typer_compat import completion_script

    try:
        script = completion_script(shell)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    print(script)
