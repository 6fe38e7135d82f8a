"""What every format reader produces: one function, described the same way whatever it came from.

A ``Package`` says where the code is (``root``, the folder the handler module is in),
how to call it (``handler`` ``module:func`` and ``signature``, the calling convention of
its platform), and what the platform's file asked for (resources, replicas, environment,
labels, a node, requirements). ``notes`` are the things the format carried that faastui
does not honour, said once to the person deploying (the CLI prints them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import InvalidRequest

__all__ = ["Package", "FunctionFields", "SIGNATURES", "NAME_RE", "NAME_HINT", "check_name", "name_from_folder"]

#: the calling conventions the engine's runtime knows (backends/local/runtime.py), each named
#: after the platform whose convention it is. "" means: decide from the handler's parameters.
SIGNATURES = (
    "classic",  # handle(req: str); the return value is the answer (faastui, the agent)
    "http",  # handle(event, context); the return value is the answer (faastui)
    "iluvatar",  # main(args: dict); the return value is the answer (faastui)
    "nuclio",  # handler(context, event); Nuclio's answer rules
    "fusionizer",  # handler(context, event, requests_session); Nuclio's answer rules
    "openfaas-classic",  # handle(req: str) under the classic watchdog: what it prints + print(ret)
    "openfaas-http",  # handle(event, context) under the python3-http template
    "openfaas-flask",  # handle(req: str) under the python3-flask template
    "iluvatar-main",  # main(args) under Ilúvatar's agent: json.dumps of the return value
)

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
NAME_HINT = "use lower-case letters, digits and '-', 1-63 characters, starting and ending alphanumeric"


@dataclass
class FunctionFields:
    """What a format says about a function; a deployed function keeps all of it."""

    name: str
    handler: str = "handler:handle"  # module:func
    signature: str = ""
    format: str = "faastui"  # faastui | folder | openfaas | nuclio | fusionizer | iluvatar
    source: str = ""  # the file it was read from, for messages ("stack.yml")
    lang: str = ""  # the platform's own name for the runtime (OpenFaaS lang, Nuclio runtime)
    image: str = ""
    runtime: str = "python"
    description: str = ""
    memory_mb: float = 128.0
    cpus: float = 0.5
    timeout_s: float = 30.0
    deadline_ms: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    min_replicas: int = 0
    max_replicas: int = 0  # 0: bounded by node capacity only
    node: str = ""  # pinned to this node ("" = anywhere)
    secrets: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def function_fields(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(FunctionFields)}


@dataclass
class Package(FunctionFields):
    root: Path = Path(".")  # the folder holding the handler module


def check_name(name: str, what: str = "function") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidRequest(f"invalid {what} name {name!r}", hint=NAME_HINT)
    return name


def name_from_folder(folder: str) -> str:
    """A function named after its folder (lower case, ``_`` to ``-``), or a clear error
    that says how to name it. An empty ``folder`` is a package that came without one."""
    if not folder:
        raise InvalidRequest(
            "the package does not say its function's name",
            hint="pass --name NAME (or ?name= to the API), or name it in the package",
        )
    name = folder.lower().replace("_", "-")
    if NAME_RE.match(name):
        return name
    suggestion = re.sub(r"[^a-z0-9-]+", "-", name).strip("-")[:63].strip("-")
    example = f" such as {suggestion!r}" if suggestion and NAME_RE.match(suggestion) else ""
    raise InvalidRequest(
        f"cannot name a function after the folder {folder!r}: {name!r} is not a valid function name",
        hint=f"rename the folder to a valid name{example} ({NAME_HINT}), or pass --name NAME",
    )
