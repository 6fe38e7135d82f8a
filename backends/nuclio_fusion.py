"""The Nuclio backend's FUSE capability: one Nuclio function per fusion group.

A group is a Nuclio function named ``<group>-<4 hex>`` (labelled ``faastui.io/fusion-group:
<group>``, its members in the annotation ``faastui/members``) whose inline source is packed
from its members' own (``nuclio_packed.py``): its entry runs the member the ``Task-Name``
header names, and a member's call to another member through its ``requests_session`` runs
in-process, as the Fusionizer's dispatcher does. The members' own functions stay deployed
as they are; a call to a fused member is sent to its group's function with ``Task-Name``
set. So the switch is only where this backend sends calls, and it never fails a call:

- ``fuse`` builds the group's function and waits until Nuclio says it is ready, and only
  then sends the members' calls to it;
- ``unfuse`` sends the calls back to the members' own functions first, waits for the calls
  this backend has in flight on the group's function, then deletes it;
- a member deployed again while fused gets its group rebuilt the same way (a new function
  built and ready, calls moved to it, the old one drained and deleted).

Where calls go is read from the dashboard (the labels) and kept ``ROUTES_TTL_S`` seconds;
what this backend itself fuses or unfuses applies at once. Group functions are not listed
as functions: they show as fusion groups.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import re
import time
import uuid
from dataclasses import dataclass, replace

from .errors import BackendError, Conflict, FunctionNotFound, InvalidRequest, NotFound, did_you_mean
from .model import Function, FusionGroup
from .nuclio_model import PSEUDO_NODE, placement_state
from .nuclio_packed import ENTRY, Member, packed_source, unpack_members
from .payload import payload_request

__all__ = ["NuclioFusion", "GROUP_LABEL", "MEMBERS_ANNOTATION"]

GROUP_LABEL = "faastui.io/fusion-group"
MEMBERS_ANNOTATION = "faastui/members"
GENERATION_ANNOTATION = "faastui/generation"
STATE_LABEL = "faastui.io/state"  # the Nuclio state of what serves a function (a model label)
ROUTES_TTL_S = 2.0
DRAIN_S = 60.0
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,56}[a-z0-9])?$")  # room for "-xxxx"


@dataclass
class _Group:
    name: str
    function: str  # the Nuclio function serving it now
    members: list[str]
    state: str
    generation: int = 0


class NuclioFusion:
    """The fusion groups of one dashboard (``client``, a ``NuclioClient``): fuse, unfuse, list
    groups, and where each call goes. ``runtime`` is the group functions' Nuclio runtime.
    Held by NuclioBackend, which gives it every listing it reads (``split``)."""

    def __init__(self, client, *, runtime: str):
        self.client = client
        self.runtime = runtime
        self._state = {
            "groups": {},
            "routes": {},
            "read_at": -1e9,
            "retiring": set(),
            "inflight": collections.Counter(),
            "lock": None,
            "raw": {},
        }

    # ---- what is fused, read from the dashboard -------------------------------------------------
    def _fz(self) -> dict:
        return self._state

    def split(self, raw: list[dict]) -> list[dict]:
        """The functions of a listing, group functions left out (they are read as groups)."""
        fz = self._fz()
        groups: dict[str, _Group] = {}
        plain = []
        for data in raw:
            meta = data.get("metadata") or {}
            group = (meta.get("labels") or {}).get(GROUP_LABEL)
            if not group:
                plain.append(data)
                continue
            state = (data.get("status") or {}).get("state", "")
            notes = meta.get("annotations") or {}
            found = _Group(
                group,
                meta.get("name", ""),
                [m for m in str(notes.get(MEMBERS_ANNOTATION, "")).split(",") if m],
                state,
                int(notes.get(GENERATION_ANNOTATION) or 0),
            )
            if found.function in fz["retiring"]:
                continue
            have = groups.get(group)
            usable = state == "ready"
            if have is None or (usable, found.generation) > (have.state == "ready", have.generation):
                groups[group] = found
        fz["groups"] = groups
        fz["routes"] = {m: g.function for g in groups.values() if g.state == "ready" for m in g.members}
        fz["raw"] = {d.get("metadata", {}).get("name", ""): d for d in raw}
        fz["read_at"] = time.monotonic()
        return plain

    async def read_groups(self, force: bool = False) -> dict[str, _Group]:
        fz = self._fz()
        if force or time.monotonic() - fz["read_at"] > ROUTES_TTL_S:
            if fz["lock"] is None:
                fz["lock"] = asyncio.Lock()
            async with fz["lock"]:
                if force or time.monotonic() - fz["read_at"] > ROUTES_TTL_S:
                    self.split(await self.client.listing())
        return fz["groups"]

    def mark(self, functions: list[Function]) -> list[Function]:
        """Functions with their fusion group and the Nuclio state of what serves them."""
        fz = self._fz()
        by_member = {m: g for g in fz["groups"].values() for m in g.members}
        out = []
        for fn in functions:
            group = by_member.get(fn.name)
            own = ((fz["raw"].get(fn.name) or {}).get("status") or {}).get("state", "")
            state = group.state if group is not None else own
            labels = dict(fn.labels, **({STATE_LABEL: state} if state else {}))
            out.append(replace(fn, fusion_group=group.name if group else None, labels=labels))
        return out

    def groups_now(self) -> list[FusionGroup]:
        return [
            FusionGroup(name=g.name, functions=list(g.members), node=PSEUDO_NODE, state=placement_state(g.state))
            for g in sorted(self._fz()["groups"].values(), key=lambda g: g.name)
        ]

    async def fusion_groups(self) -> list[FusionGroup]:
        await self.read_groups(force=True)
        return self.groups_now()

    # ---- calls ------------------------------------------------------------------------------------
    async def _route(self, fn: str) -> tuple[str, dict[str, str]]:
        """(the Nuclio function to call, headers it needs) for a call of ``fn``."""
        try:
            await self.read_groups()
        except BackendError:
            pass  # the routes read last; the call itself will say what is wrong
        target = self._fz()["routes"].get(fn)
        return (target, {"Task-Name": fn}) if target else (fn, {})

    async def invocation(self, fn: str, payload, request) -> tuple[str, str, str, bytes, dict]:
        """(method, the Nuclio function to call, x-nuclio-path, body, headers) of a call of
        ``fn``: the dashboard passes the function every header but ``x-nuclio-*``."""
        body, headers = payload_request(payload)
        method, path = "POST", "/"
        if request is not None:
            if any(h.lower() == "content-type" for h in request.headers):
                headers.pop("Content-Type", None)
            headers.update({k: v for k, v in request.headers.items() if not k.lower().startswith("x-nuclio")})
            method = request.method
            path = request.path + (f"?{request.query}" if request.query else "")
        target, extra = await self._route(fn)
        headers.update(extra)
        return method, target, path, body, headers

    @contextlib.contextmanager
    def in_flight(self, function: str):
        """Counts this backend's calls in flight on ``function`` (a retiring group drains)."""
        inflight = self._inflight()
        inflight[function] += 1
        try:
            yield
        finally:
            inflight[function] -= 1

    def _inflight(self) -> collections.Counter:
        return self._fz()["inflight"]

    async def _drain(self, function: str) -> None:
        """Wait (bounded) for this backend's calls in flight on ``function`` to end."""
        deadline = time.monotonic() + DRAIN_S
        while self._inflight()[function] > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    # ---- fuse and unfuse --------------------------------------------------------------------------
    async def fuse(self, functions: list[str], name: str | None = None) -> FusionGroup:
        groups = await self.read_groups(force=True)
        names = list(dict.fromkeys(functions))
        if len(names) < 2:
            raise InvalidRequest("fuse needs at least two different functions")
        in_group = {m: g.name for g in groups.values() for m in g.members}
        raws = []
        for fn in names:
            if fn in in_group:
                raise Conflict(
                    f"{fn} is already in fusion group {in_group[fn]!r}",
                    hint=f"unfuse it first: faastui unfuse {in_group[fn]}",
                )
            data = self._fz()["raw"].get(fn) or await self.client.raw(fn)
            if data is None or fn in {g.function for g in groups.values()}:
                raise await self.client.not_found(fn)
            raws.append(data)
        group = name or ("fused-" + "-".join(names))[:57].rstrip("-")
        if not _NAME.match(group):
            raise InvalidRequest(
                f"invalid fusion group name {group!r}", hint="lower-case letters, digits and '-', at most 58 characters"
            )
        if group in groups or group in self._fz()["raw"]:
            raise Conflict(f"the name {group!r} is taken")
        await self._build_group(group, raws)
        return next(g for g in self.groups_now() if g.name == group)

    async def unfuse(self, group: str) -> list[str]:
        groups = await self.read_groups(force=True)
        found = groups.get(group)
        if found is None:
            raise NotFound(
                f"fusion group {group!r} not found",
                hint=did_you_mean(group, groups) or "list them with `faastui fusion`",
            )
        await self._retire_group(group)
        return list(found.members)

    async def _build_group(self, group: str, raws: list[dict]) -> None:
        """Build a new function for ``group`` from its members' raw data; once ready, calls
        go to it; then any older function of the group is drained and deleted."""
        members = [_member_of(d) for d in raws]
        fname = f"{group}-{uuid.uuid4().hex[:4]}"
        body = self._group_body(group, fname, raws, members)
        await self.client.create(body)
        try:
            await self.client.wait_ready(fname, f"fusion of {group!r}")
        except BaseException:
            await self._delete_function(fname)
            raise
        older = [
            d.get("metadata", {}).get("name")
            for d in self._fz()["raw"].values()
            if (d.get("metadata", {}).get("labels") or {}).get(GROUP_LABEL) == group
        ]
        await self.read_groups(force=True)  # the newest ready one takes the calls
        for old in older:
            if old and old != fname:
                await self._retire_function(old)

    async def _retire_group(self, group: str) -> None:
        functions = [
            d.get("metadata", {}).get("name")
            for d in self._fz()["raw"].values()
            if (d.get("metadata", {}).get("labels") or {}).get(GROUP_LABEL) == group
        ]
        for fname in functions:
            if fname:
                await self._retire_function(fname)

    async def _retire_function(self, fname: str) -> None:
        fz = self._fz()
        fz["retiring"].add(fname)
        try:
            await self.read_groups(force=True)  # calls no longer go there
            await self._drain(fname)
            await self._delete_function(fname)
        finally:
            fz["retiring"].discard(fname)
        await self.read_groups(force=True)

    async def _delete_function(self, fname: str) -> None:
        try:
            await self.client.delete(fname)
        except FunctionNotFound:
            pass

    def _group_body(self, group: str, fname: str, raws: list[dict], members: list[Member]) -> dict:
        commands: list[str] = []
        env: dict[str, dict] = {}
        memory = 0.0
        high = 1
        for data in raws:
            spec = data.get("spec") or {}
            for cmd in (spec.get("build") or {}).get("commands") or []:
                if cmd not in commands:
                    commands.append(cmd)
            for item in spec.get("env") or []:
                if isinstance(item, dict) and item.get("name"):
                    env.setdefault(item["name"], item)
            from .quantities import memory_mb

            memory += memory_mb(((spec.get("resources") or {}).get("limits") or {}).get("memory"))
            high = max(high, int(spec.get("maxReplicas") or 1))
        if any(m.signature == "fusionizer" for m in members) and not any(
            re.match(r"pip install ['\"]?requests\b", c) for c in commands
        ):
            commands.append("pip install requests")  # the requests_session
        spec = {
            "runtime": self.runtime,
            "handler": f"main:{ENTRY}",
            "description": f"faastui fusion group {group}: {', '.join(m.name for m in members)}",
            "minReplicas": 1,
            "maxReplicas": high,
            "env": list(env.values()),
            "build": {
                "functionSourceCode": base64.b64encode(packed_source(group, members).encode()).decode(),
                "codeEntryType": "sourceCode",
                "commands": commands,
            },
        }
        if memory > 0:
            spec["resources"] = {"limits": {"memory": f"{memory:g}Mi"}}
        labels = {GROUP_LABEL: group}
        if self.client.project:
            labels["nuclio.io/project-name"] = self.client.project
        return {
            "metadata": {
                "name": fname,
                "namespace": self.client.namespace,
                "labels": labels,
                "annotations": {
                    MEMBERS_ANNOTATION: ",".join(m.name for m in members),
                    GENERATION_ANNOTATION: str(time.time_ns()),
                },
            },
            "spec": spec,
        }

    # ---- members that change --------------------------------------------------------------------
    async def regroup_member(self, fn: str) -> None:
        """``fn`` was deployed again: if it is fused, rebuild its group with its new code."""
        groups = await self.read_groups(force=True)
        group = next((g for g in groups.values() if fn in g.members), None)
        if group is None:
            return
        raws = [await self.client.raw(m) for m in group.members]
        await self._build_group(group.name, [d for d in raws if d is not None])

    async def leave_group(self, fn: str) -> None:
        """``fn`` is about to be removed: its group goes on without it (or is unfused)."""
        groups = await self.read_groups(force=True)
        group = next((g for g in groups.values() if fn in g.members), None)
        if group is None:
            return
        rest = [m for m in group.members if m != fn]
        if len(rest) < 2:
            await self._retire_group(group.name)
            return
        raws = [await self.client.raw(m) for m in rest]
        await self._build_group(group.name, [d for d in raws if d is not None])


def _member_of(data: dict) -> Member:
    """A deployed Nuclio function as a member of a group: its packed task, or its inline
    source as one module. Raises InvalidRequest for one whose source cannot be read."""
    meta, spec = data.get("metadata") or {}, data.get("spec") or {}
    name = meta.get("name", "")
    code = (spec.get("build") or {}).get("functionSourceCode")
    if not code:
        raise InvalidRequest(
            f"{name} is not built from inline source; faastui fuses only functions whose source the dashboard holds"
        )
    try:
        source = base64.b64decode(code).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest(f"{name}: its inline source is not base64 UTF-8 text") from None
    packed = unpack_members(source)
    if packed:
        return replace(packed[0], name=name)
    handler = spec.get("handler") or "main:handler"
    module = handler.partition(":")[0]
    return Member(name, {f"{module}.py": source.encode()}, handler, "nuclio")
