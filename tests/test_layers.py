"""The structure of the package: no import circle, and no module importing a layer above its own.

Every ``import`` of every module of ``cskd`` counts, those inside functions (a lazy import is still a dependency) and
under ``if TYPE_CHECKING:`` too (an annotation naming a class of a layer above is a dependency on it). The layers
follow the flow suite -> plan -> engine (models, data, methods) -> results -> report, with the executors beside the
runner and the command line on top (docs/architecture.md draws it).
"""

import ast
from pathlib import Path

import cskd

PACKAGE = Path(cskd.__file__).parent

#: bottom to top: a module may import its own layer and the layers below it, never one above
LAYERS: list[tuple[str, ...]] = [
    (
        "cskd",
        "cskd.names",
        "cskd.typecheck",
        "cskd.csvfiles",
        "cskd.locations",
        "cskd.features",
        "cskd.method_index",
        "cskd.results",
        "cskd.cluster_config",
        "cskd.allocator",
        "cskd.limits",
        "cskd.usererrors",
        "cskd.atomicfile",
        "cskd.stopping",
        "cskd.repair",
        "cskd.yamlfile",
        "cskd.runs_schema",
        "cskd.structure",
        "cskd.settings",
        "cskd.tracking",
    ),
    ("cskd.data", "cskd.models", "cskd.methods", "cskd.overrides"),
    ("cskd.engine", "cskd.zoo", "cskd.model_facts", "cskd.method_builds"),
    ("cskd.suite",),
    ("cskd.plan",),
    ("cskd.cost", "cskd.store", "cskd.learned_rates", "cskd.run_data"),
    ("cskd.run_status", "cskd.teachers", "cskd.model_facts_table"),
    ("cskd.runner", "cskd.report", "cskd.evaluation"),
    ("cskd.executors",),
    ("cskd.cli",),
    ("cskd.__main__",),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    """The layer of the longest layer name that is ``module`` or a package holding it."""
    best = None
    for index, names in enumerate(LAYERS):
        for name in names:
            inside = module == name or (name != "cskd" and module.startswith(name + "."))
            if inside and (best is None or len(name) > len(best[1])):
                best = (index, name)
    assert best is not None, f"{module} is in no layer of LAYERS: add it"
    return best[0]


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The modules of ``cskd`` that the file at ``path`` imports: ``from P import M`` counts as module ``P.M`` when
    it is one, and as ``P`` when a name of ``P`` itself is imported."""
    found: set[str] = set()
    stack = list(ast.parse(path.read_text()).body)
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
            found |= submodules if len(submodules) == len(node.names) else submodules | {base}
        stack.extend(ast.iter_child_nodes(node))
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(files)) - {name} for name, path in files.items()}


def test_no_module_imports_a_layer_above_its_own():
    graph = import_graph()
    upward = [
        f"{module} (layer {layer_of(module)}) imports {other} (layer {layer_of(other)})"
        for module, imported in sorted(graph.items())
        for other in sorted(imported)
        if layer_of(other) > layer_of(module)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    graph = import_graph()
    circles = [sorted(component) for component in strongly_connected(graph) if len(component) > 1]
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components of ``graph`` (each module with the modules it imports)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_checks_find_a_circle_and_an_upward_import():
    """The two checks above can fail: a made-up graph with a circle and an arrow up is caught by both helpers."""
    graph = {"cskd.plan": {"cskd.runner"}, "cskd.runner": {"cskd.plan"}, "cskd.suite": set()}
    assert {"cskd.plan", "cskd.runner"} in strongly_connected(graph)
    assert layer_of("cskd.plan") < layer_of("cskd.runner")
    assert layer_of("cskd.cli.run_command") == layer_of("cskd.cli") > layer_of("cskd.executors.task")
