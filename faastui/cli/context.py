"""`faastui context list|use|add|rm|show`: manage the contexts of faastui/config.py.

Tokens and passwords go to credentials.yaml (mode 0600), referenced by name; nothing here
ever prints one. OpenFaaS basic auth is taken the way ``faas-cli login`` takes it:
``--user admin --password-stdin`` (or ``-O user=admin`` and ``--password-stdin``).
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from ..output import Format, emit, message
from ._common import OutputOpt, handle_errors, state, usage_error

__all__ = ["app"]

app = typer.Typer(
    rich_markup_mode=None, no_args_is_help=True, help="List, switch, add and remove contexts (which backend, where)."
)


@app.command("list")
def list_(output: Format = OutputOpt, quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the names.")):
    """List the contexts; * marks the one in use."""
    from ..config import load_config, resolve_context

    with handle_errors():
        config = load_config()
        active = resolve_context(state.context, config).name
    contexts = config.all()
    if quiet or output == Format.name:
        for c in contexts:
            print(c.name if quiet else f"context/{c.name}")
        return
    if output in (Format.json, Format.yaml):
        emit([dict(c.to_dict(), current=c.name == active) for c in contexts], output)
        return
    from rich import box
    from rich.table import Table

    from ..output import stdout_console

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for col in ("CURRENT", "NAME", "BACKEND", "URL", "CREDENTIALS"):
        table.add_column(col, no_wrap=True)
    for c in contexts:
        url = c.url or (f"(engine in {c.engine_state_dir()})" if c.backend == "local" else "-")
        table.add_row("*" if c.name == active else "", c.name, c.backend, url, c.credentials or "-")
    stdout_console().print(table)


@app.command()
def use(name: str = typer.Argument(..., help="Context to make current.")):
    """Make a context the current one."""
    from ..config import load_config, save_config

    with handle_errors():
        config = load_config()
        config.get(name)  # raises with a did-you-mean for an unknown name
        config.current_context = name
        save_config(config)
    message(f"now using context {name!r}")


@app.command()
def add(
    name: str = typer.Argument(..., help="Context name."),
    backend: str = typer.Option("local", "--backend", "-b", help="Backend kind (local, openfaas, ...)."),
    url: Optional[str] = typer.Option(None, "--url", help="Where the backend answers."),
    state_dir: Optional[str] = typer.Option(None, "--state-dir", help="local: the engine's state dir."),
    token: Optional[str] = typer.Option(None, "--token", help="A token; stored apart, mode 0600."),
    token_stdin: bool = typer.Option(False, "--token-stdin", help="Read the token from stdin."),
    user: Optional[str] = typer.Option(
        None, "--user", "--username", "-u", help="Basic-auth user (openfaas; default admin), as -O user=."
    ),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read the basic-auth password from stdin (openfaas, as faas-cli login); stored apart, mode 0600.",
    ),
    redis_url: Optional[str] = typer.Option(None, "--redis-url", help="Redis with the queues."),
    kube_context: Optional[str] = typer.Option(None, "--kube-context", help="Kubernetes context."),
    option: Optional[list[str]] = typer.Option(
        None, "--option", "-O", metavar="KEY=VALUE", help="A backend setting (repeatable), e.g. namespace=serving."
    ),
    use_it: bool = typer.Option(False, "--use", help="Also make it current."),
):
    """Add (or replace) a context."""
    from backends import registry

    from ..config import Context, load_config, load_credentials, parse_option, save_config, save_credentials

    if not name or "/" in name or name.strip() != name:
        raise usage_error(f"bad context name {name!r}")
    if token and token_stdin:
        raise usage_error("use either --token or --token-stdin")
    if password_stdin and (token or token_stdin):
        raise usage_error("use either a token or --password-stdin, not both")
    if token_stdin:
        token = sys.stdin.readline().strip()
        if not token:
            raise usage_error("no token on stdin")
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise usage_error(
                "no password on stdin", hint='e.g. echo -n "$PASSWORD" | faastui context add NAME ... --password-stdin'
            )
    with handle_errors():
        options = dict(parse_option(o) for o in option or [])
        if "kube_context" in options:  # -O kube_context=X is --kube-context X
            given = str(options.pop("kube_context"))
            if kube_context is not None and kube_context != given:
                raise usage_error("--kube-context and -O kube_context= name two contexts")
            kube_context = given
        if user is not None:
            if options.get("user", user) != user:
                raise usage_error("--user and -O user= name two users")
            options["user"] = user
        cls = registry.load(backend)  # raises InvalidRequest naming what is installed
        _check_options(cls, options)
        if password is not None:
            _check_takes(cls, "password", "a basic-auth password", "--token or --token-stdin")
        config = load_config()
        ctx = Context(
            name=name,
            backend=backend,
            url=url,
            state_dir=state_dir,
            redis_url=redis_url,
            kube_context=kube_context,
            options=options,
        )
        secret = {"token": token} if token else {"password": password} if password is not None else None
        creds = load_credentials()
        if secret is not None:
            creds[name] = secret
            save_credentials(creds)
            ctx.credentials = name
        elif creds.pop(name, None) is not None:  # a replaced context keeps no old secret
            save_credentials(creds)
        config.contexts = [c for c in config.contexts if c.name != name] + [ctx]
        if use_it:
            config.current_context = name
        save_config(config)
    message(f"added context {name!r}" + (" (now current)" if use_it else ""))


def _check_takes(cls, keyword: str, what: str, instead: str) -> None:
    """Refuse a secret the backend's constructor does not take."""
    import inspect

    from backends.errors import InvalidRequest

    if keyword not in inspect.signature(cls.__init__).parameters:
        raise InvalidRequest(f"the {cls.name} backend takes no {what}", hint=f"use {instead}")


def _check_options(cls, options: dict) -> None:
    """Refuse an option the backend's constructor does not take (a typo would be lost)."""
    from backends import options as declared

    declared.check(cls, options, generic=declared.GENERIC - {"namespace"})


@app.command()
def rm(name: str = typer.Argument(..., help="Context to remove.")):
    """Remove a context (and its stored credentials)."""
    from ..config import LOCAL, load_config, load_credentials, save_config, save_credentials

    with handle_errors():
        config = load_config()
        ctx = config.get(name)
        config.contexts = [c for c in config.contexts if c.name != name]
        if config.current_context == name:
            config.current_context = LOCAL
        save_config(config)
        if ctx.credentials:
            creds = load_credentials()
            if creds.pop(ctx.credentials, None) is not None:
                save_credentials(creds)
    message(f"removed context {name!r}" + (" (reset to built-in)" if name == LOCAL else ""))


@app.command()
def show(
    name: Optional[str] = typer.Argument(None, help="Context (default: the one in use)."),
    output: Format = typer.Option(Format.yaml, "--output", "-o", help="yaml or json."),
):
    """Show a context; credentials by name only, never their secret."""
    from ..config import load_config, resolve_context

    with handle_errors():
        config = load_config()
        ctx = config.get(name) if name else resolve_context(state.context, config)
    data = ctx.to_dict()
    if data.get("backend") == "local" and not data.get("state_dir"):
        data["state_dir"] = str(ctx.engine_state_dir())
    data["capabilities"] = _capabilities(ctx)
    emit(data, Format.json if output == Format.json else Format.yaml)


def _capabilities(ctx) -> list[str]:
    """What the context's backend can do: its instance's (built, never contacted: a backend
    connects on its first call), else its class's when it cannot be built (the error is
    said where the context is used), else none."""
    import asyncio

    from backends import registry
    from backends.base import Capability
    from backends.errors import BackendError

    try:
        backend = ctx.build_backend()
    except (BackendError, ImportError):
        try:
            caps = registry.load(ctx.backend).capabilities
        except (BackendError, ImportError):
            return []
    else:
        caps = backend.capabilities
        asyncio.run(backend.aclose())
    return [c.name.lower() for c in Capability if c.name and c.value and c in caps]
