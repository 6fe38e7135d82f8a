"""Deploying and removing functions: the engine's side of ``packages``.

A package is installed into a staging folder, moved to a versioned folder
``functions/<name>/<version>``, loaded into every node's zygote, and only
then made the running version; a package that fails to load leaves the old
version running. Deployed functions are restored after a restart.
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

__all__ = ["DeployMixin", "load_msg"]


def load_msg(spec: packages.FunctionSpec) -> dict:
    """The zygote's ``load`` message for a function."""
    return {"op": "load", "fn": spec.name, "dir": spec.directory, "handler": spec.handler,
            "signature": spec.signature, "env": spec.env}


class DeployMixin:
    """Deploy, restore and remove; mixed into ``Engine``."""

    # ---- deploy ----------------------------------------------------------------------------
    async def deploy_dir(self, path: Path, name: str | None = None) -> packages.FunctionSpec:
        return await self._deploy(lambda root: packages.install_dir(Path(path), root, name))

    async def deploy_zip(self, data: bytes, name: str | None = None) -> packages.FunctionSpec:
        return await self._deploy(lambda root: packages.install_zip(data, root, name))

    async def deploy_source(self, source: str, name: str | None, requirements=None,
                            extra: dict | None = None) -> packages.FunctionSpec:
        name = name or f"fn-{uuid.uuid4().hex[:8]}"
        return await self._deploy(lambda root: packages.install_source(
            source, root, name, requirements, extra), blocking=bool(requirements))

    async def _deploy(self, install, blocking: bool = False) -> packages.FunctionSpec:
        staging = self.state_dir / "staging"
        staging.mkdir(parents=True, exist_ok=True)
        root = Path(os.path.join(staging, uuid.uuid4().hex[:12]))
        try:
            if blocking:
                spec = await asyncio.get_running_loop().run_in_executor(None, install, root)
            else:
                spec = install(root)
            self._versions += 1
            version = f"v{int(time.time() * 1000)}-{self._versions}"
            final = self.functions_root / spec.name / version
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(spec.directory, final)
            spec = packages.read_spec(final, spec.name)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        try:
            await self._load_everywhere(spec)
        except BackendError:
            shutil.rmtree(final, ignore_errors=True)
            old = self.functions.get(spec.name)
            if old is not None:  # put the running version back where a node lost it
                await self._load_everywhere(old, quiet=True)
            raise
        self._activate(spec)
        return spec

    async def _load_everywhere(self, spec: packages.FunctionSpec, quiet: bool = False) -> None:
        results = await asyncio.gather(*(n.request(load_msg(spec)) for n in self.nodes.values()),
                                       return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors and not quiet:
            text = str(errors[0]).split(": ", 1)[-1]
            raise InvalidRequest(f"{spec.name} failed to load: {text}")

    def _activate(self, spec: packages.FunctionSpec) -> None:
        old = self.functions.get(spec.name)
        spec.created_at = time.time()
        if old is not None:
            spec.min_replicas = max(spec.min_replicas, old.min_replicas)
            for c in list(self.containers_of(self.unit_of(spec.name))):
                c.stale = True
                if c.state != "busy":
                    self._retire(c, "redeployed")
            if old.directory != spec.directory:
                shutil.rmtree(old.directory, ignore_errors=True)
        self.functions[spec.name] = spec
        self.event("deploy", function=spec.name)

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
                await self._load_everywhere(spec)
            except BackendError as exc:
                self.event("error", function=fdir.name, error=f"restore: {exc}")
                continue
            self._activate(spec)

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
        self.event("remove", function=spec.name)
