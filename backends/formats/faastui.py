"""faastui's own format: a folder with ``function.yaml`` and the handler module.

``function.yaml`` keys: ``name``, ``handler`` (``module:func``; default the first of
handle, main, handler in handler.py), ``signature`` (one of ``SIGNATURES``; default from
the entry's parameters), ``image``, ``memory`` (MB), ``cpus``, ``timeout`` (s),
``deadline_ms``, ``env``, ``labels``, ``min_replicas``, ``max_replicas``, ``node``,
``secrets`` (names the function reads at ``/var/openfaas/secrets/NAME``); requirements in
``requirements.txt``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidRequest
from . import requirements, source
from .common import integer, load_yaml, mapping, number, str_map
from .package import SIGNATURES, Package, check_name, name_from_folder

__all__ = ["read", "KNOWN_KEYS"]

KNOWN_KEYS = {"name", "handler", "signature", "image", "memory", "memory_mb", "cpus", "timeout",
              "timeout_s", "deadline_ms", "env", "labels", "min_replicas", "max_replicas", "node",
              "runtime", "description", "secrets"}


def _handler(root: Path, given, label: str) -> str:
    if not given:
        module = "handler" if (root / "handler.py").is_file() else "main"
        if not (root / f"{module}.py").is_file():
            raise InvalidRequest(f"{label} names no handler and the package has no handler.py")
        func = source.first_entry(root, module)
        if func is None:
            raise InvalidRequest(f"{module}.py defines none of handle(), main(), handler()",
                                 hint="define e.g. `def handle(req): return req`")
        return f"{module}:{func}"
    handler = str(given)
    if ":" not in handler:  # "handler" or "handler.py": the module, entry found in it
        module = handler[:-3] if handler.endswith(".py") else handler
        if not source.module_path(root, module).is_file():
            raise InvalidRequest(f"{label} names handler {handler!r}, but the package has no {module}.py")
        func = source.first_entry(root, module) or "handle"
        return f"{module}:{func}"
    return handler


def read(root: Path, name: str | None = None, source_name: str | None = None) -> Package:
    label = "function.yaml" if (root / "function.yaml").is_file() else "function.yml"
    data = mapping(load_yaml(root / label), label)
    fname = check_name(name) if name else (
        check_name(str(data["name"])) if data.get("name") else name_from_folder(root.name if source_name is None else source_name))
    handler = _handler(root, data.get("handler"), label)
    source.entry_params(root, handler, label)
    signature = str(data.get("signature") or "")
    if signature and signature not in SIGNATURES:
        raise InvalidRequest(f"{label}: unknown signature {signature!r}",
                             hint=f"one of {', '.join(SIGNATURES)}")
    reqs = requirements.read_file(root / "requirements.txt", "requirements.txt") \
        if (root / "requirements.txt").is_file() else []
    unknown = sorted(set(map(str, data)) - KNOWN_KEYS)
    notes = [f"{label}: ignored unknown key(s) {', '.join(unknown)}"] if unknown else []

    secrets = data.get("secrets") or []
    if not isinstance(secrets, list) or not all(isinstance(x, str) for x in secrets):
        raise InvalidRequest(f"{label}: secrets must be a list of secret names")

    def num(key, alt, default, low):
        value = data.get(key, data.get(alt, default)) if alt else data.get(key, default)
        return None if value is None else number(value, f"{label}: {key}", low)

    return Package(
        name=fname, format="faastui", root=root, handler=handler, signature=signature,
        source=label, image=str(data.get("image") or f"faastui/{fname}:latest"),
        runtime=str(data.get("runtime") or "python"), description=str(data.get("description") or ""),
        memory_mb=num("memory", "memory_mb", 128, 8), cpus=num("cpus", None, 0.5, 0),
        timeout_s=num("timeout", "timeout_s", 30, 0.001), deadline_ms=num("deadline_ms", None, None, 0),
        env=str_map(data.get("env"), f"{label}: env"),
        labels=str_map(data.get("labels"), f"{label}: labels"),
        min_replicas=integer(data.get("min_replicas", 0), f"{label}: min_replicas"),
        max_replicas=integer(data.get("max_replicas", 0), f"{label}: max_replicas"),
        node=str(data.get("node") or ""), secrets=list(secrets), requirements=reqs, notes=notes)
