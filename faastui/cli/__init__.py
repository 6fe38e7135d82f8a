"""Provides the typer CLI: ``app`` (the root command) and ``main()``.

One module per command group: reads (nodes, functions, placement, describe,
queues, qos, fusion, logs), actions (invoke, result, prewarm, dispatch, fuse,
unfuse, scale, deploy, rm), engine (up, down, status, demo), watching
(watch), load (bench) and context (context list|use|add|rm|show).
"""

from .app import app, main

__all__ = ["app", "main"]
