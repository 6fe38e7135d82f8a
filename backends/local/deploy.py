"""Deploying and removing functions: the engine's side of ``packages`` and ``deps``.

A package is staged (read in its format, code copied, requirements installed into the
function's own folder), moved to a versioned folder ``functions/<name>/<version>``,
loaded into every node's zygote, and only then made the running version. Anything that
fails on the way (a format error, pip, an import error) leaves the old version running
and nothing half-deployed. Deploys of one function run one at a time. Deployed
functions are restored after a restart from the spec each version folder keeps.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from pathlib import Path

from ..errors import BackendError, InvalidRequest
from . import packages
from .deps import DepsStore

__all__ = ["DeployMixin", "load_msg"]


def load_msg(spec: packages.FunctionSpec, secrets_dir: str = "") -> dict:
    """The zygote's ``load`` message for a function (its secrets by name: the zygote reads
    nothing but their files, ``secretmount.py``)."""
    msg = {"op": "load", "fn": spec.name, "dir": spec.directory, "handler": spec.handler,
           "signature": spec.signature, "env": spec.env}
    if spec.secrets:
        msg.update(secrets=list(spec.secrets), secrets_dir=secrets_dir)
    return msg


class DeployMixin:
    """Deploy, restore and remove; mixed into ``Engine``."""

    @property
    def deps(self) -> DepsStore:
        store = self.__dict__.get("_deps_store")
        if store is None:
            store = self.__dict__["_deps_store"] = DepsStore(self.state_dir / "deps",
                                                             self.state_dir / "pip-cache")
        return store

    def _deploy_lock(self, name: str) -> asyncio.Lock:
        locks = self.__dict__.setdefault("_deploy_locks", {})
        return locks.setdefault(name, asyncio.Lock())

    # ---- placement rules a package sets: a pinned node, a replica ceiling -------------------
    def _placed_on(self, unit: str, node: str | None) -> str | None:
        """The node a call or prewarm of ``unit`` must use: its pin, if it has one."""
        if unit not in self.groups:  # the common case, on every call: one lookup
            spec = self.functions.get(unit)
            pin = spec.node if spec is not None else ""
        else:
            pin = min((self.functions[f].node for f in self.unit_fns(unit)
                       if f in self.functions and self.functions[f].node), default="")
        if not pin:
            return node
        if node and node != pin:
            raise InvalidRequest(f"{unit} is pinned to node {pin!r} by its constraints; "
                                 f"it cannot run on {node!r}")
        return pin

    def _max_of(self, unit: str) -> int:
        highs = [self.functions[f].max_replicas for f in self.unit_fns(unit) if f in self.functions]
        return min([h for h in highs if h > 0] or [0])

    def _below_max(self, unit: str) -> bool:
        high = self._max_of(unit)
        return high <= 0 or sum(1 for _ in self.containers_of(unit)) < high

    # ---- deploy ----------------------------------------------------------------------------
    async def deploy_dir(self, path: Path, name: str | None = None,
                         secrets: list[str] | None = None) -> packages.FunctionSpec:
        """Deploy a package folder; ``secrets`` (an OpenFaaS deploy request's) replace the
        ones its format names."""
        def install(root: Path) -> packages.FunctionSpec:
            spec = packages.install_dir(Path(path), root, name)
            if secrets is not None:
                spec.secrets = list(secrets)
                packages.write_spec(spec)
            return spec
        return await self._deploy(install)

    def _check_secrets(self, spec: packages.FunctionSpec) -> None:
        """A function deploys only with secrets that exist (as on OpenFaaS)."""
        from ..secrets import check_name

        for name in spec.secrets:
            check_name(name)
        missing = self.secret_store.missing(spec.secrets)
        if missing:
            raise InvalidRequest(f"{spec.name} needs secret(s) {', '.join(missing)}, which "
                                 "do not exist", hint=f"create it first: `faastui secret "
                                                      f"create {missing[0]} --from-file FILE`")

    async def deploy_zip(self, data: bytes, name: str | None = None,
                         source: str | None = None) -> packages.FunctionSpec:
        return await self._deploy(lambda root: packages.install_zip(data, root, name, source))

    async def deploy_source(self, source: str, name: str | None, requirements=None,
                            extra: dict | None = None) -> packages.FunctionSpec:
        name = name or f"fn-{uuid.uuid4().hex[:8]}"
        return await self._deploy(lambda root: packages.install_source(
            source, root, name, requirements, extra))

    def _check_node(self, spec: packages.FunctionSpec) -> None:
        if spec.node and spec.node not in self.nodes:
            raise InvalidRequest(
                f"{spec.name} is pinned to node {spec.node!r} ({spec.source or 'its package'}), "
                "which this engine does not have", hint=f"nodes: {', '.join(self.nodes)}")

    async def _deploy(self, install) -> packages.FunctionSpec:
        loop = asyncio.get_running_loop()
        staging = self.state_dir / "staging"
        staging.mkdir(parents=True, exist_ok=True)
        root = Path(os.path.join(staging, uuid.uuid4().hex[:12]))
        final = None
        try:
            # unpacking, reading and copying touch only the disk: off the loop
            spec = await loop.run_in_executor(None, install, root)
            self._check_node(spec)
            self._check_secrets(spec)
            async with self._deploy_lock(spec.name):
                deps = await loop.run_in_executor(None, self.deps.ensure, spec.name,
                                                  spec.requirements)
                if deps.path is not None:
                    link = Path(spec.directory) / ".deps"
                    if link.exists() or link.is_symlink():
                        raise InvalidRequest(f"{spec.name} brings its own .deps folder and lists "
                                             "requirements; keep one of them")
                    os.symlink(deps.path, link)
                self._versions += 1
                version = f"v{int(time.time() * 1000)}-{self._versions}"
                final = self.functions_root / spec.name / version
                final.parent.mkdir(parents=True, exist_ok=True)
                os.rename(spec.directory, final)
                spec = packages.read_spec(final, spec.name)
                try:
                    await self._load_everywhere(spec)
                except BackendError:
                    shutil.rmtree(final, ignore_errors=True)
                    old = self.functions.get(spec.name)
                    if old is not None:  # put the running version back where a node lost it
                        await self._load_everywhere(old, quiet=True)
                    raise
                self._activate(spec)
                self.deps.prune(spec.name, {deps.path} if deps.path else set())
        finally:
            shutil.rmtree(root, ignore_errors=True)
        self.event("deploy", function=spec.name, format=spec.format, requirements=deps.outcome,
                   install_s=round(deps.seconds, 3), notes=list(spec.notes))
        return spec

    async def _load_everywhere(self, spec: packages.FunctionSpec, quiet: bool = False) -> None:
        msg = load_msg(spec, str(self.secret_store.root))
        results = await asyncio.gather(*(n.request(msg) for n in self.nodes.values()),
                                       return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors and not quiet:
            text = str(errors[0]).split(": ", 1)[-1]
            raise InvalidRequest(f"{spec.name} failed to load: {text}")
        if not spec.signature:  # the convention the zygote found from the entry's parameters
            spec.signature = next((r["signature"] for r in results
                                   if isinstance(r, dict) and r.get("signature")), "")

    def _activate(self, spec: packages.FunctionSpec) -> None:
        old = self.functions.get(spec.name)
        spec.created_at = time.time()
        if old is not None:
            spec.min_replicas = max(spec.min_replicas, old.min_replicas)
            for c in list(self.containers_of(self.unit_of(spec.name))):
                c.stale = True
                if c.state not in ("busy", "starting"):  # a starting one serves its call first
                    self._retire(c, "redeployed")
            if old.directory != spec.directory:
                shutil.rmtree(old.directory, ignore_errors=True)
        self.functions[spec.name] = spec

    async def _restore(self) -> None:
        """Load the functions deployed before a restart (latest version of each)."""
        for fdir in sorted(self.functions_root.iterdir()):
            versions = sorted((p for p in fdir.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
            if not versions:
                continue
            for stale in versions[:-1]:
                shutil.rmtree(stale, ignore_errors=True)
            try:
                spec = packages.read_spec(versions[-1], fdir.name)
                self._check_node(spec)
                await self._load_everywhere(spec)
            except BackendError as exc:
                self.event("error", function=fdir.name, error=f"restore: {exc}")
                continue
            self._activate(spec)
            self.event("deploy", function=spec.name, format=spec.format, restored=True)

    async def remove(self, fn: str) -> None:
        spec = self.resolve(fn)
        group = self.fn_group.get(spec.name)
        if group is not None:
            await self.unfuse(group)
        del self.functions[spec.name]
        for c in list(self.containers_of(spec.name)):
            c.kill()
            self._retire(c, "removed")
        self.idle.pop(spec.name, None)
        await asyncio.gather(*(n.request({"op": "unload", "fn": spec.name})
                               for n in self.nodes.values()), return_exceptions=True)
        shutil.rmtree(self.functions_root / spec.name, ignore_errors=True)
        self.deps.remove(spec.name)
        self.event("remove", function=spec.name)
