"""Services of the FAKE Kubernetes API server (tests/fakes/kube_api.py): create (a DNS-1035
name, ports required, a cluster IP assigned), read, list/watch, delete. Written from the
Service v1 reference; a mixin of ``FakeKube``, sharing nothing with the code under test."""

from __future__ import annotations

import re

from .kube_store import ApiError

__all__ = ["ServicesMixin"]

_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class ServicesMixin:
    """``/api/v1/namespaces/{ns}/services[/{name}]`` (needs the FakeKube attributes)."""

    def _route_services(self, method, ns, *, query, body):
        if method == "POST":
            return 201, self._create_service(ns, self.json_body(body))
        return self._collection("services", ns, method, query)

    def _route_service(self, method, ns, name, *, query, body):
        self._only(method, "GET", "DELETE")
        if method == "DELETE":
            obj = self.store.delete("services", ns, name)
            if obj is None:
                raise ApiError(404, "NotFound", f'services "{name}" not found', {"name": name, "kind": "services"})
            return 200, {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "kind": "services"},
            }
        return 200, self._get("services", ns, name)

    def _create_service(self, ns: str, obj: dict) -> dict:
        meta = obj.get("metadata") or {}
        name = meta.get("name") or ""
        causes = []
        if not _DNS1035_LABEL.match(name) or len(name) > 63:
            causes.append(
                f"metadata.name: Invalid value: {name!r}: a DNS-1035 label must "
                "consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character"
            )
        ports = (obj.get("spec") or {}).get("ports")
        if not ports:
            causes.append("spec.ports: Required value")
        if causes:
            raise ApiError(
                422, "Invalid", f'Service "{name}" is invalid: ' + ", ".join(causes), {"name": name, "kind": "Service"}
            )
        with self.lock:
            if self.store.get("services", ns, name) is not None:
                raise ApiError(
                    409, "AlreadyExists", f'services "{name}" already exists', {"name": name, "kind": "services"}
                )
            obj["metadata"] = dict(meta, **self.meta(name, ns))
            spec = obj["spec"]
            spec.setdefault("type", "ClusterIP")
            n = next(self._cluster_ip)
            spec["clusterIP"] = f"10.96.{n // 250}.{n % 250 + 1}"
            for port in spec["ports"]:
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
            obj["status"] = {"loadBalancer": {}}
            return self.store.put("services", obj)
