"""backends/workflow has no import circle, deferred imports included (issue 13).

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
