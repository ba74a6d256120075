"""The rules of the house (docs/architecture.md), checked on the source.

No import circles and no upward imports (each package imports only its own layer and those below it);
`trainers/` never imports `models/`; no reaching into another module's private names; no sibling files
(`X_base.py`, `more_X.py`, `keras_X.py`, `elementwise_X.py`); no function of one module bound as a
method of another module's class; tests/ mirrors the package.

The import graph is read with `ast` from every `import` statement in `minidl/` — at module level and
inside functions alike, since a lazy import that closes a circle is still a circle for a reader.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "minidl"

# The layers of the house, lowest first: a module imports only from its own layer or the ones below.
LAYERS = [
    ("minidl.version", "minidl.errors", "minidl.flat", "minidl.utils"),
    ("minidl.ops", "minidl.activations", "minidl.initializers", "minidl.regularizers", "minidl.constraints"),
    (
        "minidl.layers",
        "minidl.random",
        "minidl.losses",
        "minidl.metrics",
        "minidl.optimizers",
        "minidl.reference",
        "minidl.datasets",
    ),
    ("minidl.saving",),
    ("minidl.distributed", "minidl.callbacks"),
    ("minidl.trainers",),
    ("minidl.models",),
    ("minidl.stats", "minidl.gradcheck", "minidl.plots"),
]
SIBLING_NAMES = re.compile(r"(_base|^more_|^keras_|^elementwise_)")


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


def layer_of(module: str) -> int:
    if module == "minidl":
        return len(LAYERS)
    for rank, prefixes in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer of the house: add its package to LAYERS")


def test_every_import_points_down_or_sideways():
    upward = [
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
        for name, targets in import_graph().items()
        for target in targets
        if layer_of(target) > layer_of(name)
    ]
    assert not upward, upward


def test_trainers_never_import_models():
    graph = import_graph()
    offenders = [
        f"{name} imports {target}"
        for name, targets in graph.items()
        if name.startswith("minidl.trainers")
        for target in targets
        if target.startswith("minidl.models")
    ]
    assert not offenders, offenders


def test_the_layer_check_sees_an_upward_import():
    assert layer_of("minidl.trainers.loops") > layer_of("minidl.distributed.base")
    assert layer_of("minidl.models.model") > layer_of("minidl.trainers.trainer")


def test_tests_mirror_the_package():
    """Rule 8: every package of minidl has its folder of tests, and a test file at the top of tests/ is
    named for a module of minidl's root (or for the whole house, the entry points, or trainings/)."""
    tests = Path(__file__).resolve().parent
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert not sorted(packages - {path.name for path in tests.iterdir() if path.is_dir()})
    roots = {path.stem for path in PACKAGE.glob("*.py")} | {"architecture", "entry_points", "trainings"}
    stray = [path.name for path in tests.glob("test_*.py") if path.stem.removeprefix("test_") not in roots]
    assert not stray, f"name these after the module they test, or move them into its package's folder: {stray}"


def test_no_sibling_files():
    siblings = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if SIBLING_NAMES.search(path.stem)]
    assert not siblings, f"split these along a family Keras or the mathematics names: {siblings}"


def _functions_of(value):
    """The plain functions behind a class attribute (a function, property, classmethod or staticmethod)."""
    if isinstance(value, property):
        return [f for f in (value.fget, value.fset, value.fdel) if f is not None]
    if isinstance(value, (classmethod, staticmethod)):
        return [value.__func__]
    return [value] if inspect.isfunction(value) else []


def bound_from_elsewhere(cls) -> list[str]:
    """Attributes of `cls` whose function was defined outside the class body."""
    found = []
    for attribute, value in vars(cls).items():
        for function in _functions_of(value):
            if function.__module__ == "collections" or function.__module__.startswith("namedtuple_"):
                continue  # made by the standard library for a namedtuple
            if function.__module__ != cls.__module__ or not function.__qualname__.startswith(cls.__qualname__ + "."):
                found.append(
                    f"{cls.__module__}.{cls.__qualname__}.{attribute} is {function.__module__}.{function.__qualname__}"
                )
    return found


def test_no_function_is_bound_as_a_method_from_another_module():
    offenders = []
    for name in modules():
        if name.endswith(".__main__"):
            continue  # importing it would run the command
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == name:
                offenders += bound_from_elsewhere(cls)
    assert not offenders, offenders


def test_the_binding_check_sees_a_bound_function():
    class Bound:
        method = helper_elsewhere
        view = property(helper_elsewhere)

    assert len(bound_from_elsewhere(Bound)) == 2


def helper_elsewhere(self):
    """A module-level function, bound into `Bound` above."""
    return 1
