"""The one error tree of the backend layer.

Every backend maps the errors of what it talks to (httpx, Redis, Kubernetes,
the engine's JSON errors) into these classes at its boundary. Faces turn them
into a one-line message and an exit code (``exit_code``), or a notice in the
dashboard. Messages say what to do next.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BackendError",
    "NotFound",
    "FunctionNotFound",
    "NodeNotFound",
    "InvalidRequest",
    "Conflict",
    "CapacityExceeded",
    "Unsupported",
    "Unreachable",
    "AuthError",
    "InvocationFailed",
    "did_you_mean",
    "error_from_status",
]


class BackendError(Exception):
    """Base of every error a backend raises. ``exit_code`` is the CLI's."""

    exit_code = 1
    http_status = 500
    kind = "error"

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict:
        data = {"error": self.message, "kind": self.kind}
        if self.hint:
            data["hint"] = self.hint
        return data


class InvalidRequest(BackendError):
    """The request is malformed: bad JSON, bad name, bad step."""

    exit_code = 2
    http_status = 400
    kind = "invalid"


class NotFound(BackendError):
    exit_code = 1
    http_status = 404
    kind = "not_found"


class FunctionNotFound(NotFound):
    kind = "function_not_found"


class NodeNotFound(NotFound):
    kind = "node_not_found"


class Conflict(BackendError):
    http_status = 409
    kind = "conflict"


class CapacityExceeded(BackendError):
    http_status = 429
    kind = "capacity"


class Unsupported(BackendError):
    """The backend cannot do this (a missing Capability)."""

    exit_code = 3
    http_status = 501
    kind = "unsupported"


class Unreachable(BackendError):
    """The backend does not answer."""

    exit_code = 4
    http_status = 503
    kind = "unreachable"


class AuthError(BackendError):
    http_status = 401
    kind = "auth"


class InvocationFailed(BackendError):
    """The function ran and failed (raised, crashed, timed out, ran out of memory)."""

    http_status = 500
    kind = "invocation_failed"

    def __init__(self, message: str, *, hint: str | None = None, status: str = "error", invocation=None):
        super().__init__(message, hint=hint)
        self.status = status
        self.invocation = invocation


_BY_KIND = {
    cls.kind: cls
    for cls in (
        BackendError,
        InvalidRequest,
        NotFound,
        FunctionNotFound,
        NodeNotFound,
        Conflict,
        CapacityExceeded,
        Unsupported,
        Unreachable,
        AuthError,
        InvocationFailed,
    )
}
_BY_STATUS = {
    400: InvalidRequest,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    409: Conflict,
    422: InvalidRequest,
    429: CapacityExceeded,
    501: Unsupported,
    503: Unreachable,
}


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """A hint naming the closest known name, or None."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def error_from_status(status: int, body: dict | str | None) -> BackendError:
    """Build the right error from an HTTP status and a JSON error body."""
    if isinstance(body, dict):
        message = str(body.get("error") or body.get("message") or f"HTTP {status}")
        cls = _BY_KIND.get(str(body.get("kind")), None) or _BY_STATUS.get(status, BackendError)
        return cls(message, hint=body.get("hint"))
    text = (body or "").strip() or f"HTTP {status}"
    return _BY_STATUS.get(status, BackendError)(text.splitlines()[0][:300])
