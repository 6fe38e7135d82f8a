"""Declared backend options: building a backend from a config's keys, an unknown key refused.

A backend's options are the keywords its constructor declares (no ``**kwargs``: a
misspelt option in a hand-edited contexts file must not be dropped in silence). A config
carries two kinds of keys:

- the generic ones every context may carry whatever its backend (``GENERIC``: the context's
  fields ``url``, ``state_dir``, ``redis_url``, ``kube_context``, its secrets ``token`` and
  ``password``, and ``namespace``), passed where the constructor takes them and left out
  where it does not (``redis_url`` means nothing to the Nuclio backend);
- the backend's own (the context's ``options``), each of which must be a keyword the
  constructor declares; any other is ``InvalidRequest`` (exit 2) naming the backend, the
  key and the closest declared one.
"""

from __future__ import annotations

import inspect
from typing import Any

from .errors import InvalidRequest, did_you_mean

__all__ = ["GENERIC", "declared", "check", "build"]

#: keys a context carries for any backend (its fields, its secrets, the namespace)
GENERIC = frozenset({"url", "token", "password", "state_dir", "redis_url", "kube_context", "namespace"})


def declared(cls) -> list[str] | None:
    """The keywords ``cls``'s constructor takes, sorted; None for one that takes
    ``**kwargs`` (a third-party backend may: it is given every key and checks them itself;
    the shipped ones all declare theirs)."""
    params = inspect.signature(cls.__init__).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return sorted(p.name for p in params if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))


def check(cls, keys, *, where: str = "", generic: frozenset[str] = GENERIC) -> None:
    """Raise InvalidRequest for the first of ``keys`` that is neither generic nor declared
    by ``cls`` (``where`` says whence the key came, e.g. ``context 'nu'``)."""
    takes = declared(cls)
    if takes is None:
        return
    for key in keys:
        if key not in takes and key not in generic:
            own = [k for k in takes if k not in generic]
            raise InvalidRequest(
                f"{where + ': ' if where else ''}the {cls.name} backend takes no option {key!r}",
                hint=did_you_mean(key, own) or (f"it takes: {', '.join(own)}" if own else "it takes no options"),
            )


def build(cls, settings: dict[str, Any], *, where: str = ""):
    """``cls(**settings)``, the generic keys it does not take left out. Raises InvalidRequest
    (see ``check``) for a key it does not declare, before building anything."""
    check(cls, settings, where=where)
    takes = declared(cls)
    return cls(**{k: v for k, v in settings.items() if takes is None or k in takes})
