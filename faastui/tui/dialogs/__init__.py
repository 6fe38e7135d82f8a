"""Provides the dashboard's dialogs: one ModalScreen per action verb, plus the help screen.

Each action dialog (``base.ActionDialog``) is a small form that becomes a
``faastui.actions`` spec; it shows the spec's `faastui ...` command line while the form
changes and runs the spec on the backend on Run. One module per dialog: ``invoke``
(``i`` and ``I``), ``prewarm``, ``dispatch``, ``fuse``, ``unfuse``, ``optimize`` (``F``),
``scale``, ``deploy``, ``remove`` (``x``, a confirmation), ``bench`` (``b``), ``help``
(``?``), ``context_picker`` (``:ctx`` alone) and ``namespace_picker`` (``:ns`` alone).
Importing this package pulls in TextArea, Select and friends (~40 ms), so the app
imports it when the first dialog opens.
"""

from __future__ import annotations

from .base import ALL, ANY, ActionDialog, Outcome, parse_payload
from .bench import BenchDialog
from .context_picker import ContextPicker
from .deploy import DeployDialog
from .dispatch import DispatchDialog
from .fuse import FuseDialog
from .help import HelpScreen
from .invoke import InvokeDialog
from .namespace_picker import NamespacePicker
from .optimize import OptimizeDialog
from .prewarm import PrewarmDialog
from .remove import ConfirmRemove
from .scale import ScaleDialog
from .unfuse import UnfuseDialog

__all__ = [
    "ActionDialog",
    "InvokeDialog",
    "PrewarmDialog",
    "DispatchDialog",
    "FuseDialog",
    "UnfuseDialog",
    "OptimizeDialog",
    "ScaleDialog",
    "DeployDialog",
    "ConfirmRemove",
    "HelpScreen",
    "BenchDialog",
    "ContextPicker",
    "NamespacePicker",
    "Outcome",
    "parse_payload",
    "ANY",
    "ALL",
]
