"""The Kubernetes side of a platform backend (OpenFaaS, Invokers, Nuclio): its options, its
view, and what it adds to a snapshot, the events and the logs.

Such a backend takes the kube options (``kubeconfig``, ``kube_context``, ``in_cluster``,
``kube_namespace``, ``kube_timeout``, ``kube_wait``); with none of the first three it has no
Kubernetes side and behaves as before. With one, the backend's constructor widens the
instance's ``capabilities`` with what the cluster adds (its class's ``kube_capabilities``).
"""

from __future__ import annotations

from ..errors import BackendError, InvalidRequest, Unreachable
from ..model import Node, Placement
from .connect import UNREACHABLE_HINT, KubeOptions
from .records import PodMapping
from .view import KubeView

__all__ = ["ClusterSide", "kube_options", "wants_kube", "flag", "cold", "seconds"]


def flag(value) -> bool:
    """A yes/no option given as a bool or as text ("true", "1", "yes")."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def seconds(name: str, value) -> float:
    """A duration option in seconds; InvalidRequest (exit 2) for anything else."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = -1.0
    if out < 0 or out != out:
        raise InvalidRequest(f"{name} must be a number of seconds, not {value!r}")
    return out


def wants_kube(kwargs: dict) -> bool:
    return bool(kwargs.get("kubeconfig") or kwargs.get("kube_context") or flag(kwargs.get("in_cluster")))


def kube_options(
    *, kubeconfig=None, kube_context=None, in_cluster=False, token=None, kube_timeout=10.0, kube_service_account=None
) -> KubeOptions:
    timeout = seconds("kube_timeout", kube_timeout)
    extra = {"service_account": str(kube_service_account)} if kube_service_account else {}
    return KubeOptions(
        kubeconfig=str(kubeconfig) if kubeconfig else None,
        context=kube_context or None,
        in_cluster=flag(in_cluster),
        token=token,
        timeout=timeout,
        **extra,
    )


class ClusterSide:
    """A KubeView started on first use, and the snapshot parts read from it."""

    def __init__(
        self,
        options: KubeOptions,
        *,
        mappings: tuple[PodMapping, ...],
        namespace: str | None,
        pod_selector: str = "",
        wait: float = 4.0,
        **view_options,
    ):
        self.view = KubeView(options, namespace=namespace, pod_selector=pod_selector, mappings=mappings, **view_options)
        self.wait = wait
        self._synced_once = False

    async def ensure(self) -> bool:
        """Start the view; wait (at most ``wait`` s) for its first full state. True once the
        view has had data."""
        if not self._synced_once:
            self._synced_once = await self.view.ready(self.wait)
        return self._synced_once

    async def require(self) -> None:
        """Like ``ensure``, but raise why when the view never had data."""
        if not await self.ensure():
            raise self.view.first_error() or Unreachable(
                f"the Kubernetes API at {self.view.conn.server} sent no full state within {self.wait:g} s",
                hint=UNREACHABLE_HINT,
            )

    async def nodes(self) -> list[Node]:
        await self.require()
        return self.view.nodes()

    async def parts(self) -> tuple[list[Node], list[Placement], list[str]]:
        """(nodes, placements, errors): never raises for the cluster's sake, and never waits
        on the API after the first state came."""
        try:
            synced = await self.ensure()
        except InvalidRequest:
            raise  # a bad kubeconfig or context: the user must fix it
        except BackendError as exc:
            return [], [], [f"nodes: {exc}"]
        if not synced:
            err = self.view.first_error() or Unreachable(
                f"the Kubernetes API at {self.view.conn.server} sent no full state within {self.wait:g} s",
                hint=UNREACHABLE_HINT,
            )
            return [], [], [f"nodes: {err} (no data yet; retrying)"]
        return self.view.nodes(), self.view.placements(), self.view.problems()

    async def events(self, since: float) -> list[dict]:
        await self.ensure()
        return self.view.events(since)

    async def logs(self, fn: str, tail: int, containers: tuple[str, ...]) -> list[str]:
        await self.ensure()
        return await self.view.logs(fn, tail, containers)

    async def log_lines(
        self,
        fn: str,
        tail: int,
        containers: tuple[str, ...],
        *,
        since: float | None = None,
        instance: str | None = None,
    ):
        await self.ensure()
        return await self.view.log_lines(fn, tail, containers, since=since, instance=instance)

    def focus(self, functions) -> None:
        """The functions on screen: their pods' gauges are read first (inflight.py)."""
        if self.view.inflight is not None:
            self.view.inflight.set_focus(functions)

    def close(self) -> None:
        self.view.close()


def cold(functions, placements: list[Placement]) -> list[Placement]:
    """A ``cold`` placement (no node) for each function scaled to zero with no pod."""
    placed = {p.function for p in placements}
    return [
        Placement(function=f.name, node="", state="cold", count=0)
        for f in functions
        if f.replicas == 0 and f.name not in placed
    ]
