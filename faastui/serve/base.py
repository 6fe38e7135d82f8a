"""The contract of one served API (``ServedApi``) and the options every API shares.

An API gets a Backend and ``ServeOptions``, binds in ``start`` (returning the port it got),
serves until ``stop``. It must answer every client request itself, bad input included, and
keep serving; only a failure to bind or a missing backend capability ends ``faastui serve``.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from backends.base import Backend, Capability
from backends.errors import BackendError

__all__ = ["ServeOptions", "ServedApi", "is_loopback", "bind_error", "bearer_ok", "missing_capabilities"]


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None  # clients send ``Authorization: Bearer <token>``
    context: str = "local"  # the context's name (shown, and Ilúvatar's worker_name)
    #: what one API alone takes, from its own CLI options (e.g. the Fusionizer's --schedule)
    settings: Mapping[str, Any] = field(default_factory=dict)
    allow_unauthenticated: bool = False  # a non-loopback host without a token, on purpose

    @property
    def display_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host


class ServedApi(ABC):
    """One seed system's API over a Backend.

    Subclasses set ``name``, ``scheme`` (``http`` or ``grpc``), ``needs`` (the capabilities
    its calls use; checked before binding), ``event_loop`` (``uvloop`` when it may run
    on uvloop, else ``asyncio``) and ``hostable`` (it may run inside the embedded engine's
    daemon, on its loop: ``hosted.py``).
    """

    name: ClassVar[str]
    scheme: ClassVar[str] = "http"
    needs: ClassVar[Capability] = Capability.NONE
    event_loop: ClassVar[str] = "asyncio"
    hostable: ClassVar[bool] = False

    def __init__(self, backend: Backend, options: ServeOptions):
        self.backend = backend
        self.options = options
        #: where ``note`` goes: set by what runs the API (the runner: its stderr line by line)
        self.on_note: Callable[[str], None] | None = None

    def note(self, text: str) -> None:
        """Tell the person who started the server something it did on its own (a setup
        applied, an optimizer round): one line."""
        if self.on_note is not None:
            self.on_note(text)

    @abstractmethod
    async def start(self) -> int:
        """Bind ``options.host:options.port`` and serve. Returns: the bound port.

        Raises: BackendError (from ``bind_error``) if the address cannot be bound.
        """

    @abstractmethod
    async def stop(self) -> None:
        """Stop taking calls, let calls in flight finish (briefly), release everything."""


def missing_capabilities(cls, backend: Backend) -> str | None:
    """Why ``backend`` cannot serve API ``cls`` (the capabilities it lacks), or None."""
    missing = cls.needs & ~backend.capabilities
    if not missing:
        return None
    what = ", ".join(sorted(c.name.lower() for c in type(missing) if c in missing))
    return f"the {backend.name} backend cannot serve the {cls.name} API (it lacks: {what})"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_error(api: str, host: str, port: int, exc: BaseException) -> BackendError:
    """One clear error for an address that cannot be bound (``exc``: an OSError or grpc's
    RuntimeError)."""
    where = f"{host}:{port}"
    code = getattr(exc, "errno", None)
    if (
        code == errno.EADDRINUSE or "in use" in str(exc).lower() or (code is None and port != 0)
    ):  # grpc says only "Failed to bind"
        return BackendError(
            f"cannot serve the {api} API on {where}: the port is in use",
            hint="another server listens there; pick another with --port",
        )
    if code in (errno.EACCES, errno.EPERM):
        return BackendError(
            f"cannot serve the {api} API on {where}: permission denied",
            hint="ports below 1024 need privileges; pick another with --port",
        )
    if code in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or code is not None and code < 0:
        return BackendError(
            f"cannot serve the {api} API on {where}: no such address here",
            hint="--host must be an address of this machine, e.g. 127.0.0.1",
        )
    return BackendError(f"cannot serve the {api} API on {where}: {exc}")


def bearer_ok(given: str | None, token: str) -> bool:
    """Whether an ``Authorization`` value carries ``token`` (constant-time compare)."""
    return hmac.compare_digest((given or "").encode(), f"Bearer {token}".encode())
