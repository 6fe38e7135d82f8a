"""A function's secrets at ``/var/openfaas/secrets/NAME``, where OpenFaaS mounts them,
without root: inside a worker, reads of that path are answered from the engine's secret
store (``secret_store.py``), for the secrets the function was deployed with and no others.

OpenFaaS functions read a secret by path (``open("/var/openfaas/secrets/api-key")``). The
engine cannot mount a folder there (that needs root), so the zygote and its workers resolve
the path themselves: ``install()`` wraps the calls Python code reaches files through
(``open``/``io.open``, ``os.open``, ``os.stat``/``lstat``, ``os.access``, ``os.listdir``,
``os.scandir``; ``pathlib``, ``os.path.exists``/``isfile``/``getsize``, ``shutil`` and
``json.load(open(...))`` go through them). A path below the mount names a secret: one the
function is given opens the store's file (read only: writing is ``EROFS``, as on OpenFaaS's
read-only mount); any other is ``FileNotFoundError`` naming the path the function used, as
if the file were not there. ``os.listdir(MOUNT)`` lists the function's own secrets.

Which function is asking: a worker hosts one function, or a fusion group's members; in a
call it is the member being called (``logstamp.calling``), outside any call (a thread the
handler started) the union of the members' secrets. While the zygote imports a function
(a handler that reads its secret at import) it is that function.

What this is not: a wall between functions. Functions run as the engine's user, so code
that goes around Python's file calls (a subprocess, ``ctypes``) sees the real file system,
where ``/var/openfaas/secrets`` does not exist, and could read the store's folder like any
file of that user. Kept small: the zygote imports it for every worker.
"""

from __future__ import annotations

import builtins
import errno
import io
import os

from . import logstamp

__all__ = ["MOUNT", "install", "configure", "loading", "installed"]

#: where OpenFaaS mounts a function's secrets (``backends.secrets.MOUNT``, kept here so the
#: zygote imports nothing more)
MOUNT = "/var/openfaas/secrets"
_PREFIX = MOUNT + "/"
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

_root = ""  # the store's folder
_by_fn: dict[str, tuple[str, ...]] = {}  # hosted function -> the secrets it is given
_loading: tuple[str, ...] | None = None  # the secrets of the function being imported
_real: dict = {}  # the wrapped callables, by name


def installed() -> bool:
    return bool(_real)


def configure(root: str, by_fn: dict[str, list[str]]) -> None:
    """Where the store is and which secrets each hosted function is given."""
    global _root, _by_fn
    _root = root
    _by_fn = {fn: tuple(names) for fn, names in by_fn.items()}


class loading:
    """``with loading(root, secrets):`` the zygote imports a function that is given
    ``secrets`` (its module may read them at import)."""

    def __init__(self, root: str, secrets: list[str]):
        self.root, self.secrets = root, tuple(secrets)

    def __enter__(self):
        global _loading, _root
        _root = self.root or _root
        _loading = self.secrets
        return self

    def __exit__(self, *exc):
        global _loading
        _loading = None
        return False


def _allowed() -> tuple[str, ...]:
    if _loading is not None:
        return _loading
    names = _by_fn.get(logstamp.calling.function)
    if names is not None:
        return names
    out: list[str] = []
    for given in _by_fn.values():
        out += [n for n in given if n not in out]
    return tuple(out)


def _missing(path) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)


def _resolve(path):
    """None for a path outside the mount; else ``(real path, the function's path)``, the
    real path None for what the function is not given (or that does not exist)."""
    if isinstance(path, int):
        return None
    try:
        text = os.fsdecode(os.fspath(path))
    except TypeError:
        return None
    if "openfaas" not in text:
        return None
    if not text.startswith("/"):
        text = os.path.join(os.getcwd(), text)
    text = os.path.normpath(text)
    if text == MOUNT:
        return (_root or None), path
    if not text.startswith(_PREFIX):
        return None
    name = text[len(_PREFIX):]
    if "/" in name or name not in _allowed() or not _root:
        return None, path
    return os.path.join(_root, name), path


def _reraise(exc: OSError, shown):
    return type(exc)(exc.errno, exc.strerror, shown)


def _open(file, mode="r", *args, **kwargs):
    got = _resolve(file)
    if got is None:
        return _real["open"](file, mode, *args, **kwargs)
    real, shown = got
    if any(c in mode for c in "wax+"):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), shown)
    if real is None:
        raise _missing(shown)
    try:
        return _real["open"](real, mode, *args, **kwargs)
    except OSError as exc:
        raise _reraise(exc, shown) from None


def _os_open(path, flags, mode=0o777, *, dir_fd=None):
    got = None if dir_fd is not None else _resolve(path)
    if got is None:
        return _real["os.open"](path, flags, mode, dir_fd=dir_fd)
    real, shown = got
    if flags & _WRITE_FLAGS:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), shown)
    if real is None:
        raise _missing(shown)
    try:
        return _real["os.open"](real, flags, mode)
    except OSError as exc:
        raise _reraise(exc, shown) from None


def _path_call(key: str):
    real_fn = None

    def call(path, *args, **kwargs):
        got = None if kwargs.get("dir_fd") is not None else _resolve(path)
        if got is None:
            return real_fn(path, *args, **kwargs)
        real, shown = got
        if real is None:
            if key == "os.access":
                return False
            raise _missing(shown)
        try:
            return real_fn(real, *args, **kwargs)
        except OSError as exc:
            raise _reraise(exc, shown) from None

    def bind(fn):
        nonlocal real_fn
        real_fn = fn
        return call
    return bind


def _listdir(path="."):
    got = _resolve(path)
    if got is None:
        return _real["os.listdir"](path)
    real, shown = got
    if real is None:
        raise _missing(shown)
    if real != _root:  # a secret is a file, not a folder
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), shown)
    names = [n for n in _allowed() if os.path.isfile(os.path.join(_root, n))]
    return [os.fsencode(n) for n in names] if isinstance(path, bytes) else names


class _Entry:
    """What ``os.scandir(MOUNT)`` yields: a DirEntry's interface, under the mount."""

    def __init__(self, name: str):
        self.name = name
        self.path = os.path.join(MOUNT, name)
        self._real = os.path.join(_root, name)

    def is_file(self, *, follow_symlinks=True):
        return True

    def is_dir(self, *, follow_symlinks=True):
        return False

    def is_symlink(self):
        return False

    def stat(self, *, follow_symlinks=True):
        return _real["os.stat"](self._real)

    def inode(self):
        return self.stat().st_ino

    def __fspath__(self):
        return self.path

    def __repr__(self):
        return f"<DirEntry {self.name!r}>"


class _Entries:
    def __init__(self, names):
        self._it = iter([_Entry(n) for n in names])

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)

    def close(self):
        self._it = iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _scandir(path="."):
    got = _resolve(path)
    if got is None:
        return _real["os.scandir"](path)
    real, shown = got
    if real != _root or real is None:
        raise _missing(shown) if real is None else NotADirectoryError(
            errno.ENOTDIR, os.strerror(errno.ENOTDIR), shown)
    return _Entries(_listdir(MOUNT))


def install() -> None:
    """Wrap the file calls (once; a forked worker inherits them from its zygote)."""
    if _real:
        return
    _real.update({"open": builtins.open, "os.open": os.open, "os.stat": os.stat,
                  "os.lstat": os.lstat, "os.access": os.access, "os.listdir": os.listdir,
                  "os.scandir": os.scandir})
    builtins.open = io.open = _open
    os.open = _os_open
    os.stat = _path_call("os.stat")(_real["os.stat"])
    os.lstat = _path_call("os.lstat")(_real["os.lstat"])
    os.access = _path_call("os.access")(_real["os.access"])
    os.listdir = _listdir
    os.scandir = _scandir
