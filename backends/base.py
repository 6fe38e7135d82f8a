"""The Backend contract: what every backend (embedded engine, OpenFaaS, ...) offers.

Faces (CLI, dashboard, watch) call only these methods and render the model
objects they return. Every method is async. Optional abilities are declared
as ``Capability`` flags; calling one a backend lacks raises ``Unsupported``
(exit code 3 in the CLI, a greyed key in the dashboard).

A backend's capabilities are its instance's: ``capabilities`` is a class attribute (what the
class offers however it is built, read where there is no instance) that a constructor may
widen for this instance (OpenFaaS with a cluster gains PREWARM, NODE_TARGET and EVENTS).
Faces read ``backend.capabilities`` of the backend they hold, never probe with ``hasattr``.

Namespaces are part of a backend's construction, not of each call: a backend with
``Capability.NAMESPACES`` takes ``namespace=`` (a str; None: its own default) as a
constructor keyword and works in that namespace for every method; ``namespaces()``
lists them. A face that wants another namespace builds another backend
(``Context.build_backend(namespace=...)``), and refuses ``-n`` with exit 3 for a
backend without the flag (the embedded engine has none).
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .errors import InvalidRequest, Unsupported
from .model import DispatchResult, DispatchStep, Function, FusionGroup, Invocation, LogLine, Node, Secret, Snapshot

__all__ = ["Capability", "Backend", "ACTION_CAPABILITY", "HttpRequest"]


class Capability(enum.Flag):
    NONE = 0
    INVOKE = enum.auto()
    INVOKE_ASYNC = enum.auto()
    PREWARM = enum.auto()
    DISPATCH = enum.auto()
    FUSE = enum.auto()
    SCALE = enum.auto()
    DEPLOY = enum.auto()
    DEPLOY_SOURCE = enum.auto()
    QUEUES = enum.auto()
    LOGS = enum.auto()
    NODE_TARGET = enum.auto()  # can run a call or a prewarm on a node the caller names
    HTTP_REQUEST = enum.auto()  # an invocation carries method, path, query and headers
    NAMESPACES = enum.auto()  # takes ``namespace=`` at construction and works in it (module doc)
    SECRETS = enum.auto()  # keeps named secrets functions read (``secrets``, ``create_secret``)
    DESCRIBE = enum.auto()  # reads one function fresh (``describe``)
    HISTORY = enum.auto()  # keeps the latest finished calls (``invocations``)
    EVENTS = enum.auto()  # keeps actions and happenings (``events``)
    CALL_GRAPH = enum.auto()  # records calls between functions (``call_graph``)


#: which capability each action of the action table needs (faces use this)
ACTION_CAPABILITY = {
    "invoke": Capability.INVOKE,
    "invoke_async": Capability.INVOKE_ASYNC,
    "prewarm": Capability.PREWARM,
    "dispatch": Capability.DISPATCH,
    "fuse": Capability.FUSE,
    "unfuse": Capability.FUSE,
    "optimize": Capability.FUSE,
    "scale": Capability.SCALE,
    "deploy": Capability.DEPLOY,
    "remove": Capability.DEPLOY,
    "bench": Capability.INVOKE,
}


class HttpRequest:
    """The HTTP request a function sees, beyond its body: method, path below the
    function (``/sub/path``), query text and headers. ``None`` parts are the defaults
    (POST, ``/``, none). Built by ``HttpRequest.of``, which checks every part."""

    __slots__ = ("method", "path", "query", "headers")
    METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def __init__(self, method: str = "POST", path: str = "/", query: str = "", headers: dict[str, str] | None = None):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers or {}

    @classmethod
    def of(
        cls,
        method: str | None = None,
        path: str | None = None,
        query: Any = None,
        headers: dict[str, str] | None = None,
    ) -> HttpRequest | None:
        """None when every part is a default; else the checked request.
        ``query`` is a mapping, a list of (name, value) pairs, or query text."""
        from urllib.parse import urlencode

        if method is None and not path and not query and not headers:
            return None
        verb = (method or "POST").upper()
        if verb not in cls.METHODS:
            raise InvalidRequest(f"unsupported method {method!r}", hint=f"one of {', '.join(cls.METHODS)}")
        path = "/" + (path or "").lstrip("/")
        if isinstance(query, dict):
            query = urlencode(list(query.items()))
        elif isinstance(query, (list, tuple)):
            query = urlencode(list(query))
        out = {}
        for k, v in (headers or {}).items():
            k, v = str(k).strip(), str(v).strip()
            if not k or any(c in k for c in " :\r\n") or any(c in v for c in "\r\n"):
                raise InvalidRequest(f"bad header {k!r}", hint="a header is NAME: VALUE on one line")
            out[k] = v
        return cls(verb, path, str(query or "").lstrip("?"), out)


class Backend(ABC):
    """A place where functions run.

    Subclasses set ``name`` and ``capabilities`` and implement what those
    capabilities promise; a constructor may set ``self.capabilities`` wider than its class's
    (module doc). Constructors take only the keywords they declare (``backends.options``
    builds a backend from a config and refuses the others). All errors are
    ``backends.errors.BackendError``.
    """

    name: str = "backend"
    capabilities: Capability = Capability.NONE

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability, action: str) -> None:
        """Raise Unsupported unless this backend has ``capability``."""
        if capability not in self.capabilities:
            raise Unsupported(f"the {self.name} backend cannot {action}")

    async def aclose(self) -> None:  # noqa: B027 - optional: most backends hold nothing
        """Release connections. Safe to call twice."""

    def focus(self, functions: Sequence[str]) -> None:  # noqa: B027 - a hint; most ignore it
        """A hint from a face: these functions are on screen now. A backend that samples
        what it shows (the busy state of a cluster's pods) looks at theirs first. No I/O."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    # ---- reads -------------------------------------------------------------
    @abstractmethod
    async def snapshot(self) -> Snapshot:
        """Everything one dashboard refresh shows, in one call.

        Returns: a Snapshot; parts that failed are named in ``Snapshot.errors``.
        Raises: Unreachable if the backend does not answer at all.
        """

    async def nodes(self) -> list[Node]:
        return (await self.snapshot()).nodes

    async def functions(self) -> list[Function]:
        return (await self.snapshot()).functions

    async def describe(self, fn: str) -> Function:
        """Returns: the function (``Capability.DESCRIBE``). Raises: FunctionNotFound."""
        raise Unsupported(f"the {self.name} backend cannot describe functions")

    async def info(self) -> dict:
        """What the backend says about itself (the engine's ``engine.json`` fields, an
        OpenFaaS gateway's ``/system/info``). Raises: Unsupported (it says nothing), Unreachable.
        """
        raise Unsupported(f"the {self.name} backend reports no info")

    async def version(self) -> str:
        """The backend's own version, as it reports it (e.g. ``faas-netes 0.18.1``).

        Raises: Unsupported if the backend does not say; Unreachable.
        """
        raise Unsupported(f"the {self.name} backend does not report its version")

    async def namespaces(self) -> list[str]:
        """The namespaces functions can live in (backends with ``Capability.NAMESPACES``
        work in the one given at construction).

        Raises: Unsupported for a backend without namespaces; Unreachable.
        """
        raise Unsupported(f"the {self.name} backend has no namespaces")

    # ---- logs: three methods, each with a default built on the one before ----------
    async def logs(self, fn: str, tail: int = 100) -> list[str]:
        """The last ``tail`` lines ``fn`` printed, as text (oldest first). A line may start
        with ``[INSTANCE] `` where the function runs as several instances.

        Raises: FunctionNotFound, Unsupported (no ``Capability.LOGS``).
        """
        raise Unsupported(f"the {self.name} backend cannot show logs")

    async def log_lines(
        self, fn: str, tail: int = 100, *, since: float | None = None, instance: str | None = None
    ) -> list[LogLine]:
        """The last ``tail`` lines of ``fn`` as ``LogLine`` (text, time, instance), oldest first.

        Args: tail: at most this many (0: none); since: only lines printed at or after this
        time (epoch seconds); instance: only lines of this instance (a container id, a
        replica or pod name; ``LogLine.instance`` of the lines names them).
        Returns: the lines. The default reads ``logs()``: no times, instances from the
        ``[INSTANCE]`` prefix, filtered here (so fewer than ``tail`` may come back).
        Raises: FunctionNotFound; Unsupported for ``since`` where lines have no times.
        """
        from .logs import from_text, only_instance

        if since is not None:
            raise Unsupported(
                f"the {self.name} backend's logs carry no times, so they cannot be read since a time",
                hint="leave out --since",
            )
        return only_instance(from_text(fn, await self.logs(fn, tail) if tail else []), instance)

    async def follow_logs(
        self,
        fn: str,
        tail: int = 10,
        *,
        since: float | None = None,
        instance: str | None = None,
        interval: float | None = None,
    ) -> AsyncIterator[LogLine]:
        """Follow ``fn``'s log: the last ``tail`` lines, then each new line as it comes,
        until the consumer stops iterating (the iterator never ends by itself).

        An async iterator, so a face reads a native stream and a polled log the same
        way: ``async for line in backend.follow_logs(fn): ...``. The default polls
        ``log_lines`` every ``interval`` seconds (``backends.logs.poll_follow``); a backend
        with a stream of its own overrides this.
        Raises: as ``log_lines`` (from the first iteration on).
        """
        from .logs import FOLLOW_INTERVAL_S, poll_follow

        async def fetch(tail: int, since: float | None) -> list[LogLine]:
            return await self.log_lines(fn, tail, since=since, instance=instance)

        async for line in poll_follow(fetch, tail, since, interval or FOLLOW_INTERVAL_S):
            yield line

    # ---- secrets: names and values a function reads, never printed ------------------
    async def secrets(self) -> list[Secret]:
        """The secrets of this backend (its namespace), by name, sorted; never their values.

        Raises: Unsupported (no ``Capability.SECRETS``), Unreachable.
        """
        raise self._no_secrets()

    async def create_secret(self, name: str, value: bytes, *, update: bool = False) -> Secret:
        """Store ``value`` under ``name`` (a DNS-1123 subdomain: ``backends.secrets.check_name``).

        Args: update: replace the value of an existing secret (faas-cli ``secret update``)
        instead of creating a new one.
        Raises: InvalidRequest (a bad name, an empty value), Conflict (it exists and not
        ``update``), NotFound (``update`` of one that does not exist), Unsupported.
        """
        raise self._no_secrets()

    async def remove_secret(self, name: str) -> None:
        """Raises: NotFound, Unsupported."""
        raise self._no_secrets()

    def _no_secrets(self) -> Unsupported:
        return Unsupported(
            f"the {self.name} backend has no secrets",
            hint="the embedded engine, OpenFaaS, Knative and Nuclio with a cluster (-O kubeconfig=...) keep secrets",
        )

    async def invocations(self, limit: int = 50) -> list[Invocation]:
        """The latest finished calls, newest first, results left out (``Capability.HISTORY``)."""
        raise Unsupported(f"the {self.name} backend does not keep a call history")

    async def events(self, since: float = 0.0) -> list[dict]:
        """Actions and notable happenings after ``since`` (epoch seconds), oldest first
        (``Capability.EVENTS``).

        Each is a dict with at least ``t`` (time) and ``kind`` (deploy, remove,
        prewarm, scale, fuse, unfuse, start, stop, error).
        """
        raise Unsupported(f"the {self.name} backend does not keep events")

    # ---- actions -----------------------------------------------------------
    async def invoke(
        self, fn: str, payload: Any, node: str | None = None, *, request: HttpRequest | None = None
    ) -> Invocation:
        """Call ``fn`` with ``payload`` (JSON value, str or bytes) and wait.

        Args: request: the method, path, query and headers the function sees (backends
        with ``Capability.HTTP_REQUEST``; a ``Content-Type`` header there replaces the
        payload's own).
        Returns: the Invocation (status ok or error; the function's own
        failure is an Invocation with status != "ok", not an exception).
        Raises: FunctionNotFound, NodeNotFound, InvalidRequest, Unreachable,
        Unsupported (a ``request`` this backend cannot carry).
        """
        raise Unsupported(f"the {self.name} backend cannot invoke")

    async def invoke_async(self, fn: str, payload: Any, *, request: HttpRequest | None = None) -> str:
        """Start a call. Returns: its call id. Raises: as ``invoke``."""
        raise Unsupported(f"the {self.name} backend cannot invoke asynchronously")

    async def result(self, call_id: str, wait: float = 0.0) -> Invocation:
        """The result of an async call; status "pending" while it runs.

        Args: wait: seconds to wait for a pending call to finish.
        Raises: NotFound if the id is unknown or its result expired.
        """
        raise Unsupported(f"the {self.name} backend cannot fetch async results")

    async def prewarm(self, fn: str, node: str, count: int = 1) -> list[Invocation]:
        """Start ``count`` containers of ``fn`` on ``node`` ahead of calls.

        Returns: one Invocation-like record per container started (cold_start_ms).
        Raises: FunctionNotFound, NodeNotFound, CapacityExceeded.
        """
        raise Unsupported(f"the {self.name} backend cannot prewarm")

    async def dispatch(self, input: Any, steps: list[DispatchStep], mode: str = "chain") -> DispatchResult:
        """Run ``steps`` as a chain (each output feeds the next) or a fan-out
        (all steps get ``input`` in parallel).

        Raises: InvalidRequest for an empty or malformed plan, NotFound.
        """
        raise Unsupported(f"the {self.name} backend cannot dispatch")

    async def fuse(self, functions: list[str], name: str | None = None) -> FusionGroup:
        """Host ``functions`` in one deployment; calls between them are local."""
        raise Unsupported(f"the {self.name} backend cannot fuse functions")

    async def unfuse(self, group: str) -> list[str]:
        """Split a fusion group. Returns: the functions it held."""
        raise Unsupported(f"the {self.name} backend cannot unfuse")

    async def fusion_groups(self) -> list[FusionGroup]:
        return (await self.snapshot()).fusion_groups

    async def call_graph(self) -> list[tuple[str, str, int]]:
        """The synchronous calls functions made to each other (what fusion optimizes;
        ``Capability.CALL_GRAPH``).

        Returns: ``(caller, callee, calls)`` per edge, calls counted since the
        backend started; calls inside a fusion group are local and not counted.
        Raises: Unsupported if the backend does not record calls between functions.
        """
        raise Unsupported(f"the {self.name} backend does not record a call graph")

    async def scale(self, fn: str, replicas: int) -> Function:
        """Keep at least ``replicas`` containers of ``fn``. Returns: the function."""
        raise Unsupported(f"the {self.name} backend cannot scale")

    async def deploy(self, package: str | bytes, *, name: str | None = None) -> Function:
        """Deploy a function folder path or a zip archive (bytes).

        Args: package: a folder, a zip (path or bytes) or, where the backend reads them,
        an OpenFaaS stack file; name: the function's name (for a stack file: which of its
        functions). Raises: InvalidRequest (a bad package, said in one line)."""
        raise Unsupported(f"the {self.name} backend cannot deploy")

    async def deploy_source(
        self, source: str, *, name: str | None = None, requirements: list[str] | None = None
    ) -> Function:
        """Deploy handler source text (the agent style)."""
        raise Unsupported(f"the {self.name} backend cannot deploy from source")

    async def remove(self, fn: str) -> None:
        raise Unsupported(f"the {self.name} backend cannot remove functions")
