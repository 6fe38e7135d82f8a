"""Provides the typer CLI: ``app`` (the root command) and ``main()``.

One module per command group: reads (nodes, functions, placement, describe,
queues, qos, fusion, namespaces, logs), actions (invoke, result, prewarm, dispatch,
fuse, unfuse, scale, deploy, rm), engine (up, down, status, demo), watching
(watch), load (bench), meta (version, info, completion) and context (context
list|use|add|rm|show). ``_common`` holds the context, namespace (``-n``) and gateway
(``-g``) every command runs with; ``_listing`` the list commands' script options.
"""

__all__ = ["app", "main"]


def __getattr__(name: str):
    """``app`` (the whole CLI, from app.py) and ``main`` (entry.py) on first use, so the
    console script imports only the command it runs."""
    if name == "main":
        from .entry import main

        return main
    if name == "app":
        from .app import app as whole  # importing the submodule binds ``app`` to it: rebind

        globals()["app"] = whole
        return whole
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
