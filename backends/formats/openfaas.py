"""An OpenFaaS stack file (``stack.yml``) and the handler folders it names.

``functions:`` maps each name to ``lang``, ``handler`` (a folder, relative to the stack
file), ``image``, ``environment``, ``environment_file`` (YAML files with an
``environment:`` map, relative to the stack file; they override ``environment``, as
faas-cli merges them), ``labels``, ``annotations`` (``com.openfaas.scale.min``/``max``,
as labels or annotations, are the replica bounds), ``limits``/``requests`` (memory, cpu),
``constraints`` (``node.hostname == X`` or ``kubernetes.io/hostname=X`` pins the function
to a node) and ``secrets`` (the function reads them at ``/var/openfaas/secrets/NAME``; they
must exist when it deploys). ``exec_timeout`` in the environment is the timeout, as the
watchdogs read it. ``${VAR}`` and ``${VAR:-default}`` are substituted from the
environment of the person deploying, as faas-cli does. Each ``lang`` is called as its
template calls it (``LANGS``); requirements come from the handler folder's
``requirements.txt``. Everything else a stack file may carry is said once and ignored.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .. import quantities
from ..errors import InvalidRequest
from . import source
from .common import duration_s, load_yaml, mapping, parse_yaml, str_map
from .folder import read_requirements
from .package import Package, check_name

__all__ = ["LANGS", "STACK_NAMES", "is_stack", "find_stack", "read_stack", "read", "pack"]

#: lang -> calling convention (python3-flask is decided by handle's parameters, below)
LANGS = {
    "python3": "openfaas-classic",
    "python3-debian": "openfaas-classic",
    "python3-http": "openfaas-http",
    "python3-http-debian": "openfaas-http",
    "python3-flask": "openfaas-flask",
    "python3-flask-debian": "openfaas-flask",
}
STACK_NAMES = ("stack.yml", "stack.yaml")
_IGNORED = ("build_args", "build_options", "build_secrets", "skip_build", "fprocess",
            "readonly_root_filesystem", "namespace", "platforms", "secrets_file")
_NODE = (re.compile(r"^node\.hostname\s*==\s*(\S+)$"),
         re.compile(r"^kubernetes\.io/hostname\s*(?:==|=)\s*(\S+)$"))
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}")


def is_stack(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("functions"), dict) \
        and ("provider" in data or "version" in data)


def find_stack(root: Path) -> Path | None:
    return next((root / n for n in STACK_NAMES if (root / n).is_file()), None)


def envsubst(text: str, env=os.environ) -> str:
    """faas-cli's substitution: ``${VAR}``, ``${VAR:-default}`` (also when empty), ``${VAR-default}``."""
    def sub(m: re.Match) -> str:
        value = env.get(m.group(1))
        if m.group(2) == ":-" and not value:
            return m.group(3)
        if m.group(2) == "-" and value is None:
            return m.group(3)
        return value or ""
    return _VAR.sub(sub, text)


def _load(path: Path, substitute: bool) -> dict:
    label = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read {label}: {getattr(exc, 'strerror', None) or exc}") from None
    data = parse_yaml(envsubst(text) if substitute else text, label)
    if not is_stack(data):
        raise InvalidRequest(f"{label} is not an OpenFaaS stack file: it needs a `functions:` map "
                             "(and `version`/`provider`)")
    if not data["functions"]:
        raise InvalidRequest(f"{label} lists no functions")
    return data


def _resources(fn: dict, what: str, label: str) -> tuple[float | None, float | None]:
    memory = cpu = None
    for key in ("requests", "limits"):  # limits win
        res = mapping(fn.get(key), f"{label}: {what}.{key}")
        if res.get("memory") is not None:
            memory = quantities.memory_mb(res["memory"])
            if memory <= 0:
                raise InvalidRequest(f"{label}: {what}.{key}.memory must be like 128Mi, "
                                     f"got {res['memory']!r}")
        if res.get("cpu") is not None:
            cpu = quantities.cpus(res["cpu"])
            if cpu <= 0:
                raise InvalidRequest(f"{label}: {what}.{key}.cpu must be like 500m or 1, "
                                     f"got {res['cpu']!r}")
    return memory, cpu


def _inside(stack_dir: Path, relative: str, confine: bool, what: str, label: str) -> Path:
    """``stack_dir/relative``; in an upload (``confine``) it must stay inside the upload."""
    path = (stack_dir / relative).resolve()
    base = stack_dir.resolve()
    if confine and path != base and base not in path.parents:
        raise InvalidRequest(f"{label}: {what} {relative} is outside the uploaded package")
    return path


def _function(stack_dir: Path, label: str, name: str, fn: Any, notes: list[str],
              confine: bool = False) -> Package:
    what = f"functions.{name}"
    check_name(name)
    fn = mapping(fn, f"{label}: {what}")
    lang = str(fn.get("lang") or "")
    if not lang:
        raise InvalidRequest(f"{label}: function {name!r} has no lang; faastui runs Python "
                             "handlers, not prebuilt images",
                             hint=f"supported langs: {', '.join(LANGS)}")
    if lang not in LANGS:
        raise InvalidRequest(f"{label}: function {name!r} has lang {lang!r}, which faastui cannot run",
                             hint=f"supported langs: {', '.join(LANGS)}")
    if not fn.get("handler"):
        raise InvalidRequest(f"{label}: function {name!r} has no handler folder")
    folder = _inside(stack_dir, str(fn["handler"]), confine, "handler folder", label)
    if not folder.is_dir():
        raise InvalidRequest(f"{label}: function {name!r}: handler folder {fn['handler']} does not exist")
    params = source.entry_params(folder, "handler:handle", f"{label} function {name!r} (lang {lang})")
    signature = LANGS[lang]
    if signature == "openfaas-flask" and params is not None and len(params) == 2:
        signature = "openfaas-http"

    env = str_map(fn.get("environment"), f"{label}: {what}.environment")
    files = fn.get("environment_file") or []
    if not isinstance(files, list):
        raise InvalidRequest(f"{label}: {what}.environment_file must be a list of files")
    for env_file in files:
        path = _inside(stack_dir, str(env_file), confine, "environment_file", label)
        if not path.is_file():
            raise InvalidRequest(f"{label}: function {name!r}: environment_file {env_file} does not exist")
        data = mapping(load_yaml(path, str(env_file)), str(env_file))
        env.update(str_map(data.get("environment"), f"{env_file}: environment"))
    labels = str_map(fn.get("labels"), f"{label}: {what}.labels")
    annotations = str_map(fn.get("annotations"), f"{label}: {what}.annotations")
    scale = {**labels, **annotations}

    def bound(key: str) -> int:
        value = scale.get(key)
        if value in (None, ""):
            return 0
        if not str(value).strip().isdigit():
            raise InvalidRequest(f"{label}: {what}: {key} must be a whole number, got {value!r}")
        return int(value)

    node = ""
    constraints = fn.get("constraints") or []
    if not isinstance(constraints, list):
        raise InvalidRequest(f"{label}: {what}.constraints must be a list")
    for c in constraints:
        m = next((p.match(str(c).strip()) for p in _NODE if p.match(str(c).strip())), None)
        if m is None:
            notes.append(f"{label}: {name}: constraint {c!r} is ignored (only node.hostname / "
                         "kubernetes.io/hostname pin a function)")
        elif node and node != m.group(1):
            raise InvalidRequest(f"{label}: function {name!r} is pinned to two nodes: {node}, {m.group(1)}")
        else:
            node = m.group(1)
    secrets = fn.get("secrets") or []
    if not isinstance(secrets, list):
        raise InvalidRequest(f"{label}: {what}.secrets must be a list of names")
    for key in _IGNORED:
        if fn.get(key) not in (None, "", [], {}, False):
            notes.append(f"{label}: {name}: {key} is ignored (faastui builds no image)")
    memory, cpu = _resources(fn, what, label)
    timeout = duration_s(env["exec_timeout"], f"{label}: {name}: exec_timeout") \
        if env.get("exec_timeout") else 30.0
    return Package(
        name=name, format="openfaas", root=folder, handler="handler:handle", signature=signature,
        source=label, lang=lang, image=str(fn.get("image") or f"faastui/{name}:latest"),
        memory_mb=memory or 128.0, cpus=cpu or 0.5, timeout_s=timeout or 30.0, env=env,
        labels=labels, annotations=annotations, min_replicas=bound("com.openfaas.scale.min"),
        max_replicas=bound("com.openfaas.scale.max"), node=node, secrets=[str(s) for s in secrets],
        requirements=read_requirements(folder))


def read_stack(path: Path, names: list[str] | None = None, substitute: bool = True,
               confine: bool = False) -> list[Package]:
    """Every function of the stack file (or the ``names`` ones), all checked before any is
    returned; the stack-wide notes go on the first. ``confine``: the files it names must be
    beside it (an upload), not anywhere on this machine."""
    path = Path(path)
    data = _load(path, substitute)
    label = path.name
    functions = data["functions"]
    wanted = list(names or functions)
    missing = [n for n in wanted if n not in functions]
    if missing:
        raise InvalidRequest(f"{label} has no function {', '.join(map(repr, missing))}",
                             hint=f"it lists: {', '.join(map(str, functions))}")
    notes: list[str] = []
    provider = mapping(data.get("provider"), f"{label}: provider")
    if provider.get("gateway"):
        notes.append(f"{label}: provider.gateway is ignored: functions go to the current context")
    if mapping(data.get("configuration"), f"{label}: configuration").get("templates"):
        notes.append(f"{label}: configuration.templates is ignored (faastui runs the python langs itself)")
    packages = []
    for name in wanted:
        fn_notes: list[str] = []
        pkg = _function(path.parent, label, str(name), functions[name], fn_notes, confine)
        pkg.notes = fn_notes
        packages.append(pkg)
    packages[0].notes[:0] = notes
    return packages


def read(root: Path, name: str | None = None, source_name: str | None = None) -> Package:
    """The one function of a stack file in ``root`` (``name`` picks it when there are more)."""
    path = find_stack(root)
    data = _load(path, substitute=False)
    functions = list(data["functions"])
    if name is None and len(functions) > 1:
        raise InvalidRequest(f"{path.name} lists {len(functions)} functions ({', '.join(functions)}); "
                             "name the one to deploy",
                             hint="deploy them all with `faastui deploy -f stack.yml`")
    return read_stack(path, [name or functions[0]], substitute=False, confine=True)[0]


def pack(path: Path, name: str) -> bytes:
    """The upload of one function of a stack file: a zip with a one-function ``stack.yml``
    (substituted, environment files merged in) and its handler folder beside it."""
    import yaml  # deferred: only deploys write YAML

    from .archive import folder_entries, zip_files

    path = Path(path)
    pkg = read_stack(path, [name])[0]
    entry = dict(_load(path, substitute=True)["functions"][name])
    entry["handler"] = f"./{name}"
    entry["environment"] = pkg.env
    entry.pop("environment_file", None)
    stack = {"version": "1.0", "provider": {"name": "openfaas"}, "functions": {name: entry}}
    text = yaml.safe_dump(stack, sort_keys=False).encode()
    return zip_files([(text, "stack.yml")] + folder_entries(pkg.root, name))
