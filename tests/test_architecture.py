"""The layers point one way and no modules import each other in a circle.

From the top: the channels (`bot`, which also holds the composition root and the dashboard) → the reminders
(`scheduler`) → the application: the office's documents (`exports`), reading a notice into a plan (`notice`),
the plan's schema and loading (`plan`), the chat's commands (`handlers`) → `storage` → `core`. A module
may import its own layer and those below it, never one above. Every import counts, also those inside functions and
under TYPE_CHECKING: a late import hides a dependency from the reader, not from the design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from core.channels import Channel, Platform
from core.roles import Role

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "storage", "handlers", "plan", "notice", "exports", "scheduler", "bot")  # bottom to top


def _modules() -> dict[str, Path]:
    found = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The project module an imported name lives in (a package's name when it names no module of its own)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imported(module: str, path: Path) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            owner = _owner(target)
            if owner is not None and owner != module:
                yield owner


GRAPH = {module: set(_imported(module, path)) for module, path in MODULES.items()}


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def upward_imports(graph: dict[str, set[str]] = GRAPH) -> list[tuple[str, str]]:
    return sorted(
        (source, target) for source, targets in graph.items() for target in targets if _layer(target) > _layer(source)
    )


def import_cycles(graph: dict[str, set[str]] = GRAPH) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(component)
    return cycles


def test_the_walk_sees_the_whole_project() -> None:
    assert {"core.clock", "storage.models", "handlers.dispatch", "scheduler.engine", "bot.app"} <= set(MODULES)
    assert "core.roles" in GRAPH["handlers.commands"]


def test_the_checks_find_what_they_look_for() -> None:
    graph = {
        "storage.a": {"handlers.b"},
        "handlers.b": {"handlers.c"},
        "handlers.c": {"handlers.b", "core.d"},
        "core.d": set(),
    }
    assert upward_imports(graph) == [("storage.a", "handlers.b")]
    assert import_cycles(graph) == [{"handlers.b", "handlers.c"}]


def test_core_imports_nothing_of_the_project() -> None:
    outside = {
        module: sorted(target for target in targets if _layer(target) > 0)
        for module, targets in GRAPH.items()
        if _layer(module) == 0
    }
    assert not any(outside.values()), outside


def test_no_layer_imports_one_above_it() -> None:
    assert upward_imports() == []


def bare_words_compared() -> list[str]:
    """Comparisons with a role's or a channel's value written as a bare string (core.roles and core.channels name
    them): `role == "liaison"` reads fine until the value changes in one place and not in the other."""
    words = {*Role, *Platform, *Channel}
    found = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                for operand in (node.left, *node.comparators):
                    if isinstance(operand, ast.Constant) and operand.value in words:
                        found.append(f"{module}:{node.lineno} {operand.value!r}")
    return found


def test_roles_and_channels_are_compared_by_name() -> None:
    assert bare_words_compared() == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert [sorted(cycle) for cycle in import_cycles()] == []
