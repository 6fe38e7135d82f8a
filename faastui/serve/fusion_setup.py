"""Fusion setups for ``faastui serve fusionizer``: the static optimizer's schedule file, and
moving a backend from its current fusion groups to a new setup with Backend calls only.

The schedule file is the Nuclio Fusionizer's own::

    {"<seconds after start>": [["taska", "taskb"], ["taskc"]], ...}

Each entry is a whole setup: at its time the named groups are formed, and every task it
does not name runs alone (upstream deletes those tasks; here they keep running). A list
of one task means that task runs alone. An entry naming tasks that are not deployed yet
waits until they all are (checked when a task is deployed through the API, and every
second); when a later entry falls due first, the later one is the setup wanted.

``regroup`` moves to a setup one group at a time: for each group to form, the groups it
takes members from are unfused, then it is fused; groups of tasks the setup does not
name are unfused last. On the embedded engine each step starts the new unit before the
old one stops taking calls (``backends/local/fusion.py``), so calls never fail.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from backends.errors import InvalidRequest
from backends.model import FusionGroup

__all__ = ["Entry", "read_schedule", "parse_schedule", "group_name", "regroup", "Step"]


@dataclass(frozen=True)
class Entry:
    """One time of the schedule: at ``at`` seconds after start, ``groups`` are formed."""

    at: float
    groups: tuple[tuple[str, ...], ...]

    @property
    def tasks(self) -> set[str]:
        return {t for g in self.groups for t in g}

    def to_json(self) -> list:
        return [self.at, [list(g) for g in self.groups]]

    @classmethod
    def from_json(cls, item) -> Entry:
        at, groups = item
        return cls(float(at), tuple(tuple(g) for g in groups))


@dataclass(frozen=True)
class Step:
    action: str  # "fuse" or "unfuse"
    group: str
    functions: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.action} {self.group}" + (f" ({', '.join(self.functions)})" if self.functions else "")


def parse_schedule(data, where: str = "the schedule") -> list[Entry]:
    """The entries of a schedule's JSON value, in time order. Raises InvalidRequest."""
    hint = 'e.g. {"0": [["taska", "taskb"]], "60": [["taska"], ["taskb"]]}'
    if not isinstance(data, dict) or not data:
        raise InvalidRequest(f"{where} must be a JSON object of seconds -> groups", hint=hint)
    entries = []
    for key, groups in data.items():
        try:
            at = float(key)
        except ValueError:
            at = math.nan
        if not math.isfinite(at) or at < 0:
            raise InvalidRequest(f"{where}: {key!r} is not a number of seconds after start", hint=hint)
        if not isinstance(groups, list) or not all(isinstance(g, list) and g for g in groups):
            raise InvalidRequest(f"{where}: the setup at {key} must be a list of lists of task names", hint=hint)
        seen: set[str] = set()
        for group in groups:
            for task in group:
                if not isinstance(task, str) or not task.strip():
                    raise InvalidRequest(f"{where}: the setup at {key} names a task that is not a name: {task!r}")
                if task in seen:
                    raise InvalidRequest(f"{where}: the setup at {key} puts {task!r} in two groups")
                seen.add(task)
        entries.append(Entry(at, tuple(tuple(g) for g in groups)))
    times = [e.at for e in entries]
    if len(set(times)) != len(times):
        raise InvalidRequest(f"{where} names one time twice")
    return sorted(entries, key=lambda e: e.at)


def read_schedule(path: str | Path) -> list[Entry]:
    """Read and check a schedule file. Raises InvalidRequest (a usage error)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidRequest(f"cannot read the schedule {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidRequest(f"the schedule {path} is not valid JSON: {exc}") from None
    return parse_schedule(data, f"the schedule {path}")


def group_name(tasks) -> str:
    """A group's name: its first task and a digest of all its tasks (never two groups with
    one name, unlike upstream's concatenation of the tasks' names)."""
    tasks = list(tasks)
    digest = hashlib.sha1(",".join(sorted(tasks)).encode()).hexdigest()[:6]
    first = "".join(c for c in tasks[0].lower() if c.isalnum() or c == "-").strip("-")
    return f"fz-{first[:48].rstrip('-') or 'group'}-{digest}"


def plan_regroup(current: list[FusionGroup], wanted: list[tuple[str, ...]]) -> list[Step]:
    """The steps from ``current`` to ``wanted`` (groups of two or more tasks; every other
    task alone), in the order ``regroup`` runs them."""
    targets = [tuple(g) for g in wanted if len(g) >= 2]
    steps: list[Step] = []
    live = {g.name: frozenset(g.functions) for g in current}
    for target in targets:
        members = frozenset(target)
        if members in live.values():
            continue  # already formed, whatever its name
        for name, held in list(live.items()):
            if held & members:
                steps.append(Step("unfuse", name))
                del live[name]
        steps.append(Step("fuse", group_name(target), target))
        live[group_name(target)] = members
    kept = {frozenset(t) for t in targets}
    for name, held in live.items():
        if held not in kept:
            steps.append(Step("unfuse", name))
    return steps


async def regroup(backend, wanted: list[tuple[str, ...]]) -> list[Step]:
    """Move ``backend`` to the setup ``wanted``. Returns: the steps done.

    Raises: the first step's BackendError, its message saying which steps were done.
    """
    steps = plan_regroup(await backend.fusion_groups(), wanted)
    done: list[Step] = []
    for step in steps:
        try:
            if step.action == "unfuse":
                await backend.unfuse(step.group)
            else:
                await backend.fuse(list(step.functions), step.group)
        except Exception as exc:
            message = getattr(exc, "message", None)
            if message is not None:
                exc.message = f"{step} failed: {message} (done before it: {'; '.join(map(str, done)) or 'nothing'})"
            raise
        done.append(step)
    return done
