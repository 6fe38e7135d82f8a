"""metrics.k8s.io v1beta1 on the FAKE Kubernetes API server (tests/fakes/kube_api.py), as
metrics-server serves it: discovery, NodeMetrics of the Ready nodes (``usage`` {cpu, memory}
as tests set it with ``set_usage``, else a small default), PodMetrics of Running pods per
container; get and list only (a watch is 405). A mixin of ``FakeKube``, sharing nothing with
the code under test."""

from __future__ import annotations

from .kube_store import ApiError

__all__ = ["MetricsMixin"]


class MetricsMixin:
    """The metrics routes (need the FakeKube attributes)."""

    def _route_metrics_discovery(self, method, *, query, body):
        self._only(method, "GET")
        return 200, {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "metrics.k8s.io/v1beta1",
            "resources": [
                {
                    "name": "nodes",
                    "singularName": "",
                    "namespaced": False,
                    "kind": "NodeMetrics",
                    "verbs": ["get", "list"],
                },
                {
                    "name": "pods",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "PodMetrics",
                    "verbs": ["get", "list"],
                },
            ],
        }

    def _no_watch(self, method: str, query: dict) -> None:
        self._only(method, "GET")
        if query.get("watch") in ("1", "true"):
            raise ApiError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource (get nodes.metrics.k8s.io)",
            )

    def _node_metric(self, node: dict) -> dict:
        name = node["metadata"]["name"]
        usage = self.usage.get(name) or {"cpu": "100000000n", "memory": "1048576Ki"}
        return {
            "metadata": {"name": name, "creationTimestamp": self.now(), "labels": node["metadata"].get("labels") or {}},
            "timestamp": self.now(),
            "window": "10.062s",
            "usage": dict(usage),
        }

    def _route_node_metrics(self, method, *, query, body):
        self._no_watch(method, query)
        return 200, {
            "kind": "NodeMetricsList",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {},
            "items": [
                self._node_metric(n)
                for n in sorted(self.store.items("nodes"), key=lambda n: n["metadata"]["name"])
                if n["status"]["conditions"][-1]["status"] == "True"
            ],
        }

    def _route_node_metric(self, method, name, *, query, body):
        self._no_watch(method, query)
        node = self.store.get("nodes", "", name)
        if node is None:
            raise ApiError(
                404,
                "NotFound",
                f'nodemetrics.metrics.k8s.io "{name}" not found',
                {"name": name, "group": "metrics.k8s.io", "kind": "nodes"},
            )
        return 200, {"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1", **self._node_metric(node)}

    def _pod_metrics(self, ns: str | None) -> dict:
        items = []
        for pod in sorted(
            self.store.items("pods", ns), key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"])
        ):
            if (pod.get("status") or {}).get("phase") != "Running":
                continue
            meta = pod["metadata"]
            usage = self.pod_usage.get((meta["namespace"], meta["name"])) or {}
            items.append(
                {
                    "metadata": {
                        "name": meta["name"],
                        "namespace": meta["namespace"],
                        "creationTimestamp": self.now(),
                        "labels": meta.get("labels") or {},
                    },
                    "timestamp": self.now(),
                    "window": "10.062s",
                    "containers": [
                        {"name": c["name"], "usage": usage.get(c["name"], {"cpu": "1000000n", "memory": "10240Ki"})}
                        for c in pod["spec"]["containers"]
                    ],
                }
            )
        return {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}

    def _route_all_pod_metrics(self, method, *, query, body):
        self._no_watch(method, query)
        return 200, self._pod_metrics(None)

    def _route_pod_metrics(self, method, ns, *, query, body):
        self._no_watch(method, query)
        return 200, self._pod_metrics(ns)
