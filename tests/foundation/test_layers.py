"""The package's import graph: no cycles, deferred or not, and no layer importing a higher one.

Imports are read with `ast` from every module, function-local ones included (a deferred
import still makes a loop); only those under `if TYPE_CHECKING:` are left out, since they
never run. The layers are those docs/ARCHITECTURE.md draws ("Layers"), lowest first; a module
may import its own layer or lower ones. Front ends (cli, magics, server) never import one
another. What still breaks a rule is listed in KNOWN_LEAKS and, word for word, in
ARCHITECTURE's "Known leaks" section: a new leak fails here, and a fixed one must be struck
from both lists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[2] / "mlpipe_jupyter"
ARCHITECTURE = PACKAGE.parent / "docs" / "ARCHITECTURE.md"

#: Lowest first. The first part of a module's name below the package picks its layer.
LAYERS: list[set[str]] = [
    {"_version", "errors", "status", "record", "runids", "processes", "stores"},
    {"analysis"},
    {"cache", "sqlite", "watch"},
    {"compile", "experiments"},
    {"execute"},
    {"request", "service", "schedule", "housekeeping"},
    {"sdk"},
    {"cli", "magics", "server", "__init__", "__main__"},
]
FRONT_ENDS = {"cli", "magics", "server"}

#: (importer's part, imported part) pairs that break a rule today; see ARCHITECTURE.
KNOWN_LEAKS: set[tuple[str, str]] = set()


#: Front ends should call the service layer (layers 5-6) and nothing below it (one door);
#: these (front end, group below) pairs still reach lower, each listed in ARCHITECTURE.
DOOR_LAYER = 5
KNOWN_DOOR_LEAKS: set[tuple[str, str]] = {
    ("cli", "analysis"), ("cli", "cache"), ("cli", "execute"), ("cli", "experiments"),
    ("magics", "analysis"), ("magics", "cache"), ("magics", "compile"), ("magics", "execute"),
    ("magics", "experiments"),
    ("server", "analysis"), ("server", "cache"), ("server", "execute"), ("server", "experiments"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    base = PACKAGE.parent / name.replace(".", "/")
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(inner) for inner in ast.walk(child))
    return skipped


def _imports(path: Path) -> set[str]:
    """Modules of this package that `path` imports (the most specific module named)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text("utf-8"))
    skipped = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("mlpipe_jupyter"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("mlpipe_jupyter"):
                continue
            submodules = {f"{target}.{a.name}" for a in node.names} 
            named = {m for m in submodules if _is_module(m)}
            found.update(named or {target})
    return found


def import_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module_name(path)
        graph.add_node(importer)
        for imported in _imports(path):
            if imported != importer:
                graph.add_edge(importer, imported)
    return graph


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(part: str) -> int:
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    raise AssertionError(f"module group {part!r} is in no layer: add it to LAYERS and ARCHITECTURE")


def violations(graph: nx.DiGraph) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for importer, imported in graph.edges:
        low, high = _part(importer), _part(imported)
        if low == high:
            continue
        upward = _layer(high) > _layer(low)
        sideways = low in FRONT_ENDS and high in FRONT_ENDS
        if upward or sideways:
            found.setdefault((low, high), []).append(f"{importer} -> {imported}")
    return found


def test_no_import_cycles():
    graph = import_graph()
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    # The package root imports the server and magics only for Jupyter's entry points
    # (functions called by Jupyter, never at import); nothing below may import the root.
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_layer_imports_a_higher_one():
    found = violations(import_graph())
    new = {pair: edges for pair, edges in found.items() if pair not in KNOWN_LEAKS}
    assert not new, "imports against the layers: " + "; ".join(
        ", ".join(edges) for edges in new.values())
    fixed = KNOWN_LEAKS - set(found)
    assert not fixed, f"fixed leaks still listed in KNOWN_LEAKS: {sorted(fixed)}"


def test_known_leaks_are_the_ones_architecture_lists():
    text = ARCHITECTURE.read_text("utf-8")
    section = text.split("## Known leaks", 1)[1].split("\n## ", 1)[0]
    listed = {tuple(line.split("`")[1].split(" -> ")) for line in section.splitlines()
              if line.startswith("- `")}
    assert listed == KNOWN_LEAKS


def test_front_ends_go_through_the_service_layer() -> None:
    found = set()
    for importer, imported in import_graph().edges:
        low, high = _part(importer), _part(imported)
        if low in FRONT_ENDS and high not in FRONT_ENDS and 0 < _layer(high) < DOOR_LAYER:
            found.add((low, high))
    assert found <= KNOWN_DOOR_LEAKS, f"new ways around the service layer: {found - KNOWN_DOOR_LEAKS}"
    assert not KNOWN_DOOR_LEAKS - found, f"fixed, strike them: {KNOWN_DOOR_LEAKS - found}"
