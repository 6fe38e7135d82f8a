"""No import circle anywhere in faastui/ and backends/, deferred imports included
(issue 13), and none in backends/workflow, where issue 13 found one.

Every import in every module, at the top or inside a function, is read with ``ast``
and the modules of the package form a graph; a cycle in it fails the test. (A
deferred import hides a circle from Python, not from the next reader.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import backends.workflow

PACKAGE = Path(backends.workflow.__file__).resolve().parent
NAME = "backends.workflow"


def _imports(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    out.add(node.module.split(".")[0])
                else:
                    out.update(a.name for a in node.names)
            elif node.level == 0 and node.module and node.module.startswith(NAME + "."):
                out.add(node.module[len(NAME) + 1 :].split(".")[0])
            elif node.level == 0 and node.module == NAME:
                out.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(NAME + "."):
                    out.add(a.name[len(NAME) + 1 :].split(".")[0])
    return {m for m in out if m in modules} - {path.stem}


def graph() -> dict[str, set[str]]:
    return {p.stem: _imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(g.get(node, ())):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_backends_workflow_has_no_import_circle():
    g = graph()
    assert {"policies", "rl", "simulator", "training", "gym_env", "observation"} <= set(g)
    assert cycles(g) == [], cycles(g)
    # the circle issue 13 named is gone: policies -> rl -> simulator -> policies
    assert "simulator" not in g["rl"] and "policies" not in g["simulator"]


ROOT = PACKAGE.parent.parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_graph() -> dict[str, set[str]]:
    """Every module of faastui and backends -> the project modules it imports anywhere in
    the file. An import of a module's own parent package is left out: Python runs the
    parent first whatever the child says, so it is no circle a reader must untangle."""
    files = {_module_name(p): p for top in ("faastui", "backends") for p in (ROOT / top).rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    g = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        out = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    out.add(known(sub) if sub in files else known(base))
            elif isinstance(node, ast.Import):
                out.update(known(alias.name) for alias in node.names)
        g[name] = {t for t in out if t and t != name and not name.startswith(t + ".")}
    return g


def test_no_import_circle_anywhere_in_faastui_or_backends():
    g = project_graph()
    assert {"faastui.tui.launchers", "faastui.tui.views.detail", "backends.local.engine"} <= set(g)
    assert "backends.local.placement" in g["backends.local.engine"]  # it reads imports
    assert cycles(g) == [], cycles(g)
