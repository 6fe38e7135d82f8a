"""KnativeBackend: Knative Serving on Kubernetes, through the Kubernetes API.

Functions are Knative Services (``serving.knative.dev/v1``, "ksvc") in one namespace.
Kubernetes access comes from a kubeconfig (``kubeconfig``, else ``$KUBECONFIG``, else
``~/.kube/config``) and its ``kube_context``, or the in-cluster service account
(``in_cluster``); the namespace is the context's (else ``default``); ``token`` replaces the
kubeconfig's bearer token. All of it goes through the shared Kubernetes layer
(``backends.kube``): one bounded request per call, and for the snapshot a view kept current
by list + watch (nodes, every pod, this namespace's ksvcs, events), so a dashboard tick reads
memory. The ``kubernetes`` client is imported on first use (it costs ~0.4 s that commands
on other backends must not pay).

Handler source deploys with no image build (the agent style, ``backends/agent.py``): the
ksvc's one container runs ``python -c HARNESS`` in a stock image (``image``, default
``python:3.11-slim``) with the handler in its environment (``harness_env``), on port 8080;
the ksvc carries the label ``faastui.io/source: "true"``, and a ksvc without it is never
overwritten. A deploy, scale or prewarm waits (``ready_timeout``, 60 s) until the ksvc
has observed its new generation and says Ready=True; Ready=False raises with Knative's
message. ``deploy(folder or zip)`` ships the package's one handler module the same way
(with function.yaml's name, handler, memory, cpus, timeout, env and requirements.txt).
The handler travels in one environment variable, so it must stay under Linux's 128 KiB
per variable (about 90 KiB of source), less than ``agent.MAX_SOURCE_BYTES``.

Errors: 401/403 -> AuthError with a hint; 404 -> FunctionNotFound (with a did-you-mean)
or "Knative Serving is not installed"; 409 -> Conflict; 400/415/422 -> InvalidRequest; no
answer (or none within ``kube_timeout``) -> Unreachable; a bad kubeconfig -> InvalidRequest.
Once the snapshot's view has had data, a cluster that stops answering no longer fails it:
the last good data is shown, with its age, in ``Snapshot.errors``. A function's own failure (an
HTTP 4xx/5xx from it) is an Invocation with status "error", not an exception.

Calls go to ``url`` (the cluster's ingress) with the ksvc's host as ``Host`` header, as in
Knative's ``curl -H "Host: hello.default.example.com" http://INGRESS``; without ``url``,
straight to ``status.url``.

Model mapping:

- ``scale(fn, n)`` sets ``autoscaling.knative.dev/min-scale`` on the revision template
  (a new revision); ``prewarm(fn, count=n)`` rolls a new revision with
  ``autoscaling.knative.dev/initial-scale: n``: n pods start now and the autoscaler
  scales them back to min-scale when no calls come. Knative places pods itself: a node
  for ``invoke`` or ``prewarm`` is refused (Unsupported).
- Function: ``replicas`` = the ksvc's Running pods, ``available_replicas`` = those also
  Ready; ``labels`` = the ksvc's labels plus ``knative/ready`` (the Ready condition),
  ``knative/revision``, ``knative/url``, ``knative/min-scale``, ``knative/max-scale``.
- Placement per (ksvc, node) from pods labelled ``serving.knative.dev/service`` in the
  namespace: Running and Ready -> ``warm``; Pending (unscheduled, ContainerCreating,
  pulling an image) or Running but not Ready (starting, CrashLoopBackOff) -> ``starting``;
  terminating, Succeeded and Failed pods are left out. Knative does not say whether a pod
  has served a call, so ``prewarm`` and ``busy`` are never reported.
- Node: ``cpus``/``memory_mb``/``max_containers`` are the node's allocatable, ``used_*``
  its usage from ``metrics.k8s.io`` (else the resource requests of its pods),
  ``containers`` its pods (every namespace, or only this one when the account may not list
  pods cluster-wide). Events: the cluster's, about the ksvcs' pods and the nodes.
- QoS: latencies of the calls this client made (Knative keeps no call history).

Layout: ``objects.py`` maps Knative objects to the model and builds the ksvc manifest;
``kube.py`` is the Kubernetes API boundary (reads, writes, the view); ``package.py`` reads
a function folder or zip; ``backend.py`` is KnativeBackend itself. Importing this package
imports neither ``kubernetes`` nor ``httpx``.
"""

from __future__ import annotations

from ..quantities import quantity
from .backend import KnativeBackend
from .objects import function_from_ksvc, pod_state

__all__ = ["KnativeBackend", "function_from_ksvc", "pod_state", "quantity"]
