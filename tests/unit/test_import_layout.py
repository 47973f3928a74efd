"""The layering holds: ``config`` (the composition root) is imported only by entry points,
and the web layer has no import cycle, at module level or under ``TYPE_CHECKING``.

Read from the source with ``ast``, so an import that only type checkers follow counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "core", "routing", "knowledge", "channels", "cti", "alerts", "privacy", "agent_ui", "config", "integrations",
)
# Modules that start or build the whole server, so they may import the composition root.
ENTRY_POINTS = {"agent_ui.bench", "alerts.bench", "channels.bench", "cti.bench", "routing.bench"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def imported(path: Path, name: str) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports, anywhere in the file, with the line."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target, node.lineno


def module_level_imports(path: Path, name: str) -> Iterator[str]:
    """The imports that run (or that type checkers follow) when the module is loaded: those
    not inside a function, including ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"

    def statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
        for stmt in body:
            yield stmt
            if isinstance(stmt, ast.If | ast.Try):
                yield from statements(stmt.body)
                yield from statements(stmt.orelse)
                if isinstance(stmt, ast.Try):
                    for handler in stmt.handlers:
                        yield from statements(handler.body)
                    yield from statements(stmt.finalbody)

    for stmt in statements(tree.body):
        if isinstance(stmt, ast.Import):
            yield from (alias.name for alias in stmt.names)
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (stmt.level - 1)]
                target = ".".join([*base, *([stmt.module] if stmt.module else [])])
            else:
                target = stmt.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in stmt.names)


def test_only_entry_points_import_the_composition_root() -> None:
    offenders = []
    for name, path in source_modules().items():
        if name == "config" or name.startswith("config.") or name in ENTRY_POINTS:
            continue
        for target, line in imported(path, name):
            if target == "config" or target.startswith("config."):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert offenders == [], "config is the composition root; hand the package what it needs instead:\n" + "\n".join(
        sorted(set(offenders))
    )


def web_layer_graph() -> dict[str, set[str]]:
    """Module → the ``agent_ui`` modules loading it loads. Importing ``a.b.c`` first runs the
    packages ``a`` and ``a.b``; a module inside a package does not count its own package (Python
    has already started it)."""
    modules = {name: path for name, path in source_modules().items() if name.split(".")[0] == "agent_ui"}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for target in module_level_imports(path, name):
            parts = target.split(".")
            for end in range(1, len(parts) + 1):
                candidate = ".".join(parts[:end])
                if candidate not in modules or candidate == name:
                    continue
                is_own_package = name.startswith(candidate + ".")
                if not is_own_package:
                    edges.add(candidate)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_web_layer_has_no_import_cycle() -> None:
    cycle = find_cycle(web_layer_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
