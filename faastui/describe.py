"""One describe for both faces: what `faastui describe` prints and what Enter on a row of
the dashboard shows, built from model objects.

``function()``, ``node()``, ``queue()``, ``fusion_group()``, ``qos()`` and ``event()``
turn an object (and what the snapshot says around it: placements, QoS, recent calls)
into a ``Description``: titled sections of ``key: value`` rows or small tables, plus the
object's own fields (``fields``, what ``y``/``j`` and ``-o yaml|json`` show).
``Description.to_text()`` is the kubectl-describe style text the CLI prints; the
dashboard renders the same sections (``faastui.tui.views.detail``). ``gather_function``
and friends fetch what a description needs through Backend methods.

Plain Python: no rich, no textual (the CLI's `describe` imports this).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from backends.base import Capability
from backends.errors import NotFound
from backends.model import Function, FusionGroup, Invocation, Node, QoSStat, QueueStat, Snapshot

__all__ = [
    "Section",
    "Description",
    "function",
    "node",
    "queue",
    "fusion_group",
    "qos",
    "event",
    "gather",
    "KINDS",
    "RECENT_CALLS",
]

#: finished calls a function's description lists
RECENT_CALLS = 10
#: what `faastui describe KIND NAME` takes as KIND (-> the kind's name)
KINDS = {
    "function": "function",
    "fn": "function",
    "node": "node",
    "no": "node",
    "queue": "queue",
    "group": "fusion_group",
    "fusion": "fusion_group",
    "fusion-group": "fusion_group",
}


@dataclass
class Section:
    """``rows`` of (key, value), or a table (``headers`` and ``table`` rows); ``note`` after."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)
    note: str = ""


@dataclass
class Description:
    kind: str  # Function, Node, Queue, FusionGroup, QoS, Event
    name: str
    sections: list[Section]
    fields: dict[str, Any]  # the object itself, as -o json/yaml shows it

    def lines(self) -> list[tuple[str, str]]:
        """The text a line at a time, each with its part: ``title``, ``row``, ``header``,
        ``cell``, ``note`` or ``blank`` (the dashboard styles by part)."""
        out: list[tuple[str, str]] = []
        for i, sec in enumerate(self.sections):
            if i:
                out.append(("blank", ""))
            indent = ""
            if sec.title:
                out.append(("title", f"{sec.title}:"))
                indent = "  "
            if sec.rows:
                width = max(len(k) for k, _ in sec.rows) + 2
                out += [("row", f"{indent}{k + ':':<{width}}{v}") for k, v in sec.rows]
            if sec.headers:
                head, *body = _columns(sec.headers, sec.table)
                out.append(("header", indent + head))
                out += [("cell", indent + line) for line in body]
            if sec.note:
                out.append(("note", indent + sec.note))
            if not (sec.rows or sec.headers or sec.note):
                out.append(("note", indent + "<none>"))
        return out

    def to_text(self) -> str:
        """kubectl-describe style text (what `faastui describe` prints)."""
        return "\n".join(text for _, text in self.lines()) + "\n"


def _columns(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return [line(headers)] + [line(r) for r in rows]


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _labels(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items())) or "<none>"


def _clock(t: float | None) -> str:
    if not t:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def _placement_rows(snap: Snapshot | None, *, fn: str | None = None, node: str | None = None):
    """(rows of NODE/FUNCTION, STATE, COUNT for what runs, number of cold places)."""
    rows, cold = [], 0
    for p in snap.placements if snap else []:
        if (fn is not None and p.function != fn) or (node is not None and p.node != node):
            continue
        if p.state == "cold" or not p.count:
            cold += 1
            continue
        rows.append([p.node if fn is not None else p.function, p.state, str(p.count)])
    return rows, cold


def _qos_rows(q: QoSStat) -> list[tuple[str, str]]:
    return [
        ("Window", f"{q.window_s:g} s"),
        ("Calls", str(q.count)),
        ("Errors", str(q.errors)),
        ("Latency ms", f"p50 {_ms(q.p50_ms)}  p95 {_ms(q.p95_ms)}  p99 {_ms(q.p99_ms)}"),
        ("Deadlines met", f"{_pct(q.deadline_ratio)} ({q.deadline_met}/{q.deadline_total})"),
        ("Cold starts", _pct(q.cold_ratio)),
    ]


def _calls_section(calls: list[Invocation], title: str = "Recent calls (newest first)") -> Section:
    rows = [
        [
            c.call_id,
            c.node or "-",
            c.container_state or "-",
            c.status,
            _ms(c.cold_start_ms),
            _ms(c.duration_ms),
            _clock(c.ended_at or c.started_at),
        ]
        for c in calls
    ]
    if not rows:
        return Section(title, note="none in the backend's history")
    return Section(title, headers=["CALL ID", "NODE", "CONTAINER", "STATUS", "COLD MS", "RUN MS", "ENDED"], table=rows)


# ---- one builder per kind ------------------------------------------------------------------
def function(fn: Function, snap: Snapshot | None = None, calls: list[Invocation] | None = None) -> Description:
    """A function: its settings, where it runs, its QoS, its group and its latest calls."""
    head = Section(
        "",
        rows=[
            ("Name", fn.name),
            ("Kind", "Function"),
            ("Handler", fn.handler or "-"),
            ("Runtime", fn.runtime or "-"),
            ("Image", fn.image or "-"),
            ("Replicas", f"{fn.available_replicas} available / {fn.replicas} wanted"),
            ("Memory MB", f"{fn.memory_mb:g}"),
            ("CPUs", f"{fn.cpus:g}"),
            ("Timeout s", f"{fn.timeout_s:g}"),
            ("Deadline ms", "-" if fn.deadline_ms is None else f"{fn.deadline_ms:g}"),
            ("Fusion group", fn.fusion_group or "-"),
            ("Invocations", str(fn.invocations)),
            ("Labels", _labels(fn.labels)),
        ],
    )
    sections = [head]
    rows, cold = _placement_rows(snap, fn=fn.name)
    sections.append(
        Section(
            "Placement",
            headers=["NODE", "STATE", "COUNT"] if rows else [],
            table=rows,
            note=f"cold (code only) on {cold} node(s)" if cold else ("" if rows else "no containers"),
        )
    )
    stat = next((q for q in (snap.qos if snap else []) if q.subject == fn.name), None)
    if stat is not None:
        sections.append(Section(f"QoS (last {stat.window_s:g} s)", rows=_qos_rows(stat)[1:]))
    group = next((g for g in (snap.fusion_groups if snap else []) if g.name == fn.fusion_group), None)
    if group is not None:
        sections.append(
            Section(
                "Fusion",
                rows=[
                    ("Group", group.name),
                    ("Members", ", ".join(group.functions)),
                    ("Node", group.node or "-"),
                    ("Calls", f"{group.calls_local} local, {group.calls_remote} remote"),
                ],
            )
        )
    if calls is not None:
        mine = [c for c in calls if c.function == fn.name][:RECENT_CALLS]
        sections.append(_calls_section(mine))
    return Description("Function", fn.name, sections, fn.to_dict())


def node(n: Node, snap: Snapshot | None = None) -> Description:
    head = Section(
        "",
        rows=[
            ("Name", n.name),
            ("Kind", "Node"),
            ("Address", n.address or "-"),
            ("Ready", "yes" if n.ready else "no"),
            ("CPU", f"{n.used_cpus:.2f} / {n.cpus:g} used"),
            ("Memory MB", f"{n.used_memory_mb:.0f} / {n.memory_mb:.0f} used"),
            ("Containers", f"{n.containers} / {n.max_containers}"),
            ("Labels", _labels(n.labels)),
        ],
    )
    rows, cold = _placement_rows(snap, node=n.name)
    sections = [
        head,
        Section(
            "Containers by function",
            headers=["FUNCTION", "STATE", "COUNT"] if rows else [],
            table=rows,
            note="" if rows else "none running",
        ),
    ]
    groups = [g for g in (snap.fusion_groups if snap else []) if g.node == n.name]
    if groups:
        sections.append(Section("Fusion groups here", rows=[(g.name, ", ".join(g.functions)) for g in groups]))
    return Description("Node", n.name, sections, n.to_dict())


def queue(q: QueueStat) -> Description:
    oldest = "-" if q.oldest_age_s is None else f"{q.oldest_age_s:.1f} s"
    return Description(
        "Queue",
        q.name,
        [
            Section(
                "",
                rows=[
                    ("Name", q.name),
                    ("Kind", "Queue (Redis list)"),
                    ("Length", str(q.length)),
                    ("In flight", str(q.in_flight)),
                    ("Rate in", f"{q.rate_in:.1f}/s"),
                    ("Rate out", f"{q.rate_out:.1f}/s"),
                    ("Oldest item", oldest),
                ],
            )
        ],
        q.to_dict(),
    )


def fusion_group(g: FusionGroup, snap: Snapshot | None = None) -> Description:
    total = g.calls_local + g.calls_remote
    share = f" ({g.calls_local / total:.0%} local)" if total else ""
    sections = [
        Section(
            "",
            rows=[
                ("Name", g.name),
                ("Kind", "FusionGroup"),
                ("Members", ", ".join(g.functions)),
                ("Node", g.node or "-"),
                ("State", g.state),
                ("Calls", f"{g.calls_local} local, {g.calls_remote} remote{share}"),
            ],
        )
    ]
    for fn in g.functions:
        rows, _ = _placement_rows(snap, fn=fn)
        sections.append(
            Section(
                f"Placement of {fn}",
                headers=["NODE", "STATE", "COUNT"] if rows else [],
                table=rows,
                note="" if rows else "no containers",
            )
        )
    return Description("FusionGroup", g.name, sections, g.to_dict())


def qos(q: QoSStat) -> Description:
    return Description(
        "QoS", q.subject, [Section("", rows=[("Subject", q.subject), ("Kind", "QoS")] + _qos_rows(q))], q.to_dict()
    )


def event(fields: dict[str, Any]) -> Description:
    """An Events row: the engine's event, a finished call, or one of the dashboard's own."""
    kind = str(fields.get("kind", "event"))
    rows = [("Time", _clock(fields.get("t")))]
    rows += [(str(k), _text(v)) for k, v in fields.items() if k != "t"]
    name = str(fields.get("function") or fields.get("unit") or fields.get("call_id") or kind)
    return Description("Event", name, [Section("", rows=rows)], dict(fields))


def _text(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".")
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    return "-" if v is None or v == "" else str(v)


# ---- fetching what a description needs ---------------------------------------------------------
async def fetch_function(backend, name: str) -> Function:
    """``backend.describe(name)``. Raises: Unsupported (exit 3) for a backend without
    ``Capability.DESCRIBE``; FunctionNotFound."""
    backend.require(Capability.DESCRIBE, "describe functions")
    return await backend.describe(name)


async def gather(backend, kind: str, name: str) -> Description:
    """The description of ``kind`` (a ``KINDS`` value) ``name``, fresh from ``backend``
    (a function's latest calls where it has ``Capability.HISTORY``).
    Raises: NotFound (FunctionNotFound for a function), Unsupported, BackendError."""
    if kind == "function":
        fn = await fetch_function(backend, name)
        snap = await backend.snapshot()
        calls = None
        if Capability.HISTORY in backend.capabilities:
            calls = await backend.invocations(200)
        return function(fn, snap, calls)
    snap = await backend.snapshot()
    items = {"node": snap.nodes, "queue": snap.queues, "fusion_group": snap.fusion_groups}[kind]
    obj = next((o for o in items if o.name == name), None)
    if obj is None:
        from backends.errors import did_you_mean

        names = [o.name for o in items]
        raise NotFound(
            f"{kind.replace('_', ' ')} {name!r} not found",
            hint=did_you_mean(name, names) or (f"known: {', '.join(names[:10])}" if names else None),
        )
    if kind == "node":
        return node(obj, snap)
    if kind == "queue":
        return queue(obj)
    return fusion_group(obj, snap)
