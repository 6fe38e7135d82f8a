"""faastui: k9s for FaaS.

Provides the faces: the typer CLI (``faastui.cli``), the Textual dashboard
(``faastui.tui``) and watch mode, over the backend layer in ``backends``.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
