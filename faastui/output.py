"""Rendering model objects for the CLI: rich tables, JSON and YAML.

``-o table|wide|json|yaml|name``: JSON and YAML are the model's ``to_dict()``
(field names as in ``backends.model``); tables pick columns per model type
(``wide`` adds more; ``headers=False`` is ``--no-headers``); ``name`` prints
``KIND/NAME`` per object, as kubectl does (``names(..., with_kind=False)`` is ``-q``).
Data goes to stdout, messages to stderr. Rich and PyYAML are imported only when a table
or YAML is actually printed; ``NO_COLOR`` is honoured by rich itself and by ``message()``.
"""

from __future__ import annotations

import enum
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Format", "render", "emit", "table_for", "message", "to_plain", "stdout_console",
           "format_result", "names", "InNamespace", "KINDS"]


class Format(str, enum.Enum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"
    name = "name"


class InNamespace:
    """One object of a listing across namespaces (``-A``): the object, and the namespace it
    came from (a NAMESPACE column first; ``namespace`` first in JSON)."""

    __slots__ = ("namespace", "item")

    def __init__(self, namespace: str, item: Any):
        self.namespace = namespace
        self.item = item

    def __getattr__(self, name: str) -> Any:
        return getattr(self.item, name)

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, **self.item.to_dict()}


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _age(v: float | None) -> str:
    if v is None:
        return "-"
    if v < 60:
        return f"{v:.1f}s"
    if v < 3600:
        return f"{v / 60:.0f}m"
    return f"{v / 3600:.1f}h"


def _labels(d: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(d.items())) or "-"


def _secs(v: float | None) -> str:
    return f"{v:g}" if v else "-"  # 0: the backend does not say (OpenFaaS without exec_timeout)


def _extra(item: Any, name: str, text: Callable[[Any], str] = str) -> str:
    """A column that only the joined rows of ``placement -o wide`` carry."""
    value = getattr(item, name, None)
    return "-" if value is None else text(value)


Column = tuple[str, Callable[[Any], Any], bool]  # header, getter, wide-only

# keyed by model class name: importing backends.model here would cost `--help` ~10 ms
COLUMNS: dict[str, list[Column]] = {
    "Node": [
        ("NAME", lambda n: n.name, False),
        ("READY", lambda n: "yes" if n.ready else "no", False),
        ("CPU", lambda n: f"{n.used_cpus:g}/{n.cpus:g}", False),
        ("MEMORY MB", lambda n: f"{n.used_memory_mb:.0f}/{n.memory_mb:.0f}", False),
        ("CONTAINERS", lambda n: f"{n.containers}/{n.max_containers}", False),
        ("ADDRESS", lambda n: n.address, True),
        ("LABELS", lambda n: _labels(n.labels), True),
    ],
    "Function": [
        ("NAME", lambda f: f.name, False),
        ("REPLICAS", lambda f: f"{f.available_replicas}/{f.replicas}", False),
        ("MEMORY MB", lambda f: f"{f.memory_mb:g}", False),
        ("TIMEOUT S", lambda f: _secs(f.timeout_s), False),
        ("FUSION", lambda f: f.fusion_group or "-", False),
        ("CALLS", lambda f: f.invocations, False),
        ("HANDLER", lambda f: f.handler, True),
        ("RUNTIME", lambda f: f.runtime, True),
        ("CPUS", lambda f: f"{f.cpus:g}", True),
        ("DEADLINE MS", lambda f: _ms(f.deadline_ms), True),
        ("IMAGE", lambda f: f.image or "-", True),
    ],
    "Placement": [
        ("FUNCTION", lambda p: p.function, False),
        ("NODE", lambda p: p.node, False),
        ("STATE", lambda p: p.state, False),
        ("COUNT", lambda p: p.count, False),
        ("MEMORY MB", lambda p: _extra(p, "memory_mb", lambda v: f"{v:g}"), True),
        ("FUSION", lambda p: _extra(p, "fusion_group"), True),
        ("NODE CONTAINERS", lambda p: _extra(p, "node_containers"), True),
        ("NODE MEMORY MB", lambda p: _extra(p, "node_memory"), True),
        ("CALLS", lambda p: _extra(p, "invocations"), True),
    ],
    # what prewarm started: containers (Invocation records whose call_id is the container id)
    "Container": [
        ("CONTAINER", lambda i: i.call_id, False),
        ("FUNCTION", lambda i: i.function, False),
        ("NODE", lambda i: i.node, False),
        ("STATE", lambda i: i.container_state, False),
        ("COLD START MS", lambda i: _ms(i.cold_start_ms), False),
        ("STATUS", lambda i: i.status, True),
        ("ERROR", lambda i: i.error or "-", True),
    ],
    "Invocation": [
        ("CALL ID", lambda i: i.call_id, False),
        ("FUNCTION", lambda i: i.function, False),
        ("NODE", lambda i: i.node, False),
        ("STATE", lambda i: i.container_state, False),
        ("STATUS", lambda i: i.status, False),
        ("COLD START MS", lambda i: _ms(i.cold_start_ms), False),
        ("DURATION MS", lambda i: _ms(i.duration_ms), False),
        ("OVERHEAD MS", lambda i: _ms(i.overhead_ms), True),
        ("ERROR", lambda i: i.error or "-", True),
    ],
    "QueueStat": [
        ("QUEUE", lambda q: q.name, False),
        ("LENGTH", lambda q: q.length, False),
        ("IN FLIGHT", lambda q: q.in_flight, False),
        ("IN/S", lambda q: f"{q.rate_in:.1f}", False),
        ("OUT/S", lambda q: f"{q.rate_out:.1f}", False),
        ("OLDEST", lambda q: _age(q.oldest_age_s), False),
    ],
    "QoSStat": [
        ("SUBJECT", lambda q: q.subject, False),
        ("CALLS", lambda q: q.count, False),
        ("ERRORS", lambda q: q.errors, False),
        ("P50 MS", lambda q: _ms(q.p50_ms), False),
        ("P95 MS", lambda q: _ms(q.p95_ms), False),
        ("P99 MS", lambda q: _ms(q.p99_ms), False),
        ("DEADLINE MET", lambda q: _pct(q.deadline_ratio), False),
        ("COLD", lambda q: _pct(q.cold_ratio), False),
        ("WINDOW S", lambda q: f"{q.window_s:g}", True),
        ("MET/TOTAL", lambda q: f"{q.deadline_met}/{q.deadline_total}", True),
    ],
    "FusionGroup": [
        ("GROUP", lambda g: g.name, False),
        ("FUNCTIONS", lambda g: ",".join(g.functions), False),
        ("NODE", lambda g: g.node or "-", False),
        ("STATE", lambda g: g.state, False),
        ("LOCAL CALLS", lambda g: g.calls_local, False),
        ("REMOTE CALLS", lambda g: g.calls_remote, False),
    ],
    "Secret": [  # names only: a value is never printed
        ("NAME", lambda s: s.name, False),
        ("NAMESPACE", lambda s: s.namespace or "-", True),
    ],
}


def no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def stdout_console(stderr: bool = False):
    from rich.console import Console  # deferred: 50-100 ms, only tables pay it

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 200  # pipes: do not wrap at 80 columns
    return Console(file=stream, width=width, no_color=no_color() or None,
                   highlight=False, soft_wrap=False)


def _kind_name(kind: type | str | None) -> str | None:
    return kind.__name__ if isinstance(kind, type) else kind


#: ``-o name``: the kind word and the name of each object, by model class name
KINDS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "Node": ("node", lambda n: n.name),
    "Function": ("function", lambda f: f.name),
    "Placement": ("placement", lambda p: f"{p.function}@{p.node}"),
    "Invocation": ("invocation", lambda i: i.call_id),
    "Container": ("container", lambda i: i.call_id),
    "QueueStat": ("queue", lambda q: q.name),
    "QoSStat": ("qos", lambda q: q.subject),
    "FusionGroup": ("fusiongroup", lambda g: g.name),
    "Secret": ("secret", lambda s: s.name),
}


def names(items: list, kind: type | str | None, with_kind: bool = True) -> list[str]:
    """``-o name`` (``KIND/NAME``) or ``-q`` (``NAME``) lines for ``items``.
    Raises: ValueError for objects without a name (a report, a status)."""
    items = items if isinstance(items, list) else [items]
    kind = _kind_name(kind) or (type(items[0]).__name__ if items else None)
    if items and isinstance(items[0], InNamespace) and kind == "InNamespace":
        kind = type(items[0].item).__name__
    if kind is None and not items:
        return []
    if kind not in KINDS:
        raise ValueError("this command's output has no names; use -o json or yaml")
    word, name_of = KINDS[kind]
    return [f"{word}/{name_of(i)}" if with_kind else name_of(i) for i in items]


def table_for(items: list, kind: type | str, wide: bool = False, title: str | None = None,
              headers: bool = True):
    """A rich Table of model objects of type ``kind`` (a model class or its name); a
    NAMESPACE column first when they are ``InNamespace``; ``headers=False``: no header row."""
    from rich import box
    from rich.table import Table

    cols = [c for c in COLUMNS[_kind_name(kind)] if wide or not c[2]]
    if items and isinstance(items[0], InNamespace):
        cols = [("NAMESPACE", lambda i: i.namespace, False), *cols]
    table = Table(box=box.SIMPLE_HEAD if headers else None, title=title, title_justify="left",
                  pad_edge=False, show_header=headers,
                  header_style="bold" if not no_color() else None, show_edge=False)
    for header, _, _ in cols:
        table.add_column(header, no_wrap=True)
    for item in items:
        table.add_row(*(str(getter(item)) for _, getter, _ in cols))
    return table


def to_plain(data: Any) -> Any:
    """Model objects (and lists of them) as plain JSON-able data."""
    if hasattr(data, "to_dict"):
        return data.to_dict()
    if isinstance(data, (list, tuple)):
        return [to_plain(d) for d in data]
    if isinstance(data, dict):
        return {k: to_plain(v) for k, v in data.items()}
    return data


def dump(data: Any, fmt: Format) -> str:
    plain = to_plain(data)
    if fmt == Format.yaml:
        import yaml  # deferred: only -o yaml needs it

        return yaml.safe_dump(plain, sort_keys=False, allow_unicode=True)
    return json.dumps(plain, indent=2, default=str) + "\n"


def render(data: Any, fmt: Format, kind: type | str | None = None, headers: bool = True):
    """What to print for ``data``: a str (json/yaml/name) or a rich renderable (tables).
    Raises: ValueError for ``-o name`` of data without names."""
    if fmt in (Format.json, Format.yaml):
        return dump(data, fmt)
    if fmt == Format.name:
        return "".join(line + "\n" for line in names(data, kind))
    items = data if isinstance(data, list) else [data]
    kind = _kind_name(kind) or (type(items[0]).__name__ if items else None)
    if kind == "InNamespace" and items:
        kind = type(items[0].item).__name__
    if kind is None or kind not in COLUMNS:
        return dump(data, Format.json)
    return table_for(items, kind, wide=fmt == Format.wide, headers=headers)


def emit(data: Any, fmt: Format, kind: type | str | None = None, headers: bool = True) -> None:
    """Print ``data`` to stdout in ``fmt`` (``headers=False``: tables without a header row).
    Raises: ValueError for ``-o name`` of data without names."""
    out = render(data, fmt, kind, headers)
    if isinstance(out, str):
        sys.stdout.write(out)
        sys.stdout.flush()
    else:
        stdout_console().print(out)


def message(text: str) -> None:
    """A message for the person (stderr), never data."""
    print(text, file=sys.stderr, flush=True)


def format_result(value: Any) -> str:
    """A function's output for stdout: JSON pretty if JSON, raw text otherwise."""
    if isinstance(value, (dict, list, int, float, bool)) or value is None:
        return json.dumps(value, indent=2)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, (dict, list)):
            return json.dumps(parsed, indent=2)
        return value
    return str(value)


def describe_text(fn) -> str:
    """kubectl-describe style ``key: value`` lines for one function."""
    rows = [("Name", fn.name), ("Handler", fn.handler), ("Runtime", fn.runtime),
            ("Image", fn.image or "-"), ("Replicas", f"{fn.available_replicas}/{fn.replicas}"),
            ("Memory MB", f"{fn.memory_mb:g}"), ("CPUs", f"{fn.cpus:g}"),
            ("Timeout s", _secs(fn.timeout_s)), ("Deadline ms", _ms(fn.deadline_ms)),
            ("Fusion group", fn.fusion_group or "-"), ("Invocations", str(fn.invocations)),
            ("Labels", _labels(fn.labels))]
    width = max(len(k) for k, _ in rows) + 2
    return "\n".join(f"{k + ':':<{width}}{v}" for k, v in rows) + "\n"


def invocation_summary(inv) -> str:
    """``hello on node-1 (warm): ok, 0.4 ms``; where the backend does not say where or how
    warm (an OpenFaaS gateway), those parts are left out: ``hello: ok, 3.1 ms``."""
    cold = f", cold start {inv.cold_start_ms:.1f} ms" if inv.cold_start_ms else ""
    where = f" on {inv.node}" if inv.node else ""
    state = f" ({inv.container_state})" if inv.container_state else ""
    return f"{inv.function}{where}{state}: {inv.status}, {inv.duration_ms:.1f} ms{cold}"


def age_text(since: float | None) -> str:
    return "never" if since is None else _age(max(0.0, time.time() - since)) + " ago"


__all__ += ["describe_text", "invocation_summary", "age_text", "dump", "COLUMNS"]
