"""``:ns`` alone: pick a namespace of the backend (the one it works in marked); Enter
switches the dashboard's context to it, escape keeps the one it is on."""

from __future__ import annotations

from .context_picker import ContextPicker

__all__ = ["NamespacePicker"]


class NamespacePicker(ContextPicker):
    """``names`` are the backend's namespaces; dismisses with the chosen one."""

    heading = "Switch to a namespace (Enter), or escape"

    def __init__(self, names: list[str], current: str):
        super().__init__([(n, "", "") for n in names], current)
