"""The engine's own state, kept across restarts and crashes: ``<state>/engine-state.json``.

What it keeps: the cluster the engine was started with (its nodes and the cluster
file's settings), each function's scale minimum, labels, env and image as set
through the API, and the fusion groups. Deployed packages keep themselves (in
``functions/``), and queues and async results live in Redis's append-only file.

The file is written atomically (a temp file beside it, fsync, rename, fsync of the
folder), so a crash leaves the old state or the new one, never half of either. It
is written when something durable changed: ``Engine.event`` marks the engine
``dirty`` on deploy, remove, scale, fuse and unfuse, and the HTTP layer calls
``persist()`` before it answers the request that changed it, so what a client was
told is done is on disk. A file that cannot be read is set aside as
``engine-state.json.corrupt`` and the engine starts without it (and says so).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from ..errors import BackendError
from . import packages
from .fusion import GroupState
from .nodes import NodeSpec
from .placement import long_running

__all__ = [
    "STATE_FILE",
    "write_atomic",
    "write_json_atomic",
    "load_state",
    "cluster_to_dict",
    "cluster_from_dict",
    "Durable",
]

STATE_FILE = "engine-state.json"
FORMAT = 1
DURABLE_EVENTS = frozenset({"deploy", "remove", "scale", "fuse", "unfuse"})
log = logging.getLogger(__name__)


def write_json_atomic(path: Path, data: dict, mode: int = 0o600) -> None:
    """Write ``data`` as JSON to ``path`` so that a crash leaves the old file or the new."""
    write_atomic(path, json.dumps(data, indent=2).encode(), mode)


def write_atomic(path: Path, data: bytes, mode: int = 0o600, *, nofollow: bool = False) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new (a temp
    file beside it, fsynced, renamed, the folder fsynced). ``nofollow``: never write
    through a symlink planted at the temp name."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_NOFOLLOW if nofollow else 0)
    fd = os.open(tmp, flags, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


def load_state(state_dir: Path) -> tuple[dict, str | None]:
    """(the saved state or {}, a warning if the file was unreadable and set aside)."""
    path = Path(state_dir) / STATE_FILE
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not an engine state of this version")
        return data, None
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError) as exc:
        aside = path.with_name(STATE_FILE + ".corrupt")
        try:
            os.replace(path, aside)
        except OSError:
            pass
        return {}, f"{path} could not be read ({exc}); set aside as {aside.name}, starting afresh"


def cluster_to_dict(specs: list[NodeSpec], settings: dict, source: str) -> dict:
    return {
        "nodes": [
            {
                "name": s.name,
                "cpus": s.cpus,
                "memory_mb": s.memory_mb,
                "max_containers": s.max_containers,
                "labels": dict(s.labels),
            }
            for s in specs
        ],
        "settings": settings,
        "source": source,
    }


def cluster_from_dict(data: dict) -> tuple[list[NodeSpec], dict]:
    """Node specs and settings from ``cluster_to_dict``'s output.

    Raises:
        BackendError: the saved cluster is malformed.
    """
    try:
        specs = [
            NodeSpec(
                name=str(n["name"]),
                cpus=float(n["cpus"]),
                memory_mb=float(n["memory_mb"]),
                max_containers=int(n["max_containers"]),
                labels={str(k): str(v) for k, v in (n.get("labels") or {}).items()},
            )
            for n in data["nodes"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise BackendError(
            f"the saved cluster is malformed ({exc!r})", hint="start with --cluster FILE or --nodes N"
        ) from None
    if not specs:
        raise BackendError("the saved cluster has no nodes", hint="start with --cluster or --nodes")
    return specs, dict(data.get("settings") or {})


class Durable:
    """``capture()``, ``persist()`` and ``restore_durable()``, and ``dirty``: whether
    something durable changed since the last write (the engine's ``event`` sets it).

    It reads the engine's catalog (``functions``, ``groups``, ``fn_group``: the dicts
    themselves, shared) and the fusion groups still ``forming`` (fusion's set, shared);
    it starts the containers a restored minimum asks for through ``prewarm``."""

    def __init__(
        self,
        state_dir: Path,
        cluster_record: dict | None,
        functions: dict[str, packages.FunctionSpec],
        groups: dict[str, GroupState],
        fn_group: dict[str, str],
        forming: set[str],
        *,
        unit_of: Callable[[str], str],
        containers_of: Callable[[str], Iterable],
        prewarm: Callable[..., Awaitable],
        event: Callable[..., None],
    ):
        self.state_dir = Path(state_dir)
        self.cluster_record = cluster_record  # the cluster as cluster_to_dict gives it
        self.functions = functions
        self.groups = groups
        self.fn_group = fn_group
        self.forming = forming
        self.unit_of = unit_of
        self.containers_of = containers_of
        self.prewarm = prewarm
        self.event = event
        self.dirty = False
        self._saved: dict | None = None

    def capture(self) -> dict:
        """The durable state as it stands."""
        return {
            "format": FORMAT,
            "cluster": self.cluster_record,
            "functions": {
                name: {
                    "min_replicas": spec.min_replicas,
                    "labels": dict(spec.labels),
                    "env": dict(spec.env),
                    "image": spec.image,
                }
                for name, spec in sorted(self.functions.items())
            },
            "fusion_groups": [
                {"name": g.name, "functions": list(g.functions)}
                for g in self.groups.values()
                if g.name not in self.forming
            ],  # a group still forming is not yet switched to
        }

    def persist(self) -> bool:
        """Write the state if it changed since the last write. Returns whether it wrote."""
        self.dirty = False
        data = self.capture()
        if data == self._saved:
            return False
        try:
            write_json_atomic(self.state_dir / STATE_FILE, data)
        except OSError as exc:  # a full disk must not take the engine down: say so
            self.dirty = True
            log.error("cannot write the engine state: %s", exc)
            self.event("error", error=f"cannot write the engine state: {exc.strerror or exc}")
            return False
        self._saved = data
        return True

    async def restore_durable(self, saved: dict) -> None:
        """Put back scale minimums, labels, env, images and fusion groups from ``saved``,
        and start the containers the minimums and groups ask for."""
        for name, entry in (saved.get("functions") or {}).items():
            spec = self.functions.get(name)
            if spec is None or not isinstance(entry, dict):
                continue  # removed since, or its package no longer loads
            spec.min_replicas = int(entry.get("min_replicas") or 0)
            spec.labels = {str(k): str(v) for k, v in (entry.get("labels") or spec.labels).items()}
            spec.env = {str(k): str(v) for k, v in (entry.get("env") or spec.env).items()}
            spec.image = str(entry.get("image") or spec.image)
        for group in saved.get("fusion_groups") or []:
            fns = [f for f in group.get("functions", []) if f in self.functions]
            name = str(group.get("name") or "")
            if len(fns) < 2 or not name or name in self.groups or any(f in self.fn_group for f in fns):
                log.warning("fusion group %r not restored (members gone or taken)", name)
                continue
            self.groups[name] = GroupState(name, fns)
            for f in fns:
                self.fn_group[f] = name
            self.event("fuse", group=name, functions=fns, restored=True)
        self._saved = saved
        self.persist()  # the cluster may differ (--cluster/--nodes): write it now
        for group in list(self.groups.values()):  # one process per group, as fuse() starts
            if not any(True for _ in self.containers_of(group.name)):
                await self._prewarm_quietly(group.functions[0], 1)
        for name, spec in list(self.functions.items()):
            have = sum(1 for _ in self.containers_of(self.unit_of(name)))
            if spec.min_replicas > have and not long_running(spec):
                await self._prewarm_quietly(name, spec.min_replicas - have)

    async def _prewarm_quietly(self, fn: str, count: int) -> None:
        try:
            await self.prewarm(fn, None, count)
        except BackendError as exc:  # no room now: the reaper tries again
            self.event("error", function=fn, error=f"restore: {exc}")
