"""Secrets and namespaces of the FAKE Kubernetes API server (tests/fakes/kube_api.py).

Written from the Secret v1 and Namespace v1 references: a secret's name is a DNS-1123
subdomain (422 Invalid otherwise), ``data`` values are base64 (400 otherwise; ``stringData``
is merged into ``data`` and never stored), ``type`` defaults to ``Opaque``; create is 201
(409 AlreadyExists), read, replace (PUT) and merge patch (PATCH) are 200, delete is 200 with
a Status; lists take label and field selectors (``type=Opaque``). Namespaces are listed
(``GET /api/v1/namespaces``): the ones created with ``add_namespace`` and every namespace an
object lives in; ``forbid_namespaces`` answers 403 as an account with only a Role does. A
mixin of ``FakeKube``, sharing nothing with the code under test.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from .kube_store import ApiError

__all__ = ["SecretsMixin"]

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAMESPACED = ("pods", "services", "secrets", "events", "services.serving.knative.dev")


def _not_found(name: str) -> ApiError:
    return ApiError(404, "NotFound", f'secrets "{name}" not found',
                    {"name": name, "kind": "secrets"})


class SecretsMixin:
    """``/api/v1/namespaces/{ns}/secrets[/{name}]`` and ``/api/v1/namespaces``."""

    forbid_namespaces = False

    def add_namespace(self, name: str) -> dict:
        return self.store.put("namespaces", {"metadata": self.meta(name),
                                             "status": {"phase": "Active"}})

    def _route_namespaces(self, method, *, query, body):
        self._only(method, "GET")
        if self.forbid_namespaces:
            raise ApiError(403, "Forbidden", 'namespaces is forbidden: User "system:serviceaccount:'
                           'default:faastui" cannot list resource "namespaces" in API group "" at '
                           "the cluster scope", {"kind": "namespaces"})
        with self.lock:
            known = {o["metadata"]["name"] for o in self.store.items("namespaces")}
            for key in _NAMESPACED:
                for obj in self.store.items(key):
                    ns = obj["metadata"].get("namespace")
                    if ns and ns not in known:
                        self.add_namespace(ns)
                        known.add(ns)
        return 200, "application/json", self.store.list("namespaces", None, query)

    def _route_secrets(self, method, ns, *, query, body):
        if method == "POST":
            return 201, self._put_secret(ns, None, self.json_body(body), create=True)
        return self._collection("secrets", ns, method, query)

    def _route_secret(self, method, ns, name, *, query, body):
        self._only(method, "GET", "PUT", "PATCH", "DELETE")
        if method == "GET":
            obj = self.store.get("secrets", ns, name)
            if obj is None:
                raise _not_found(name)
            return 200, obj
        if method == "DELETE":
            if self.store.delete("secrets", ns, name) is None:
                raise _not_found(name)
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Success", "details": {"name": name, "kind": "secrets"}}
        if method == "PATCH":
            from .kube_knative import merge_patch

            with self.lock:
                current = self.store.get("secrets", ns, name)
                if current is None:
                    raise _not_found(name)
                try:
                    patch = json.loads(body or b"null")
                except ValueError:
                    raise ApiError(400, "BadRequest", "invalid JSON in the patch") from None
                return 200, self._put_secret(ns, name, merge_patch(current, patch), create=False)
        return 200, self._put_secret(ns, name, self.json_body(body), create=False)

    def _put_secret(self, ns: str, name: str | None, obj: dict, *, create: bool) -> dict:
        meta = obj.get("metadata") or {}
        given = meta.get("name") or ""
        if name is not None and given and given != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the URL")
        name = name or given
        if not _DNS1123.match(name) or len(name) > 253:
            raise ApiError(422, "Invalid", f'Secret "{name}" is invalid: metadata.name: Invalid '
                           f"value: {name!r}: a lowercase RFC 1123 subdomain must consist of "
                           "lower case alphanumeric characters, '-' or '.'",
                           {"name": name, "kind": "Secret"})
        data = dict(obj.get("data") or {})
        for key, value in data.items():
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise ApiError(400, "BadRequest", f"data[{key}]: illegal base64 data") from None
        for key, value in (obj.get("stringData") or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        with self.lock:
            current = self.store.get("secrets", ns, name)
            if create and current is not None:
                raise ApiError(409, "AlreadyExists", f'secrets "{name}" already exists',
                               {"name": name, "kind": "secrets"})
            if not create and current is None:
                raise _not_found(name)
            base = current["metadata"] if current else self.meta(name, ns)
            out = {"apiVersion": "v1", "kind": "Secret",
                   "metadata": dict(base, labels=meta.get("labels") or base.get("labels") or {}),
                   "type": obj.get("type") or (current or {}).get("type") or "Opaque",
                   "data": data}
            return self.store.put("secrets", out)
