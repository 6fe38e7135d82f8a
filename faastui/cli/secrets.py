"""``faastui secret create|update|list|rm``: the backend's secrets, as faas-cli's
``secret`` commands take them.

A value comes from ``--from-literal VALUE``, ``--from-file PATH`` or stdin (one of them),
trimmed of surrounding white space as faas-cli does (``--no-trim`` keeps it byte for byte,
for binary files). It goes to the backend (``Backend.create_secret``) and nowhere else:
never printed, never logged, never in a child process's argv. ``list`` shows names only.
Backends without secrets answer exit 3 with the reason.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..output import Format, message
from ._common import NamespaceOpt, call, fail, usage_error
from ._listing import NoHeadersOpt, QuietOpt, SortOpt

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None, help="Secrets functions read at "
                  "/var/openfaas/secrets/NAME (create, update, list, rm).")

_LiteralOpt = typer.Option(None, "--from-literal", metavar="VALUE", help="The value itself.")
_FileOpt = typer.Option(None, "--from-file", metavar="PATH", help="Read the value from a file.")
_TrimOpt = typer.Option(True, "--trim/--no-trim",
                        help="Trim white space around the value (as faas-cli); --no-trim keeps "
                             "it as is.")


def _checked_name(name: str) -> str:
    from backends.errors import BackendError
    from backends.secrets import check_name

    try:
        return check_name(name)
    except BackendError as exc:
        raise fail(exc) from None


def _value(literal: str | None, path: Path | None, trim: bool) -> bytes:
    """The value from exactly one of the three sources. Raises: a usage Exit."""
    if literal is not None and path is not None:
        raise usage_error("please provide secret using only one option from --from-literal, "
                          "--from-file and STDIN")
    if literal is not None:
        value = literal.encode("utf-8")
    elif path is not None:
        try:
            value = Path(path).read_bytes()
        except OSError as exc:
            raise usage_error(f"cannot read {path}: {exc.strerror}") from None
    else:
        if sys.stdin is None:
            raise usage_error("no value", hint="give --from-literal, --from-file or stdin")
        if sys.stdin.isatty():
            message("Reading from STDIN - hit (Control + D) to stop.")
        value = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else \
            sys.stdin.read().encode("utf-8")
    if trim:
        value = value.strip()
    if not value:
        raise usage_error("must provide a non empty secret via --from-literal, --from-file "
                          "or STDIN")
    return value


def _store(name: str, literal: str | None, path: Path | None, trim: bool, update: bool) -> None:
    name = _checked_name(name)
    value = _value(literal, path, trim)
    call(lambda b: b.create_secret(name, value, update=update))
    message(f"secret {name} {'updated' if update else 'created'}")


@app.command("create")
def create(name: str = typer.Argument(...,
                                     help="The secret's name (lower case, digits, - and .)."),
           from_literal: Optional[str] = _LiteralOpt, from_file: Optional[Path] = _FileOpt,
           trim: bool = _TrimOpt, namespace: Optional[str] = NamespaceOpt):
    """Create a secret from --from-literal, --from-file or stdin (as faas-cli secret create)."""
    _store(name, from_literal, from_file, trim, update=False)


@app.command("update")
def update(name: str = typer.Argument(..., help="The secret's name."),
           from_literal: Optional[str] = _LiteralOpt, from_file: Optional[Path] = _FileOpt,
           trim: bool = _TrimOpt, namespace: Optional[str] = NamespaceOpt):
    """Replace the value of an existing secret."""
    _store(name, from_literal, from_file, trim, update=True)


def _list(output: Format, sort_by: str | None, quiet: bool, no_headers: bool) -> None:
    from backends.errors import BackendError

    from ._listing import Listing

    try:
        listing = Listing.of("Secret", sort_by, None, quiet, no_headers)
    except BackendError as exc:
        raise fail(exc) from None
    got = listing.apply(call(lambda b: b.secrets()), "Secret")
    if not got and output in (Format.table, Format.wide) and not listing.for_scripts:
        message("No secrets found.")
        return
    listing.emit(got, output, "Secret")


_OutputOpt = typer.Option(Format.table, "--output", "-o", case_sensitive=False,
                          help="table, wide, json, yaml or name (names only, never values).")


@app.command("list")
def list_(output: Format = _OutputOpt, sort_by: Optional[str] = SortOpt,
          quiet: bool = QuietOpt, no_headers: bool = NoHeadersOpt,
          namespace: Optional[str] = NamespaceOpt):
    """List the secrets by name (alias: ls)."""
    _list(output, sort_by, quiet, no_headers)


@app.command("ls", hidden=True)
def ls(output: Format = _OutputOpt, sort_by: Optional[str] = SortOpt, quiet: bool = QuietOpt,
       no_headers: bool = NoHeadersOpt, namespace: Optional[str] = NamespaceOpt):
    """List the secrets by name."""
    _list(output, sort_by, quiet, no_headers)


def _remove(names: list[str]) -> None:
    for name in names:  # checked before any is removed
        _checked_name(name)

    async def remove_all(b):
        for name in names:
            await b.remove_secret(name)
            message(f"secret {name} removed")
    call(remove_all)


@app.command("rm")
def rm(names: list[str] = typer.Argument(..., help="Secrets to remove."),
       namespace: Optional[str] = NamespaceOpt):
    """Remove secrets (aliases: remove, delete)."""
    _remove(names)


app.command("remove", hidden=True, help="Remove secrets.")(rm)
app.command("delete", hidden=True, help="Remove secrets.")(rm)
