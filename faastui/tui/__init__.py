"""Provides the dashboard: a Textual app over one Backend, where every action is a key.

``run(context=...)`` opens it on a context (``faastui``, ``faastui ui``,
``faastui demo``); ``Dashboard`` is the app class (tests build it directly
with a backend factory and a ``DashboardOptions``). docs/ARCHITECTURE.md maps the
modules. Importing this package imports textual (~0.4 s), so
the CLI imports it only when the dashboard opens.
"""

from __future__ import annotations

__all__ = ["Dashboard", "DashboardOptions", "run"]


def __getattr__(name: str):
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
