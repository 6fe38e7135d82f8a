"""``D``: deploy a function folder or zip (optionally under another name)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Label

from ... import locations
from ...actions import Deploy
from .base import ActionDialog, Outcome

__all__ = ["DeployDialog"]


class DeployDialog(ActionDialog):
    verb = "deploy"
    heading = "Deploy a function folder or zip"
    run_label = "Deploy"

    def form(self) -> ComposeResult:
        yield Label("path (a folder with handler.py + function.yaml, or a zip)", classes="field-label")
        default = self.preset.get("path") or str(locations.functions_dir() / "hello")
        yield Input(default, id="path")
        yield Label("deploy under this name (optional)", classes="field-label")
        yield Input(self.preset.get("name", ""), id="name")

    def spec(self) -> Deploy:
        return Deploy(self.value("#path"), self.value("#name").strip() or None)

    async def perform(self) -> Outcome:
        fn = await self.spec().run(self.backend)
        return Outcome("deploy", f"deployed {fn.name} ({fn.handler})", fn)
