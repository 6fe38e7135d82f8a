"""Provides the typer CLI: ``app`` (the root command) and ``main()``.

One module per command group: reads (nodes, functions, placement, describe,
queues, qos, fusion, namespaces, logs), actions (invoke, result, prewarm, dispatch,
fuse, unfuse, scale, deploy, rm), engine (up, down, status, demo), watching
(watch), load (bench), meta (version, info, completion) and context (context
list|use|add|rm|show). ``_common`` holds the context, namespace (``-n``) and gateway
(``-g``) every command runs with; ``_listing`` the list commands' script options.
"""

from .app import app, main

__all__ = ["app", "main"]
