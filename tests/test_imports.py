"""The package's modules import each other as a tree: no module imports itself through others.

Every `import` statement counts, also those inside functions: a circle that only closes at run
time still ties the modules together (metrics <-> pretrained and cgan -> dcgan -> selfcond ->
cgan were such circles). A `from prodgen_lessons.models.cgan import X` is an edge to
`prodgen_lessons.models.cgan`, not to the package `models` that Python runs first: a package's
__init__ importing its own modules is the usual layout, not a circle.
"""

import ast
import importlib
from pathlib import Path

import pytest

import prodgen_lessons

PACKAGE = Path(prodgen_lessons.__file__).parent


def module_files():
    """{dotted module name: path} of every .py file in the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported_modules(name, path, known):
    """The package's modules that module `name` (at `path`) imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    edges = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            edges.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .x import y
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:  # `from pkg import module` names a module, else a name in one
                full = f"{module}.{alias.name}"
                edges.add(full if full in known else module)
    return {e for e in edges if e in known and e != name}


def import_graph():
    known = module_files()
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def find_cycle(graph):
    """One cycle of `graph` ({node: set of nodes}) as a list [a, b, ..., a], or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_cycle_finder_finds_a_circle_and_passes_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_graph_sees_imports_inside_functions():
    graph = import_graph()
    # pretrained imports metrics only inside functions (retrain, rescore, model_card)
    assert "prodgen_lessons.metrics" in graph["prodgen_lessons.pretrained"]
    assert "prodgen_lessons.models.convnets" in graph["prodgen_lessons.models.cgan"]


def test_package_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


@pytest.mark.parametrize("name", sorted(module_files()))
def test_every_module_imports(name):
    importlib.import_module(name)
