"""Kubernetes secrets as faastui's secrets (Knative, and Nuclio with a cluster), and the
cluster's namespaces.

A faastui secret NAME is an ``Opaque`` Secret NAME in the backend's namespace whose data key
is NAME too (as faas-netes makes them), so mounting it as a volume at
``/var/openfaas/secrets`` gives the file ``/var/openfaas/secrets/NAME``. faastui labels
the ones it creates ``app.kubernetes.io/managed-by: faastui``; ``list`` shows every Opaque
secret of the namespace (service-account tokens, registry and TLS secrets are other types).
An update is a JSON merge patch of that one key. Values go in the request body, base64, and
are never read back.

Every function takes ``call(method, url, what, body=..., query=..., content_type=...)``, one
bounded API request returning its JSON (``Connection.json`` in a thread), so the Knative
adapter and the shared view use the same code.
"""

from __future__ import annotations

import base64
import json

from ..errors import AuthError, Conflict, NotFound
from ..model import Secret
from ..secrets import check_name
from .connect import path

__all__ = ["list_secrets", "put_secret", "remove_secret", "namespaces", "MANAGED_BY"]

MANAGED_BY = ("app.kubernetes.io/managed-by", "faastui")


def _url(ns: str, *name: str) -> str:
    return path("/api/v1/namespaces", ns, "secrets", *name)


async def list_secrets(call, ns: str) -> list[Secret]:
    data = await call("GET", _url(ns), f"list the secrets of namespace {ns}",
                      query={"fieldSelector": "type=Opaque"})
    return sorted((Secret(o["metadata"]["name"], ns) for o in data.get("items") or []),
                  key=lambda s: s.name)


async def put_secret(call, ns: str, name: str, value: bytes, *, update: bool) -> Secret:
    """Create the secret (Conflict if it exists) or, with ``update``, replace its value
    (NotFound if it does not exist), in faas-cli's words."""
    check_name(name)
    data = {name: base64.b64encode(value).decode("ascii")}
    try:
        if update:
            await call("PATCH", _url(ns, name), f"update the secret {name}",
                       body=json.dumps({"data": data}).encode(),
                       content_type="application/merge-patch+json")
        else:
            await call("POST", _url(ns), f"create the secret {name}", body={
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": data,
                "metadata": {"name": name, "labels": dict([MANAGED_BY])}})
    except Conflict:
        raise Conflict(f"secret with the name {name!r} already exists",
                       hint=f"`faastui secret update {name}` replaces its value") from None
    except NotFound:
        raise NotFound(f"unable to find secret: {name}",
                       hint="create it first: `faastui secret create NAME`") from None
    return Secret(name, ns)


async def remove_secret(call, ns: str, name: str) -> None:
    try:
        await call("DELETE", _url(ns, check_name(name)), f"delete the secret {name}")
    except NotFound:
        raise NotFound(f"unable to find secret: {name}",
                       hint="list them with `faastui secret list`") from None


async def namespaces(call, own: str) -> list[str]:
    """The cluster's namespaces; ``[own]`` for an account that may not list them."""
    try:
        data = await call("GET", "/api/v1/namespaces", "list namespaces")
    except AuthError as exc:
        if getattr(exc, "http_status", 0) != 403:
            raise
        return [own]
    return sorted(o["metadata"]["name"] for o in data.get("items") or [])
