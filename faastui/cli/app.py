"""The root Typer with every command group composed with add_typer (``app``, what the
tests drive, and what `faastui --help` lists). The console script goes through
``entry.main``, which builds only the command argv names; ``COMMAND_MODULES`` says which
module holds each command, and tests/test_cli_entry.py checks it against this app. The
root help is printed from ``_lazy_root.new_lazy_app()``: these groups listed, none built.

Command modules import only typer and the model at import time; rich, PyYAML,
asyncio, the backends' HTTP client and Redis are imported inside the commands
that need them, so `faastui --help` stays fast (see bench/cli.py).
"""

from __future__ import annotations

from . import actions, context, engine, fusion, load, meta, reads, secrets, serve, watching, workflow
from .root import new_app

__all__ = ["app"]

app = new_app()
for group in (reads.app, actions.app, engine.app, watching.app, load.app, fusion.app, serve.app, meta.app):
    app.add_typer(group)  # no name: the group's commands join the root
app.add_typer(context.app, name="context")
app.add_typer(workflow.app, name="workflow")
app.add_typer(secrets.app, name="secret")
