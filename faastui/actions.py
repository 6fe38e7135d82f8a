"""The actions of DESIGN.md's action table as data: one spec per verb, for every face.

A spec is a frozen dataclass holding one action's arguments, e.g.
``Prewarm("hello", node="node-1", count=2)``. It knows three things:

- ``run(backend)``: perform the action through the Backend methods (the same calls
  whichever face asked for it) and return what the backend answered;
- ``to_argv()``: the ``faastui ...`` command line that does the same from a shell
  (the dashboard's dialogs show it; ``shlex.join`` makes it one line);
- ``from_cli(command, params)`` (module level): the spec back from the parameters the
  typer command parsed (tests/test_actions.py parses every ``to_argv()`` with the real
  CLI and checks it comes back as the same spec).

``validate()`` raises ``InvalidRequest`` for missing or conflicting arguments; a
malformed value (a replica count like ``x2``) raises ``ValueError`` from ``run``, as
the parsers it calls do. A spec whose required argument is still empty (a half-filled
dialog) renders it as the placeholder the CLI help uses (``FN``, ``GROUP``).

``verb`` is the DESIGN.md verb, which is also the dashboard's binding id and the key
of ``backends.base.ACTION_CAPABILITY``; ``command`` is the CLI command that runs it.
This module imports neither typer nor textual: both faces build on it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from backends.errors import InvalidRequest
from backends.model import DispatchStep

from .call_parts import HttpParts, http_from_cli, parse_header, parse_query

__all__ = ["Action", "Invoke", "InvokeAsync", "Prewarm", "Dispatch", "Fuse", "Unfuse", "Optimize",
           "Scale", "Deploy", "Remove", "Bench", "SPECS", "from_cli", "command_line", "parse_header",
           "parse_query"]

PROG = "faastui"


def _number(value: float) -> str:
    """A float as the shortest text that reads back as the same number (0.6, 1, 0.125)."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


@dataclass(frozen=True)
class Action:
    """Base of the specs. Subclasses set ``verb`` and ``command`` and implement the rest."""

    verb: ClassVar[str] = ""
    command: ClassVar[str] = ""

    def validate(self) -> None:
        """Raises: InvalidRequest when an argument is missing or two conflict."""

    async def run(self, backend) -> Any:
        raise NotImplementedError

    def args(self) -> list[str]:
        """The command's arguments and options (after ``faastui COMMAND``)."""
        raise NotImplementedError

    def to_argv(self) -> list[str]:
        """``["faastui", COMMAND, ...]``: the CLI invocation doing what ``run`` does."""
        return [PROG, self.command, *self.args()]


def command_line(spec: Action) -> str:
    """The spec's command line as one shell-quoted string."""
    return shlex.join(spec.to_argv())


def _need_function(name: str) -> None:
    if not name:
        raise InvalidRequest("pick a function")


def _payload_args(payload: Any) -> list[str]:
    """``-d`` for a payload: text as is with ``--raw``, anything else as JSON."""
    if payload is None:
        return []
    if isinstance(payload, str):
        if payload == "-" or payload.startswith("@"):  # the CLI would read stdin or a file
            return ["-d", json.dumps(payload, ensure_ascii=False)]
        return ["--raw", "-d", payload]
    if isinstance(payload, (bytes, bytearray)):
        raise ValueError("a bytes payload has no -d form; pass it with -d @FILE or on stdin")
    return ["-d", json.dumps(payload, ensure_ascii=False)]


def _payload_from_cli(data: str | None, raw: bool) -> Any:
    if data is None:
        return None
    if data == "-" or data.startswith("@"):
        raise ValueError(f"-d {data} is read by the CLI itself (stdin or a file)")
    return data if raw else json.loads(data)


@dataclass(frozen=True)
class Invoke(Action, HttpParts):
    """``invoke(fn, payload, node=None)``: one call, waiting for its result (an Invocation);
    with ``method``/``path``/``query``/``headers``, the request the function sees."""

    verb: ClassVar[str] = "invoke"
    command: ClassVar[str] = "invoke"
    function: str
    payload: Any = None
    node: str | None = None
    method: str | None = None
    path: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def validate(self) -> None:
        _need_function(self.function)
        self.request()

    async def run(self, backend):
        self.validate()
        return await self._send(backend, lambda **extra: backend.invoke(
            self.function, self.payload, node=self.node, **extra))

    def args(self) -> list[str]:
        out = [self.function or "FN", *_payload_args(self.payload)]
        return out + (["--node", self.node] if self.node else []) + self.http_args()


@dataclass(frozen=True)
class InvokeAsync(Action, HttpParts):
    """``invoke_async(fn, payload)``: start a call; returns its call id (``result(id)`` later)."""

    verb: ClassVar[str] = "invoke_async"
    command: ClassVar[str] = "invoke"
    function: str
    payload: Any = None
    method: str | None = None
    path: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def validate(self) -> None:
        _need_function(self.function)
        self.request()

    async def run(self, backend) -> str:
        self.validate()
        return await self._send(backend, lambda **extra: backend.invoke_async(
            self.function, self.payload, **extra))

    def args(self) -> list[str]:
        return [self.function or "FN", *_payload_args(self.payload), "--async", *self.http_args()]


@dataclass(frozen=True)
class Prewarm(Action):
    """``prewarm(fn, node, count)`` on one node, on the node the backend picks
    (``node=None``), or on every node the backend lists (``all_nodes``)."""

    verb: ClassVar[str] = "prewarm"
    command: ClassVar[str] = "prewarm"
    function: str
    node: str | None = None
    count: int = 1
    all_nodes: bool = False

    def validate(self) -> None:
        _need_function(self.function)
        if self.node and self.all_nodes:
            raise InvalidRequest("use either --node or --all-nodes, not both")
        if self.count < 1:
            raise InvalidRequest("count must be at least 1")

    async def targets(self, backend) -> list[str | None]:
        """The nodes to prewarm on (None: wherever the backend places it)."""
        if self.all_nodes:
            return [n.name for n in await backend.nodes()]
        return [self.node or None]

    async def run(self, backend) -> list:
        """Returns: the started containers (Invocations), over all targets."""
        import asyncio  # deferred: the CLI's --help need not pay for it

        self.validate()
        targets = await self.targets(backend)
        batches = await asyncio.gather(*(backend.prewarm(self.function, t, self.count)
                                         for t in targets))
        return [inv for batch in batches for inv in batch]

    def args(self) -> list[str]:
        where = ["--all-nodes"] if self.all_nodes else ["--node", self.node] if self.node else []
        return [self.function or "FN", *where, "--count", str(self.count)]


@dataclass(frozen=True)
class Dispatch(Action):
    """``dispatch(input, steps, mode)``: a chain (each output feeds the next step) or a fan-out."""

    verb: ClassVar[str] = "dispatch"
    command: ClassVar[str] = "dispatch"
    input: str = ""
    steps: tuple[DispatchStep, ...] = ()
    mode: str = "chain"

    def validate(self) -> None:
        if not self.steps:
            raise InvalidRequest("add at least one step")
        if self.mode not in ("chain", "fanout"):
            raise InvalidRequest(f"unknown dispatch mode {self.mode!r}: chain or fanout")

    async def run(self, backend):
        self.validate()
        return await backend.dispatch(self.input, list(self.steps), mode=self.mode)

    def args(self) -> list[str]:
        out = ["-i", self.input] if self.input else []
        for step in self.steps:
            out += ["-s", f"{step.node}:{step.function}"]
        return out + (["--fanout"] if self.mode == "fanout" else [])


@dataclass(frozen=True)
class Fuse(Action):
    """``fuse(functions, name)``: host functions in one worker (calls between them go local)."""

    verb: ClassVar[str] = "fuse"
    command: ClassVar[str] = "fuse"
    functions: tuple[str, ...] = ()
    name: str | None = None

    def validate(self) -> None:
        if len(self.functions) < 2:
            raise InvalidRequest("fuse needs at least two functions")

    async def run(self, backend):
        self.validate()
        return await backend.fuse(list(self.functions), self.name)

    def args(self) -> list[str]:
        return [*self.functions, *(["--name", self.name] if self.name else [])]


@dataclass(frozen=True)
class Unfuse(Action):
    """``unfuse(group)``: split a fusion group; returns its functions."""

    verb: ClassVar[str] = "unfuse"
    command: ClassVar[str] = "unfuse"
    group: str

    def validate(self) -> None:
        if not self.group:
            raise InvalidRequest("there is no fusion group to split")

    async def run(self, backend) -> list[str]:
        self.validate()
        return await backend.unfuse(self.group)

    def args(self) -> list[str]:
        return [self.group or "GROUP"]


@dataclass(frozen=True)
class Optimize(Action):
    """The fusion optimizer (``backends.fusionizer.optimize``): a Plan, carried out with
    ``apply``. The CLI's ``--every``/``--rounds`` loop is not a spec (a loop, not one call)."""

    verb: ClassVar[str] = "optimize"
    command: ClassVar[str] = "optimize-fusion"
    apply: bool = False
    min_calls: int = 10
    min_share: float = 0.6
    max_size: int = 4
    max_memory_mb: float | None = None
    unfuse_idle: bool = False

    def knobs(self) -> dict[str, Any]:
        """The planner's thresholds (only those the planner would not default)."""
        knobs: dict[str, Any] = {"min_calls": self.min_calls, "min_share": self.min_share,
                                 "max_size": self.max_size}
        if self.max_memory_mb is not None:
            knobs["max_memory_mb"] = self.max_memory_mb
        if self.unfuse_idle:
            knobs["unfuse_idle"] = True
        return knobs

    async def run(self, backend):
        from backends.fusionizer import optimize  # deferred: only this action plans

        return await optimize(backend, apply=self.apply, **self.knobs())

    def args(self) -> list[str]:
        out = ["--apply"] if self.apply else []
        out += ["--min-calls", str(self.min_calls), "--min-share", _number(self.min_share),
                "--max-size", str(self.max_size)]
        if self.max_memory_mb is not None:
            out += ["--max-memory", _number(self.max_memory_mb)]
        return out + (["--unfuse-idle"] if self.unfuse_idle else [])


@dataclass(frozen=True)
class Scale(Action):
    """``scale(fn, replicas)`` with ``N``, ``+K`` or ``-K`` (relative to ``describe(fn)``)."""

    verb: ClassVar[str] = "scale"
    command: ClassVar[str] = "scale"
    function: str
    replicas: str = "1"

    def validate(self) -> None:
        _need_function(self.function)

    async def run(self, backend):
        """Returns: the Function as the backend reports it. Raises: ValueError for a
        replica count that is not N, +K or -K; InvalidRequest for one that would go below 0."""
        return (await self.change(backend)).function

    async def change(self, backend):
        """As ``run``, with what changed (``scaling.ScaleChange``: absolute or relative)."""
        from .scaling import change

        self.validate()
        return await change(backend, self.function, self.replicas)

    def args(self) -> list[str]:
        return [self.function or "FN", self.replicas]


@dataclass(frozen=True)
class Deploy(Action):
    """``deploy(path, name)``: a function folder, a zip, or (with ``name``) one function of a
    stack file the backend reads."""

    verb: ClassVar[str] = "deploy"
    command: ClassVar[str] = "deploy"
    path: str
    name: str | None = None

    def validate(self) -> None:
        if not Path(self.path).expanduser().exists():
            raise InvalidRequest(f"{Path(self.path).expanduser()} does not exist")

    async def run(self, backend):
        self.validate()
        return await backend.deploy(str(Path(self.path).expanduser()), name=self.name)

    def args(self) -> list[str]:
        return [self.path, *(["--name", self.name] if self.name else [])]


@dataclass(frozen=True)
class Remove(Action):
    """``remove(fn)`` for each function, in order; returns the names removed."""

    verb: ClassVar[str] = "remove"
    command: ClassVar[str] = "rm"
    functions: tuple[str, ...] = field(default=())

    def validate(self) -> None:
        if not self.functions or not all(self.functions):
            raise InvalidRequest("pick a function")

    async def run(self, backend) -> list[str]:
        self.validate()
        removed = []
        for fn in self.functions:
            await backend.remove(fn)
            removed.append(fn)
        return removed

    def args(self) -> list[str]:
        return list(self.functions) or ["FN"]


@dataclass(frozen=True)
class Bench(Action):
    """``calls`` invokes of ``function``, ``concurrency`` at a time (``faastui.benchmark``);
    returns the ``BenchRun`` (its ``report()`` has the percentiles and the histogram)."""

    verb: ClassVar[str] = "bench"
    command: ClassVar[str] = "bench"
    function: str
    calls: int = 100
    concurrency: int = 4
    payload: Any = None
    node: str | None = None

    def validate(self) -> None:
        from .benchmark import check

        _need_function(self.function)
        check(self.calls, self.concurrency)

    async def run(self, backend, progress=None):
        from .benchmark import run

        self.validate()
        return await run(backend, self.function, self.calls, self.concurrency, self.payload,
                         self.node, progress)

    def args(self) -> list[str]:
        out = [self.function or "FN", "--requests", str(self.calls), "-c", str(self.concurrency)]
        out += _payload_args(self.payload)
        return out + (["--node", self.node] if self.node else [])


#: every spec by verb (= dashboard binding id = ACTION_CAPABILITY key)
SPECS: dict[str, type[Action]] = {cls.verb: cls for cls in (
    Invoke, InvokeAsync, Prewarm, Dispatch, Fuse, Unfuse, Optimize, Scale, Deploy, Remove, Bench)}


def from_cli(command: str, params: Mapping[str, Any]) -> Action:
    """The spec for a CLI command and the parameters typer parsed for it (by the command
    function's parameter names). Raises: ValueError for what has no spec (``--every``,
    ``deploy --source``, ``-d @FILE``) or a command that is not an action; InvalidRequest for
    parameters that conflict (``scale FN 3 --replicas 3``) or a bad header or query."""
    p = dict(params)
    if command == "invoke":
        payload = _payload_from_cli(p.get("data"), bool(p.get("raw")))
        if p.get("async_"):
            if p.get("node"):
                raise InvalidRequest("--async cannot pick a node")
            return InvokeAsync(p["fn"], payload, **http_from_cli(p))
        return Invoke(p["fn"], payload, node=p.get("node"), **http_from_cli(p))
    if command == "prewarm":
        return Prewarm(p["fn"], node=p.get("node"), count=p.get("count", 1),
                       all_nodes=bool(p.get("all_nodes")))
    if command == "dispatch":
        return Dispatch(p.get("input") or "", tuple(DispatchStep.parse(s) for s in p["steps"]),
                        mode="fanout" if p.get("fanout") else "chain")
    if command == "fuse":
        return Fuse(tuple(p["functions"]), p.get("name"))
    if command == "unfuse":
        return Unfuse(p["group"])
    if command == "optimize-fusion":
        if p.get("every") is not None or p.get("rounds") is not None:
            raise ValueError("optimize-fusion --every is a loop of optimize rounds, not one action")
        return Optimize(apply=bool(p.get("apply")), min_calls=p.get("min_calls", 10),
                        min_share=p.get("min_share", 0.6), max_size=p.get("max_size", 4),
                        max_memory_mb=p.get("max_memory"), unfuse_idle=bool(p.get("unfuse_idle")))
    if command == "scale":
        if p.get("count") is not None and p.get("replicas") is not None:
            raise InvalidRequest("give the count once: N (or +K/-K), or --replicas N")
        if p.get("count") is None and p.get("replicas") is None:
            raise InvalidRequest("scale needs a count: N, +K, -K or --replicas N")
        return Scale(p["fn"], p["count"] if p.get("count") is not None else str(p["replicas"]))
    if command == "deploy":
        if p.get("source") is not None or p.get("requirement"):
            raise ValueError("deploy --source has no spec yet")
        if p.get("stack") is not None or len(p.get("paths") or ()) != 1:
            raise ValueError("deploy of a stack file or of several paths has no spec yet")
        return Deploy(str(p["paths"][0]), p.get("name"))
    if command in ("rm", "delete", "remove"):
        return Remove(tuple(p["fns"]))
    if command == "bench":
        return Bench(p["fn"], calls=p.get("n", 100), concurrency=p.get("c", 4),
                     payload=_payload_from_cli(p.get("data"), bool(p.get("raw"))),
                     node=p.get("node"))
    raise ValueError(f"{command!r} is not an action command")
