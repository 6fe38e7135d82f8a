"""A served API inside the embedded engine's daemon: the faces' half of hosting.

The engine (``backends/local/hosting.py``) loads ``open_api`` by name when ``faastui serve
NAME`` over a local context asks it to host the API, and hands it an ``InProcessBackend``.
From there the API is the same object the foreground process would run (same checks,
routes and answers), only nearer the workers. Its notes go back to the foreground process,
which prints them, so the person who ran ``faastui serve`` sees what they would see.
"""

from __future__ import annotations

from backends.errors import InvalidRequest, Unsupported

from . import api_class
from .base import ServedApi, ServeOptions, missing_capabilities
from .runner import check_bind

__all__ = ["open_api"]


async def open_api(backend, spec: dict, on_note) -> ServedApi:
    """Start API ``spec["api"]`` over ``backend``; returns it started (``.port`` bound).

    Raises: InvalidRequest for a bad spec or bind rule, Unsupported for an API that cannot
    be hosted (gRPC) or a backend that lacks what it needs, BackendError for a bind error.
    """
    name = spec.get("api")
    cls = api_class(str(name))
    if not cls.hostable:
        raise Unsupported(
            f"the {name} API is not hosted by the engine", hint="faastui serve runs it in its own process"
        )
    host, token = str(spec.get("host") or "127.0.0.1"), spec.get("token") or None
    check_bind(cls.name, host, token, bool(spec.get("allow_unauthenticated")))
    settings = spec.get("settings")
    settings = {} if settings is None else settings
    if not isinstance(settings, dict):
        raise InvalidRequest("'settings' must be a JSON object")
    missing = missing_capabilities(cls, backend)
    if missing:
        raise Unsupported(missing)
    api = cls(
        backend,
        ServeOptions(
            host=host,
            port=int(spec.get("port") or 0),
            token=token,
            context=str(spec.get("context") or "local"),
            settings=settings,
            allow_unauthenticated=bool(spec.get("allow_unauthenticated")),
        ),
    )
    api.on_note = on_note
    api.port = await api.start()
    return api
