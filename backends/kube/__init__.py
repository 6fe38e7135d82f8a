"""Provides the shared Kubernetes view of faastui's cluster backends.

A ``KubeView`` keeps a cluster's nodes (allocatable, conditions, usage from
``metrics.k8s.io`` when the cluster has it), the pods of its functions (node, phase,
readiness) and its events in memory, current through list + watch (resourceVersion,
bookmarks, a fresh list after 410 Gone), so a dashboard tick reads memory, not the API.
Every API call is bounded; a failure keeps the last good data, says how old it is, and
reconnects with backoff. It starts from a kubeconfig and context, a kubeconfig path, or the
in-cluster service account.

Layout: ``connect.py`` (settings and bounded requests, errors mapped), ``informer.py`` (the
list + watch loop), ``records.py`` (what is kept of each object; pod -> placement),
``indexes.py`` (the memory, with per-tick aggregates), ``view.py`` (``KubeView``),
``translate.py`` (what the view keeps -> the nodes and events it hands out),
``side.py`` (the optional cluster side of OpenFaaS, Invokers and Nuclio), ``pinned.py``
(prewarm on a named node: a pinned pod and a service).

Importing this package imports neither ``kubernetes`` nor ``urllib3``.
"""

from __future__ import annotations

from .connect import Connection, Gone, KubeOptions
from .records import PodMapping, pod_state
from .side import ClusterSide, kube_options, wants_kube
from .view import KubeView

__all__ = [
    "KubeView",
    "KubeOptions",
    "Connection",
    "Gone",
    "PodMapping",
    "pod_state",
    "ClusterSide",
    "kube_options",
    "wants_kube",
]
