"""A Nuclio ``function.yaml`` (``apiVersion: nuclio.io/v1``, ``kind: NuclioFunction``), and
the Nuclio Fusionizer's task zip, which is the same file beside a handler that takes a third
parameter, ``requests_session``.

Honoured: ``metadata.name`` (else the name given with the package, else the folder's),
``metadata.labels``/``annotations``, ``spec.handler`` (``module:func``, default
``main:handler``), ``spec.runtime`` (python, python:3.x), ``spec.env`` (name/value),
``spec.build.commands`` (``pip install ...`` lines become requirements; any other command
is refused), ``spec.minReplicas``/``maxReplicas``/``replicas``, ``spec.resources``,
``spec.eventTimeout``, ``spec.description``, ``spec.image``. Said once and ignored: triggers,
the namespace, build settings other than commands, ``valueFrom`` env entries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import quantities
from ..errors import InvalidRequest
from . import requirements, source
from .common import duration_s, integer, load_yaml, mapping, str_map
from .package import Package, check_name, name_from_folder

__all__ = ["read", "is_nuclio"]

#: requirements the runtime already gives a Fusionizer task (it is handed a requests.Session)
_PROVIDED_TO_TASKS = {"requests"}


def is_nuclio(data: Any) -> bool:
    return isinstance(data, dict) and (
        str(data.get("apiVersion", "")).startswith("nuclio.io/") or data.get("kind") == "NuclioFunction"
    )


def _quantity(value: Any, what: str, convert) -> float:
    amount = convert(value)
    if amount <= 0:
        raise InvalidRequest(f"{what} must be a positive quantity like 128Mi or 500m, got {value!r}")
    return amount


def _env(value: Any, label: str, notes: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):  # lenient: a plain mapping
        return str_map(value, f"{label}: spec.env")
    if not isinstance(value, list):
        raise InvalidRequest(f"{label}: spec.env must be a list of {{name, value}}")
    out = {}
    for i, item in enumerate(value, 1):
        if not isinstance(item, dict) or not item.get("name"):
            raise InvalidRequest(f"{label}: spec.env[{i}] needs a name")
        if "valueFrom" in item and "value" not in item:
            notes.append(f"{label}: spec.env {item['name']}: valueFrom is not supported; left unset")
            continue
        v = item.get("value")
        out[str(item["name"])] = "" if v is None else str(v)
    return out


def read(root: Path, name: str | None = None, source_name: str | None = None) -> Package:
    label = "function.yaml" if (root / "function.yaml").is_file() else "function.yml"
    data = mapping(load_yaml(root / label), label)
    meta = mapping(data.get("metadata"), f"{label}: metadata")
    spec = mapping(data.get("spec"), f"{label}: spec")
    notes: list[str] = []
    folder = root.name if source_name is None else source_name
    fname = (
        check_name(name) if name else (check_name(str(meta["name"])) if meta.get("name") else name_from_folder(folder))
    )

    runtime = str(spec.get("runtime") or "python")
    if runtime != "python" and not runtime.startswith("python:3"):
        raise InvalidRequest(
            f"{label}: spec.runtime {runtime!r} is not Python; faastui runs python and python:3.x functions"
        )
    handler = str(spec.get("handler") or "main:handler")
    if ":" not in handler:
        raise InvalidRequest(f"{label}: spec.handler must be module:function, got {handler!r}")
    params = source.entry_params(root, handler, f"{label} spec.handler")
    task = params is not None and len(params) >= 3

    build = mapping(spec.get("build"), f"{label}: spec.build")
    reqs, pip_notes = requirements.from_build_commands(build.get("commands"), root, label)
    notes += pip_notes
    if task:
        for req in [r for r in reqs if r in _PROVIDED_TO_TASKS]:
            reqs.remove(req)
            notes.append(
                f"{label}: pip install {req}: not needed, faastui gives tasks "
                "`requests` (the requests_session is a requests.Session)"
            )
    for key in sorted(set(build) - {"commands"}):
        notes.append(f"{label}: spec.build.{key} is ignored (faastui builds no image)")
    for key in ("triggers", "platform", "volumes", "serviceType", "imagePullSecrets"):
        if spec.get(key):
            notes.append(f"{label}: spec.{key} is ignored (the engine serves HTTP itself)")
    if meta.get("namespace"):
        notes.append(f"{label}: metadata.namespace is ignored")

    resources = mapping(spec.get("resources"), f"{label}: spec.resources")
    limits = mapping(resources.get("limits"), f"{label}: spec.resources.limits")
    wanted = mapping(resources.get("requests"), f"{label}: spec.resources.requests")
    memory = limits.get("memory", wanted.get("memory"))
    cpu = limits.get("cpu", wanted.get("cpu"))
    replicas = spec.get("replicas")
    low = spec.get("minReplicas", replicas if replicas is not None else 0)
    high = spec.get("maxReplicas", replicas if replicas is not None else 0)
    return Package(
        name=fname,
        format="fusionizer" if task else "nuclio",
        root=root,
        handler=handler,
        signature="fusionizer" if task else "nuclio",
        source=label,
        lang=runtime,
        image=str(spec.get("image") or f"faastui/{fname}:latest"),
        description=str(spec.get("description") or ""),
        memory_mb=_quantity(memory, f"{label}: spec.resources memory", quantities.memory_mb)
        if memory is not None
        else 128.0,
        cpus=_quantity(cpu, f"{label}: spec.resources cpu", quantities.cpus) if cpu is not None else 0.5,
        timeout_s=duration_s(spec["eventTimeout"], f"{label}: spec.eventTimeout") if spec.get("eventTimeout") else 30.0,
        env=_env(spec.get("env"), label, notes),
        labels=str_map(meta.get("labels"), f"{label}: metadata.labels"),
        annotations=str_map(meta.get("annotations"), f"{label}: metadata.annotations"),
        min_replicas=integer(low, f"{label}: spec.minReplicas"),
        max_replicas=integer(high, f"{label}: spec.maxReplicas"),
        requirements=reqs,
        notes=notes,
    )
