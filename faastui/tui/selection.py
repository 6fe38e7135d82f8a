"""What the cursor is on: the focused pane, the function and node under the cursor, and the
last table the user was in (where ``/``, ``:`` and ctrl+s act when a prompt has focus).

Dialogs open preset from this (``launchers.py``): ``i`` on a Placement cell invokes that
function on that node.
"""

from __future__ import annotations

from backends.base import Capability

from .panes import EventsPane, FusionPane, NodesPane, Pane, PlacementPane, QoSPane, QueuesPane, TablePane

__all__ = ["Selection", "Row", "LONG_RUNNING_LABEL"]

#: functions with this label set do not answer a call soon (the workflow's loops)
LONG_RUNNING_LABEL = "faastui.io/long-running"


class Row:
    """What Enter opens: a ``kind`` (function, node, queue, fusion_group, qos, event), its
    ``name`` and, where the snapshot has it, the model object (or an event's fields)."""

    __slots__ = ("kind", "name", "obj")

    def __init__(self, kind: str, name: str, obj=None):
        self.kind, self.name, self.obj = kind, name, obj

    def __repr__(self) -> str:
        return f"Row({self.kind!r}, {self.name!r})"


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
        if Capability.NODE_TARGET not in self.app.capabilities:
            return None
        pane = self.focused_pane()
        if isinstance(pane, NodesPane):
            return pane.table.cursor_key()
        if isinstance(pane, PlacementPane):
            return pane.node_at(pane.table.cursor_column)
        return None

    def default_function(self) -> str | None:
        """The function a dialog starts on when the cursor is on none: one that answers — not
        a long-running one (the workflow's collector), preferring the one that answered
        most calls lately (QoS), else the first."""
        snap = self.app.snapshot
        if snap is None:
            return None
        answering = [
            f.name
            for f in snap.functions
            if str(f.labels.get(LONG_RUNNING_LABEL, "")).lower() not in ("true", "1", "yes")
        ]
        if not answering:
            return snap.functions[0].name if snap.functions else None
        ok = {q.subject: q.count - q.errors for q in snap.qos}
        best = max(answering, key=lambda n: (ok.get(n, 0), -answering.index(n)))
        return best

    def row(self) -> Row | None:
        """The row under the cursor of the focused pane (else the last one), or None."""
        pane = self.focused_pane() or self.last_pane
        snap = self.app.snapshot
        if pane is None or snap is None:
            return None
        if isinstance(pane, FusionPane):
            node = pane.group_tree.cursor_node
            if node is None or not node.data:
                return None
            label = str(node.label)
            if label in set(self.function_names()):
                return Row("function", label, _by_name(snap.functions, label))
            group = _by_name(snap.fusion_groups, node.data)
            return Row("fusion_group", node.data, group)
        if not isinstance(pane, TablePane):
            return None
        key = pane.table.cursor_key()
        if key is None:
            return None
        if isinstance(pane, NodesPane):
            return Row("node", key, _by_name(snap.nodes, key))
        if isinstance(pane, PlacementPane):
            return Row("function", key, _by_name(snap.functions, key))
        if isinstance(pane, QueuesPane):
            return Row("queue", key, _by_name(snap.queues, key))
        if isinstance(pane, QoSPane):
            fn = _by_name(snap.functions, key)
            if fn is not None:
                return Row("function", key, fn)
            return Row("qos", key, next((q for q in snap.qos if q.subject == key), None))
        if isinstance(pane, EventsPane):
            fields = pane.details.get(key)
            return Row("event", key, fields) if fields is not None else None
        return None


def _by_name(items, name: str):
    return next((o for o in items if o.name == name), None)
