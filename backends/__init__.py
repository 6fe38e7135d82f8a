"""The backend layer of faastui.

Provides the model (``backends.model``), the ``Backend`` contract
(``backends.base``), the error tree (``backends.errors``) and the registry of
backend kinds (``backends.registry``). Never imports faastui, textual or rich.
"""

__all__ = ["model", "base", "errors", "registry"]
