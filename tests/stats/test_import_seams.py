"""The seams between minidl.stats and minidl.plots: no import circle through them (imports inside
functions count too), no `_private` name imported from another module. (Modules are split along what
they hold, never to stay under a line count: the house rules in docs/architecture.md.)"""

from __future__ import annotations

import ast
from pathlib import Path

import minidl

PACKAGE_DIR = Path(minidl.__file__).resolve().parent
WATCHED = ("minidl.stats", "minidl.plots")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE_DIR.rglob("*.py")}


def imports_of(name: str, path: Path, known: dict) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import statement of the module, anywhere in it.

    Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, so those count as imports too,
    except the module's own enclosing packages: Python has always started those before the module.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            names = [alias.name for alias in node.names]
            found.append((target, names))
            found += [(f"{target}.{n}", []) for n in names if f"{target}.{n}" in known]
    with_parents = []
    for target, names in found:
        parts = target.split(".")
        with_parents += [(".".join(parts[:i]), []) for i in range(1, len(parts))]
        with_parents.append((target, names))
    own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)} | {name}
    return [(target, names) for target, names in with_parents if target in known and target not in own]


def import_graph() -> tuple[dict, dict]:
    known = modules()
    edges, taken = {}, {}
    for name, path in known.items():
        found = imports_of(name, path, known)
        edges[name] = {target for target, _ in found}
        taken[name] = found
    return edges, taken


def cycle_through(start: str, edges: dict) -> list[str] | None:
    """A path start -> ... -> start in the import graph, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for target in edges.get(node, ()):
            if target == start:
                return path + [start]
            if target not in seen:
                seen.add(target)
                stack.append((target, path + [target]))
    return None


def test_no_import_circle_through_stats_or_plots():
    edges, _ = import_graph()
    watched = [name for name in edges if name.startswith(WATCHED)]
    assert "minidl.stats.cli" in watched and "minidl.plots.speed" in watched
    circles = {name: cycle_through(name, edges) for name in watched}
    assert {name: path for name, path in circles.items() if path} == {}


def test_the_check_sees_a_circle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycle_through("a", edges) == ["a", "b", "c", "a"]
    assert cycle_through("d", edges) is None


def test_store_does_not_import_the_renderer():
    edges, _ = import_graph()
    assert "minidl.stats.render" not in edges["minidl.stats.store"]
    assert not {name for name in edges["minidl.stats.store"] if name.startswith("minidl.plots")}


def test_no_private_names_imported_across_modules():
    _, taken = import_graph()
    private = [
        (name, target, imported)
        for name, found in taken.items()
        if name.startswith(WATCHED)
        for target, names in found
        for imported in names
        if imported.startswith("_") and not imported.startswith("__")
    ]
    assert private == []
