"""The package layering: the import contracts of ``pyproject.toml`` hold, and no module takes part in an import cycle.

``mtenvs`` never imports ``agents``; task families import the core and the shared models, never each other; in
``agents`` the experiments sit above the methods, which sit above ``agents.common``. Imports inside functions count:
grimp, which import-linter is built on, reads every import statement of a module.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

grimp = pytest.importorskip("grimp")
pytest.importorskip("importlinter")


def test_import_contracts_hold() -> None:
    """``lint-imports`` on this source tree (the contracts are in ``pyproject.toml``, ``[tool.importlinter]``)."""
    script = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout[-4000:]
    assert "0 broken" in result.stdout


def strongly_connected_components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components of more than one module, i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"g"}, "g": {"f"}}
    assert sorted(strongly_connected_components(graph)) == [["a", "b", "c"], ["f", "g"]]


def test_no_module_is_part_of_an_import_cycle() -> None:
    """Module by module, packages and their own submodules included (a package's ``__init__`` importing a child that
    imports the package back is a cycle too)."""
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph("mtenvs", "agents", cache_dir=None, exclude_type_checking_imports=True)
    finally:
        sys.path.remove(str(ROOT))
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    assert strongly_connected_components(edges) == []


def test_mtenvs_source_never_names_the_methods_package() -> None:
    """Not even by a string given to importlib: ``grep -rn "import agents\\|from agents" mtenvs/`` finds nothing."""
    pattern = re.compile(r"(import agents|from agents|import_module\(\s*[\"']agents)")
    offenders = [f"{path.relative_to(ROOT)}:{number}" for path in sorted((ROOT / "mtenvs").rglob("*.py"))
                 for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []
