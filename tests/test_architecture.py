"""The house rules of issue 12, checked on the source: no import circles, no reaching into another
module's private names, small modules, a slim Model.

The import graph is read with `ast` from every `import` statement in `minidl/` — at module level and
inside functions alike, since a lazy import that closes a circle is still a circle for a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "minidl"
MAX_MODULE_LINES = 400
MAX_MODEL_LINES = 250


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> list[tuple[str, list[str]]]:
    """(imported minidl module, names taken from it) for every import statement in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.split(".")[0] == "minidl"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "minidl":
                continue
            names = [alias.name for alias in node.names]
            # `from . import x` names a submodule when x is one.
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
            found += [(sub, []) for sub in submodules]
            others = [n for n in names if f"{target}.{n}" not in known]
            if others or not submodules:
                found.append((target, others))
    return found


def import_graph() -> dict[str, set[str]]:
    table = modules()
    known = set(table)
    graph = {}
    for name, path in table.items():
        targets = {target for target, _ in imports_of(name, path, known) if target in known and target != name}
        graph[name] = targets
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm), as sorted lists.

    A package's `__init__` importing its own submodules is not a circle unless a submodule imports
    the package back; that case shows up here like any other.
    """
    index, low, stack, on_stack, groups, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_circles():
    cycles = find_cycles(import_graph())
    assert not cycles, "import circles in minidl/: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_circle_finder_finds_a_circle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_another_modules_private_names():
    table = modules()
    known = set(table)
    offenders = [
        f"{name} imports {target}.{taken}"
        for name, path in table.items()
        for target, names in imports_of(name, path, known)
        for taken in names
        if taken.startswith("_") and not taken.startswith("__")
    ]
    assert not offenders, offenders


def test_modules_stay_small_and_model_slim():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    too_big = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not too_big, f"modules over {MAX_MODULE_LINES} lines: {too_big}"
    assert sizes["minidl.model"] <= MAX_MODEL_LINES, f"model.py has {sizes['minidl.model']} lines"
