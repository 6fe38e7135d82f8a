"""Contexts: which backend the faces talk to, where it is, and with which credentials.

A kubeconfig-like YAML file at ``config_dir()/config.yaml``::

    current-context: local
    theme: faastui-dark          # the dashboard's theme (remembered by `:theme`)
    keys: {prewarm: w}           # dashboard key remaps, by binding id
    keymap: k9s                  # the dashboard's key map (keymaps/*.toml), under `keys`
    readonly: false              # the dashboard opens read-only (as --readonly)
    refresh_s: 1                 # seconds between the dashboard's refreshes (>= 0.25)
    default_view: all            # the pane it opens on: nodes, fn, queues, qos, fusion, events
    contexts:
      - name: local
        backend: local            # a backends.registry kind
        url: null                 # local: read from the running engine's engine.json
        state_dir: null           # local: the engine's state dir
        credentials: null         # a name in credentials.yaml
        redis_url: null
        kube_context: null
        options: {}               # backend-specific settings, e.g. {namespace: serving}

Secrets live apart, in ``credentials.yaml`` (mode 0600), referenced by name: a
``token``, or a ``password`` (OpenFaaS basic auth; the user name, not a secret, is the
``user`` option), so ``context show`` can print a context without ever printing one. Both
files are written atomically (temp file + rename). ``--context`` and
``FAASTUI_CONTEXT`` choose another context than the current one;
``FAASTUI_URL`` overrides the chosen context's URL. The ``local`` context
always exists, even with no file: it points at the embedded engine.

This module imports no backend until ``Context.backend()`` is called.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backends.errors import InvalidRequest

from . import locations

__all__ = [
    "parse_option",
    "Context",
    "Config",
    "load_config",
    "save_config",
    "load_credentials",
    "save_credentials",
    "resolve_context",
    "LOCAL",
]

LOCAL = "local"
_FIELDS = ("name", "backend", "url", "state_dir", "credentials", "redis_url", "kube_context")


#: context fields ``-O KEY=VALUE`` may set too, as the issue's `-O kube_context=` (``context
#: add`` moves them out of ``options`` into the field)
FIELD_OPTIONS = frozenset({"kube_context"})
#: keys a context sets through its own fields (or its stored secrets), never through ``options``
RESERVED_OPTIONS = (frozenset(_FIELDS) - FIELD_OPTIONS) | {"token", "password"}

#: the secrets a credentials entry may hold, each passed to the backend as the keyword it names
SECRETS = ("token", "password")


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value); the value read as YAML (``30`` is a number,
    ``true`` a bool, anything else text). Raises InvalidRequest."""
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key.isidentifier():
        raise InvalidRequest(f"bad option {text!r}", hint="use KEY=VALUE, e.g. namespace=serving")
    if key in SECRETS:
        raise InvalidRequest(
            f"a {key} is a secret, never an option (options are printed)",
            hint=f"use --{key}-stdin: it is stored apart, mode 0600",
        )
    if key in RESERVED_OPTIONS:
        raise InvalidRequest(f"{key!r} is a context field, not an option", hint=f"use --{key.replace('_', '-')}")
    try:
        value = _yaml().safe_load(raw) if raw.strip() else ""
    except Exception:  # noqa: BLE001 - not YAML: the text itself
        value = raw
    if not isinstance(value, (str, int, float, bool)):
        value = raw  # lists/maps stay text: backends take scalars
    return key, value


def _yaml():
    import yaml  # deferred: 35 ms, only commands that read the config pay it

    return yaml


@dataclass
class Context:
    name: str
    backend: str = "local"
    url: str | None = None
    state_dir: str | None = None
    credentials: str | None = None
    redis_url: str | None = None
    kube_context: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # backend-specific keyword arguments

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["options"]:
            del data["options"]
        return data

    def engine_state_dir(self) -> Path:
        """The embedded engine's state dir for this context."""
        if self.state_dir:
            return Path(self.state_dir).expanduser()
        return locations.state_dir() / "engine"

    def backend_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"url": os.environ.get("FAASTUI_URL") or self.url}
        if self.credentials:
            creds = load_credentials().get(self.credentials)
            if creds is None:
                raise InvalidRequest(
                    f"context {self.name!r} refers to unknown credentials {self.credentials!r}",
                    hint="add them with `faastui context add ... --token`",
                )
            for key in SECRETS:
                if creds.get(key) is not None:
                    kwargs[key] = str(creds[key])
        if self.backend == "local":
            kwargs["state_dir"] = self.engine_state_dir()
        if self.redis_url:
            kwargs["redis_url"] = self.redis_url
        if self.kube_context:
            kwargs["kube_context"] = self.kube_context
        for key, value in self.options.items():
            kwargs.setdefault(key, value)  # never over the fields above
        return kwargs

    def in_namespace(self, namespace: str) -> Context:
        """This context working in ``namespace`` (over its ``namespace`` option).
        Raises: Unsupported (exit 3) when its backend has no namespaces."""
        import dataclasses

        from backends import registry
        from backends.base import Capability
        from backends.errors import Unsupported

        cls = registry.load(self.backend)
        if Capability.NAMESPACES not in cls.capabilities:
            raise Unsupported(
                f"the {cls.name} backend has no namespaces (-n {namespace})",
                hint="leave -n out, or use a context whose backend has them "
                "(`faastui context show` lists its capabilities)",
            )
        return dataclasses.replace(self, options={**self.options, "namespace": namespace})

    def build_backend(self, namespace: str | None = None):
        """A Backend instance for this context (imports the backend module now), working in
        ``namespace`` when given (else the ``namespace`` option, else the backend's default).
        Raises: Unsupported for a namespace on a backend without namespaces; InvalidRequest
        (exit 2) for an option the backend does not declare (``backends.options``)."""
        from backends import options, registry

        ctx = self.in_namespace(namespace) if namespace is not None else self
        return options.build(registry.load(ctx.backend), ctx.backend_kwargs(), where=f"context {ctx.name!r}")


def _default_local() -> Context:
    return Context(name=LOCAL, backend="local")


@dataclass
class Config:
    current_context: str = LOCAL
    contexts: list[Context] = field(default_factory=list)
    theme: str | None = None  # the dashboard's theme, remembered across runs
    keys: dict[str, str] = field(default_factory=dict)  # dashboard binding id -> key
    # the dashboard's settings (DASHBOARD_KEYS); None: not set in the file
    keymap: str | None = None
    readonly: bool | None = None
    refresh_s: float | None = None
    default_view: str | None = None

    def get(self, name: str) -> Context:
        for ctx in self.contexts:
            if ctx.name == name:
                return ctx
        if name == LOCAL:
            return _default_local()
        from backends.errors import did_you_mean

        names = [c.name for c in self.all()]
        raise InvalidRequest(
            f"unknown context {name!r}", hint=did_you_mean(name, names) or f"known: {', '.join(names)}"
        )

    def all(self) -> list[Context]:
        """Every context, the implicit ``local`` one included."""
        out = list(self.contexts)
        if not any(c.name == LOCAL for c in out):
            out.insert(0, _default_local())
        return out

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"current-context": self.current_context}
        if self.theme:
            data["theme"] = self.theme
        if self.keys:
            data["keys"] = dict(self.keys)
        for key in DASHBOARD_KEYS:
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        data["contexts"] = [c.to_dict() for c in self.contexts]
        return data


def config_path() -> Path:
    return locations.config_dir() / "config.yaml"


def credentials_path() -> Path:
    return locations.config_dir() / "credentials.yaml"


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidRequest(f"cannot read {path}: {exc.strerror}") from None
    yaml = _yaml()
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise InvalidRequest(f"{path} is not valid YAML", hint="fix or remove it") from None


def _write_atomic(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise


def load_config() -> Config:
    path = config_path()
    data = _read_yaml(path)
    if data is None:
        return Config()
    if not isinstance(data, dict):
        raise InvalidRequest(f"{path} must be a mapping with 'contexts'")
    contexts = []
    for i, raw in enumerate(data.get("contexts") or []):
        if not isinstance(raw, dict) or not raw.get("name"):
            raise InvalidRequest(f"{path}: context {i + 1} needs a name")
        options = raw.get("options") or {}
        if not isinstance(options, dict):
            raise InvalidRequest(f"{path}: context {raw['name']!r}: 'options' must be a mapping")
        contexts.append(
            Context(
                **{k: (str(raw[k]) if raw.get(k) is not None else None) for k in _FIELDS if k in raw},
                options={str(k): v for k, v in options.items()},
            )
        )
        if contexts[-1].backend is None:
            contexts[-1].backend = "local"
    keys = data.get("keys") or {}
    if not isinstance(keys, dict):
        raise InvalidRequest(f"{path}: 'keys' must map binding ids to keys")
    return Config(
        current_context=str(data.get("current-context") or LOCAL),
        contexts=contexts,
        theme=str(data["theme"]) if data.get("theme") else None,
        keys={str(k): str(v) for k, v in keys.items()},
        **_dashboard_settings(data, path),
    )


#: the dashboard's settings a config file may hold at its top level, with their types
DASHBOARD_KEYS = {"keymap": str, "readonly": bool, "refresh_s": float, "default_view": str}
MIN_REFRESH_S = 0.25


def _dashboard_settings(data: dict, path: Path) -> dict[str, Any]:
    """``keymap``, ``readonly``, ``refresh_s``, ``default_view``, checked (InvalidRequest
    naming the file and the key). The dashboard checks a key map's or a view's name."""
    out: dict[str, Any] = {}
    for key, kind in DASHBOARD_KEYS.items():
        value = data.get(key)
        if value is None:
            continue
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
            if value < MIN_REFRESH_S:
                raise InvalidRequest(f"{path}: {key} must be at least {MIN_REFRESH_S} seconds, not {value:g}")
        elif not isinstance(value, kind) or (kind is str and not value.strip()):
            what = {str: "a name", bool: "true or false", float: "a number of seconds"}[kind]
            raise InvalidRequest(f"{path}: {key} must be {what}, not {value!r}")
        out[key] = value.strip() if isinstance(value, str) else value
    return out


def save_config(config: Config) -> None:
    _write_atomic(config_path(), _yaml().safe_dump(config.to_dict(), sort_keys=False), 0o600)


def load_credentials() -> dict[str, dict]:
    data = _read_yaml(credentials_path())
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidRequest(f"{credentials_path()} must be a mapping of name -> credentials")
    return {str(k): (v if isinstance(v, dict) else {"token": str(v)}) for k, v in data.items()}


def save_credentials(creds: dict[str, dict]) -> None:
    _write_atomic(credentials_path(), _yaml().safe_dump(creds, sort_keys=True), 0o600)


def resolve_context(name: str | None = None, config: Config | None = None) -> Context:
    """The context to use: ``name`` (``--context``), else $FAASTUI_CONTEXT, else current."""
    config = config or load_config()
    return config.get(name or os.environ.get("FAASTUI_CONTEXT") or config.current_context)
