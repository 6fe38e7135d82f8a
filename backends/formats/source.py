"""What a handler module defines, read without running it (``ast``).

Formats check before anything is deployed that the module a file names exists, that it
compiles, and that it defines the entry function; the entry's parameters decide the
calling convention where a format leaves it open (Nuclio vs. the Fusionizer).
"""

from __future__ import annotations

import ast
from pathlib import Path

from ..errors import InvalidRequest

__all__ = ["module_path", "entry_params", "first_entry", "ENTRY_CANDIDATES"]

#: the entry functions a folder is searched for, in this order
ENTRY_CANDIDATES = ("handle", "main", "handler")

_UNKNOWN = None  # defined, but not as a plain def (an assignment, an import): parameters unknown


def module_path(root: Path, module: str) -> Path:
    """``root/pkg/mod.py`` for ``pkg.mod``; a name that is not a dotted Python name is refused
    (it could point outside the package)."""
    if not module or not all(part.isidentifier() for part in module.split(".")):
        raise InvalidRequest(
            f"handler module {module!r} is not a Python module name",
            hint="write the handler as module:function, e.g. main:handler",
        )
    return root / (module.replace(".", "/") + ".py")


def _parse(path: Path, label: str) -> ast.Module:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InvalidRequest(f"cannot read {label}: {exc.strerror}") from None
    try:
        return ast.parse(text, filename=label)
    except SyntaxError as exc:
        raise InvalidRequest(f"{label} does not compile: line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:  # null bytes
        raise InvalidRequest(f"{label} does not compile: {exc}") from None


def _defined(tree: ast.Module) -> dict[str, list[str] | None]:
    """Top-level names: a def's positional parameter names, or None for other bindings."""
    names: dict[str, list[str] | None] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            names[node.name] = [a.arg for a in (args.posonlyargs + args.args)]
        elif isinstance(node, ast.ClassDef):
            names.setdefault(node.name, _UNKNOWN)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    names.setdefault(t.id, _UNKNOWN)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.setdefault((alias.asname or alias.name).split(".")[0], _UNKNOWN)
    return names


def entry_params(root: Path, handler: str, where: str) -> list[str] | None:
    """The positional parameters of ``module:func`` in ``root`` (None when it is defined
    some other way). Raises InvalidRequest naming ``where`` when it is missing."""
    module, _, func = handler.partition(":")
    if not func.isidentifier():
        raise InvalidRequest(f"{where} names handler {handler!r}: {func!r} is not a function name")
    path = module_path(root, module)
    label = f"{module.replace('.', '/')}.py"
    if not path.is_file():
        raise InvalidRequest(f"{where} names handler {handler!r}, but the package has no {label}")
    names = _defined(_parse(path, label))
    if func not in names:
        raise InvalidRequest(f"{where} names handler {handler!r}, but {label} defines no {func}()")
    return names[func]


def first_entry(root: Path, module: str, candidates=ENTRY_CANDIDATES) -> str | None:
    """The first of ``candidates`` that ``module`` defines, or None."""
    path = module_path(root, module)
    names = _defined(_parse(path, f"{module}.py"))
    return next((c for c in candidates if c in names), None)
