"""The Fusion groups pane: a tree of group -> member functions -> node, with the calls the
group kept local against those that went remote."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree

from backends.model import Snapshot

from .base import Pane

__all__ = ["FusionPane"]


class FusionPane(Pane):
    """A tree: fusion group -> member functions -> node, with local vs remote calls."""

    part, title = "fusion_groups", "Fusion groups"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.group_tree: Tree = Tree(Text("fusion groups"), id="fusion-tree")  # (not markup)
        self.group_tree.show_root = False
        self.group_tree.auto_expand = False  # Enter opens the group or member (app.open_row)
        self.groups: list = []

    def compose(self):
        yield self.group_tree

    def count_text(self) -> str:
        return str(len(self.groups))

    def apply(self, snap: Snapshot) -> None:
        groups = list(snap.fusion_groups)
        if groups == self.groups:
            return
        same_shape = [(g.name, tuple(g.functions)) for g in groups] == [
            (g.name, tuple(g.functions)) for g in self.groups
        ]
        self.groups = groups
        if same_shape:  # counters or node moved: relabel in place
            for node, g in zip(self.group_tree.root.children, groups):
                node.set_label(self._label(g))
                for child in node.children:
                    if child.children:
                        child.children[0].set_label(self._node_label(g))
            return
        self.group_tree.clear()
        for g in groups:
            gnode = self.group_tree.root.add(self._label(g), data=g.name, expand=True)
            for fn in g.functions:
                fnode = gnode.add(Text(fn), data=g.name, expand=True)
                fnode.add_leaf(self._node_label(g), data=g.name)

    def _label(self, g) -> Text:
        p = self.palette
        sp = "\u00a0"  # the tree drops plain spaces between styled segments
        total = g.calls_local + g.calls_remote
        text = Text(g.name, style="bold")
        text.append(f"{sp}·{sp}")
        text.append(g.state, style=p.warm if g.state in ("warm", "busy") else p.dim)
        text.append(f"{sp}·{sp}")
        text.append(f"local{sp}{g.calls_local}", style=p.ok)
        text.append(f"{sp}/{sp}")
        text.append(f"remote{sp}{g.calls_remote}", style=p.warn if g.calls_remote else p.dim)
        if total:
            text.append(f"{sp}({g.calls_local / total:.0%}{sp}local)")
        return text

    def _node_label(self, g) -> Text:
        return Text(f"on {g.node or '-'}", style=self.palette.dim)

    def selected_group(self) -> str | None:
        node = self.group_tree.cursor_node
        if node is not None and node.data:
            return node.data
        return self.groups[0].name if self.groups else None

    def repaint(self) -> None:
        self.groups = []

    def export_rows(self):
        rows = [
            [g.name, fn, g.node, g.state, str(g.calls_local), str(g.calls_remote)]
            for g in self.groups
            for fn in g.functions
        ]
        return ["GROUP", "FUNCTION", "NODE", "STATE", "LOCAL", "REMOTE"], rows
