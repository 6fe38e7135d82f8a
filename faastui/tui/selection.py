"""What the cursor is on: the focused pane, the function and node under the cursor, and the
last table the user was in (where ``/``, ``:`` and ctrl+s act when a prompt has focus).

Dialogs open preset from this (``launchers.py``): ``i`` on a Placement cell invokes that
function on that node.
"""

from __future__ import annotations

from backends.base import Capability

from .panes import FusionPane, NodesPane, Pane, PlacementPane, QoSPane, TablePane

__all__ = ["Selection"]


class Selection:
    """Reads the cursor of one dashboard (``app.selection``)."""

    def __init__(self, app):
        self.app = app
        self.last_pane: Pane | None = None  # the pane focused last (a prompt takes focus)

    def function_names(self) -> list[str]:
        snap = self.app.snapshot
        return [f.name for f in snap.functions] if snap else []

    def node_names(self) -> list[str]:
        snap = self.app.snapshot
        return [n.name for n in snap.nodes] if snap else []

    def focused_pane(self) -> Pane | None:
        widget = self.app.focused
        while widget is not None and not isinstance(widget, Pane):
            widget = widget.parent
        return widget if isinstance(widget, Pane) else None

    def focus_changed(self) -> None:
        pane = self.focused_pane()
        if pane is not None:
            self.last_pane = pane

    def last_table(self) -> TablePane:
        """The table ``/`` filters when no table has focus: the last one, else Placement."""
        pane = self.last_pane
        return pane if isinstance(pane, TablePane) else self.app.panes["placements"]

    def function(self) -> str | None:
        """The function under the cursor (Placement or QoS row, Fusion tree member), or None."""
        pane = self.focused_pane()
        names = set(self.function_names())
        if isinstance(pane, (PlacementPane, QoSPane)):
            key = pane.table.cursor_key()
            if key in names:
                return key
        if isinstance(pane, FusionPane):
            node = pane.group_tree.cursor_node
            if node is not None and str(node.label) in names:
                return str(node.label)
        return None

    def node(self) -> str | None:
        """The node under the cursor, for a backend that can target nodes (else None)."""
        if Capability.NODE_TARGET not in self.app.backend_class.capabilities:
            return None
        pane = self.focused_pane()
        if isinstance(pane, NodesPane):
            return pane.table.cursor_key()
        if isinstance(pane, PlacementPane):
            return pane.node_at(pane.table.cursor_column)
        return None
