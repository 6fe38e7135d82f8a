"""The dashboard's settings: one frozen object instead of a dozen constructor arguments.

``Dashboard(make_backend, DashboardOptions(interval=30))`` or, as a shorthand,
``Dashboard(make_backend, interval=30)`` (the keywords are ``DashboardOptions`` fields;
an unknown one is a TypeError, never silently dropped).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.base import Backend

__all__ = ["DashboardOptions", "MIN_INTERVAL", "from_config"]

# at most 4 refreshes a second (docs/PERFORMANCE.md: a repaint is ~60 ms of CPU)
MIN_INTERVAL = 0.25


@dataclass(frozen=True)
class DashboardOptions:
    """How one dashboard runs.

    Attributes:
        context_name: the context shown in the subtitle (``:ctx NAME`` switches it).
        readonly: hide every state-changing action (``--readonly``).
        theme: the theme asked for (``--theme``, the config); None: the default theme.
        interval: seconds between polls (at least ``MIN_INTERVAL``).
        keys: binding id -> key, from the config's ``keys:``.
        clock: the time source of data-age badges and events (tests freeze it).
        poll_timeout: seconds a snapshot may take before the poll counts as failed.
        remember_theme: write a theme switch back to the config.
        save_dir: where ctrl+s saves (``--save-dir``; default: ``$FAASTUI_SAVE_DIR``, else
            ``$XDG_DATA_HOME/faastui/screenshots``).
        engine_events: also fetch the backend's events and latest calls for Events.
        background: a coroutine run on its own backend while the dashboard is open
            (``faastui demo``'s load).
        make_context_backend: context name -> (name, backend factory), for ``:ctx``
            (default: the config's contexts).
        namespace: the namespace the backend works in (``-n``; None: its default).
        make_namespace_backend: (context name, namespace) -> that context's backend factory
            in the namespace, for ``:ns`` (None: ``:ns`` says it cannot switch). Raises
            BackendError (Unsupported: a backend without namespaces).
        view: the pane shown alone at start (a ``:`` view: nodes, fn, queues, qos,
            fusion, events; ``all`` or None: the grid) — ``--view``, ``default_view``.
    """

    context_name: str = "local"
    readonly: bool = False
    theme: str | None = None
    interval: float = 1.0
    keys: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    poll_timeout: float = 5.0
    remember_theme: bool = True
    save_dir: str | Path | None = None
    engine_events: bool = True
    background: Callable[[Backend], Awaitable[Any]] | None = None
    make_context_backend: Callable[[str], tuple[str, Callable[[], Backend]]] | None = None
    view: str | None = None
    namespace: str | None = None
    make_namespace_backend: Callable[[str, str], Callable[[], Backend]] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", dict(self.keys or {}))  # a config without keys: None

    @property
    def poll_interval(self) -> float:
        return max(MIN_INTERVAL, self.interval)


def from_config(
    cfg,
    context_name: str,
    *,
    readonly: bool = False,
    theme: str | None = None,
    interval: float | None = None,
    view: str | None = None,
    save_dir: str | Path | None = None,
    **more: Any,
) -> DashboardOptions:
    """The options of a dashboard opened from the command line on config ``cfg`` (a
    ``faastui.config.Config``): the arguments first, then the config's ``readonly``
    (``--readonly`` only ever adds it), ``refresh_s``, ``default_view``, ``theme``, and its
    ``keymap`` with ``keys`` on top. Raises: InvalidRequest for an unknown view or key map."""
    from backends.errors import InvalidRequest

    from .command_bar import VIEWS
    from .keymaps import load_keymap

    view = view or cfg.default_view
    if view is not None and view != "all" and not VIEWS.get(view):
        raise InvalidRequest(
            f"unknown view {view!r}", hint="one of all, " + ", ".join(sorted(k for k, v in VIEWS.items() if v))
        )
    return DashboardOptions(
        context_name=context_name,
        readonly=readonly or bool(cfg.readonly),
        theme=theme or cfg.theme,
        keys={**load_keymap(cfg.keymap), **cfg.keys},
        interval=interval if interval is not None else (cfg.refresh_s or 1.0),
        view=view,
        save_dir=save_dir,
        **more,
    )
