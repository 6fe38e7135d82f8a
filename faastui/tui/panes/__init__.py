"""Provides the dashboard's panes: each renders its part of one ``Snapshot`` (model objects
only), one module per pane.

``base`` holds ``Pane`` (title, data-age badge, error state) and ``TablePane`` (rows
synced by diff through ``KeyedTable``); ``nodes``, ``placement``, ``queues``, ``qos``,
``fusion`` and ``events`` are the six panes, in screen order in ``PANES``.
"""

from __future__ import annotations

from .base import HISTORY, Pane, TablePane
from .events import EventsPane
from .fusion import FusionPane
from .nodes import NodesPane
from .placement import PlacementPane
from .qos import QoSPane
from .queues import QueuesPane

__all__ = [
    "Pane",
    "TablePane",
    "NodesPane",
    "PlacementPane",
    "QueuesPane",
    "QoSPane",
    "FusionPane",
    "EventsPane",
    "PANES",
    "HISTORY",
]

PANES = (NodesPane, PlacementPane, QueuesPane, QoSPane, FusionPane, EventsPane)
