"""Architecture gates: the import graph of src/edgephoto has no cycles and no file is too long.

Every import counts, the ones inside functions too: a lazy import still ties two modules
together, it only postpones the failure. A cycle is reported as its strongly connected
component (all modules that reach each other), with one import line per edge to start from.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "edgephoto"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()  # a package's __init__ is the package itself
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that `name` names or lies inside (`a.b.func` -> `a.b`)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _string_tuple(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Tuple | ast.List):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _imported_names(module: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported module name, line) for every import in the file, at any depth."""
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop] if drop else anchor
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import sub` imports the submodule when `sub` is one
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if candidate in known else base, node.lineno))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "import_module" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append((arg.value, node.lineno))
    return found


def registry_plugins(path: Path) -> list[tuple[str, int]]:
    """(module, line) named in `Registry(..., modules=(...))`: plugins imported on first lookup.

    These are the one sanctioned upward arrow: each plugin imports the registry to register
    itself, the registry names it only as a string so that nothing loads before it is asked
    for. They are kept out of the cycle check and checked on their own instead (they exist and
    lie in the registry's own package).
    """
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Registry":
            lists = [kw.value for kw in node.keywords if kw.arg == "modules"] + node.args[1:2]
            found += [(m, node.lineno) for value in lists for m in _string_tuple(value)]
    return found


@functools.cache  # three tests read the same graph
def import_graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], int]]:
    """Module -> imported edgephoto modules, and the first line of each edge."""
    known = _modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    lines: dict[tuple[str, str], int] = {}
    for module, path in known.items():
        for name, line in _imported_names(module, path, known):
            target = _resolve(name, known)
            if target is None or target == module:
                continue
            # importing a.b.c runs a and a.b first; a package's own submodules are not
            # cycles with the package for that reason alone, so only the named module counts
            graph[module].add(target)
            lines.setdefault((module, target), line)
    return graph, lines


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
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
                    found.append(sorted(component))
    return found


def _describe(component: list[str], graph: dict[str, set[str]], lines: dict) -> str:
    members = set(component)
    edges = [
        f"    {a} -> {b}  (line {lines[(a, b)]})"
        for a in component
        for b in sorted(graph[a] & members)
    ]
    return f"  cycle of {len(component)}: {', '.join(component)}\n" + "\n".join(edges)


def test_import_graph_has_no_cycles() -> None:
    graph, lines = import_graph()
    assert len(graph) > 50, "the module scan found too few modules: is SRC right?"
    cycles = strongly_connected(graph)
    report = "\n".join(_describe(c, graph, lines) for c in cycles)
    assert not cycles, f"{len(cycles)} import cycle(s) in src/{PACKAGE}:\n{report}"


def test_cycle_finder_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The scanner itself: a function-level relative import closing a loop is a cycle."""
    known = {"p": tmp_path / "p/__init__.py", "p.a": tmp_path / "p/a.py", "p.b": tmp_path / "p/b.py"}
    known["p"].parent.mkdir()
    known["p"].write_text("")
    known["p.a"].write_text("from p import b\n")
    known["p.b"].write_text("def f():\n    from . import a\n    return a\n")
    graph = {m: {_resolve(n, known) for n, _ in _imported_names(m, p, known)} - {None, m}
             for m, p in known.items()}
    assert graph["p.b"] == {"p.a"} and graph["p.a"] == {"p.b"}
    assert strongly_connected(graph) == [["p.a", "p.b"]]


# (importer prefix, imported prefix, why not): the arrows STYLE.md draws, held by the graph above
FORBIDDEN = (
    ("edgephoto.runtime", "edgephoto.convert", "the runtime stays light: it never converts"),
    ("edgephoto.runtime", "edgephoto.quantize", "the runtime stays light: it never quantizes"),
    ("edgephoto.runtime", "edgephoto.bench", "the runtime stays light"),
    ("edgephoto.zoo", "edgephoto.runtime", "the zoo is data and weight fetching"),
    ("edgephoto.zoo", "edgephoto.convert", "the zoo is data and weight fetching"),
    ("edgephoto.convert.sources", "edgephoto.convert.targets", "shared edge helpers live in edge_tools"),
    ("edgephoto.quantize", "edgephoto.convert.graph", "quantize calls convert.public"),
    ("edgephoto.quantize", "edgephoto.convert.targets.", "quantize calls convert.public"),
)


def _under(module: str, prefix: str) -> bool:
    return module.startswith(prefix) if prefix.endswith(".") else (
        module == prefix or module.startswith(prefix + "."))


def test_layers_point_one_way() -> None:
    graph, lines = import_graph()
    bad = [
        f"  {a} -> {b}  (line {lines[(a, b)]}): {why}"
        for a in sorted(graph)
        for b in sorted(graph[a])
        for low, high, why in FORBIDDEN
        if _under(a, low) and _under(b, high)
    ]
    bad += [f"  {a} -> {b}  (line {lines[(a, b)]}): only the CLI prints and exits"
            for a in sorted(graph) for b in sorted(graph[a])
            if _under(b, "edgephoto.cli") and not _under(a, "edgephoto.cli")]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_registry_plugins_exist_inside_their_registry_package() -> None:
    known = _modules()
    bad = []
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for plugin, line in registry_plugins(path):
            if plugin not in known:
                bad.append(f"  {module} line {line}: '{plugin}' is no module")
            elif not plugin.startswith(package + "."):
                bad.append(f"  {module} line {line}: '{plugin}' lies outside {package}")
    assert sum(len(registry_plugins(p)) for p in known.values()) > 10, "no registry found"
    assert not bad, "registry plugin lists that cannot load:\n" + "\n".join(bad)


def test_no_source_file_over_the_line_budget() -> None:
    counts = {
        p.relative_to(SRC.parent).as_posix(): len(p.read_text().splitlines())
        for p in sorted(SRC.rglob("*.py"))
    }
    over = {p: n for p, n in counts.items() if n > MAX_LINES}
    listing = "\n".join(f"  {p}: {n} lines" for p, n in sorted(over.items(), key=lambda x: -x[1]))
    assert not over, f"{len(over)} file(s) over {MAX_LINES} lines:\n{listing}"
