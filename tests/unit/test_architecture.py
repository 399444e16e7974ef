"""The structure stays one a newcomer can read: no import cycles (imports inside functions count), nothing
imports the CLI, modules and functions of a screen or a few, one module name per thing, and the Locust
import only in the package that drives Locust."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "llmload"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50
# declarative tables written as one call each: the CLI's argument declarations
LONG_FUNCTIONS_ALLOWED: set[str] = set()


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """llmload modules imported anywhere in the file (module level or inside functions)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from pkg import sub` imports the module pkg.sub; only names that are no module are pkg's own
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    found = cycles(graph())
    assert not found, f"import cycles: {found}"


def test_nothing_imports_the_cli() -> None:
    importers = sorted(name for name, targets in graph().items() if "llmload.cli" in targets)
    assert not importers, f"modules importing llmload.cli: {importers}"


def test_only_the_load_package_imports_locust() -> None:
    outside = []
    for name, path in modules().items():
        if name.startswith("llmload.load"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(n == "locust" or n.startswith("locust.") for n in names):
                outside.append(name)
    assert not outside, f"modules outside llmload.load importing locust: {sorted(set(outside))}"


def test_modules_fit_in_a_few_screens() -> None:
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_functions_fit_on_a_screen() -> None:
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                qualified = f"{name}.{node.name}"
                if lines > MAX_FUNCTION_LINES and qualified not in LONG_FUNCTIONS_ALLOWED:
                    long.append(f"{qualified} ({lines} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_module_names_say_what_they_are_once() -> None:
    stems = Counter(path.stem for path in modules().values() if path.stem != "__init__")
    repeated = sorted(stem for stem, count in stems.items() if count > 1)
    assert not repeated, f"module names used in more than one package: {repeated}"
