"""Provides the dashboard's full-screen views, pushed over the panes and popped with escape:
``DetailScreen`` (Enter on a row: the describe, ``y`` YAML, ``j`` JSON, ``c`` copy) and
``LogScreen`` (``l``: a function's log, followed). The app imports this package when the
first view opens (``launchers.open_row``), not for the first frame.
"""

from __future__ import annotations

from .detail import DetailScreen, document_text
from .logs import LogScreen

__all__ = ["DetailScreen", "LogScreen", "document_text"]
