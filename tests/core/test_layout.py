"""The package layout as rules: no import cycles, and each layer imports only the ones below it.

The import graph is read from the source (every ``import`` statement, local and
``TYPE_CHECKING`` ones included), so a rule broken anywhere fails here before it bites at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tempo_core", "tempo_app")


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The project modules that ``path`` imports (the most specific module each import names)."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in candidates:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
                break
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {name: imported_modules(path, known) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_anywhere():
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def imports_of(prefix: str) -> dict[str, set[str]]:
    return {m: deps for m, deps in import_graph().items() if m == prefix or m.startswith(prefix + ".")}


@pytest.mark.parametrize(
    "layer, forbidden",
    [
        ("tempo_core", ("tempo_app",)),
        (
            "tempo_core.network",
            (
                "tempo_core.video",
                "tempo_core.training",
                "tempo_core.evaluation",
                "tempo_core.commands",
                "tempo_core.inference",
                "tempo_core.checkpoint",
            ),
        ),
        ("tempo_core.errors", ("tempo_core.network", "tempo_core.video", "tempo_core.training")),
        ("tempo_core.video", ("tempo_core.training", "tempo_core.evaluation", "tempo_core.commands")),
        ("tempo_core.training", ("tempo_core.evaluation", "tempo_core.commands", "tempo_core.video.engine")),
        ("tempo_core.evaluation", ("tempo_core.training.trainer", "tempo_core.commands")),
        (
            "tempo_core.inference",
            ("tempo_core.video", "tempo_core.training", "tempo_core.evaluation", "tempo_core.commands"),
        ),
    ],
)
def test_lower_layers_never_import_higher_ones(layer, forbidden):
    offenders = sorted(
        f"{module} imports {dep}"
        for module, deps in imports_of(layer).items()
        for dep in deps
        if any(dep == f or dep.startswith(f + ".") for f in forbidden)
    )
    assert not offenders


@pytest.mark.parametrize(
    "outside",
    [
        "tempo_core.training",
        "tempo_core.evaluation",
        "tempo_core.commands",
        "tempo_core.video",
        "tempo_core.inference",
        "tempo_core.checkpoint",
        "tempo_app",
    ],
)
def test_the_network_is_reached_only_through_its_public_names(outside):
    offenders = sorted(
        f"{module} imports {dep}"
        for module, deps in imports_of(outside).items()
        for dep in deps
        if dep.startswith("tempo_core.network.")
    )
    assert not offenders


def test_every_subpackage_says_what_it_holds():
    for init in (ROOT / "tempo_core").glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 25, f"{init.parent.name} needs a docstring paragraph"


# Every module of both packages in one layer, lowest first; a module may import its own layer and
# the ones below it. A new module must be placed here (the test names it), so the rule covers all.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "tempo_core.errors",
        "tempo_core.frame_sizes",
        "tempo_core.local_files",
        "tempo_core.memory_budget",
        "tempo_core.model_header",
        "tempo_core.output_paths",
    ),
    ("tempo_core.network",),
    (
        "tempo_core.checkpoint",
        "tempo_core.cpu_memory",
        "tempo_core.frame_score",
        "tempo_core.reporting",
        "tempo_core.prior_metadata",
    ),
    ("tempo_core.inference",),
    ("tempo_core.video",),
    ("tempo_core.training", "tempo_core.evaluation"),
    ("tempo_core.commands", "tempo_core.__main__", "tempo_core"),
    ("tempo_app",),
)


EXACT_NAMES = {"tempo_core", "tempo_core.__main__"}  # these name one module, not a subtree


def layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of the most specific prefix naming ``module``."""
    best: tuple[int, int] | None = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or (prefix not in EXACT_NAMES and module.startswith(prefix + "."))
            if inside and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def test_every_module_has_a_layer_and_imports_only_its_own_or_lower_ones():
    graph = import_graph()
    unplaced = sorted(m for m in graph if layer_of(m) is None)
    assert not unplaced, f"place these modules in LAYERS: {unplaced}"
    upward = sorted(
        f"{module} imports {dep}" for module, deps in graph.items() for dep in deps if layer_of(dep) > layer_of(module)
    )
    assert not upward


def test_a_new_module_outside_the_layers_is_named():
    assert layer_of("tempo_core.something_new") is None and layer_of("tempo_core.video.new") == layer_of(
        "tempo_core.video"
    )
    assert layer_of("tempo_core") == layer_of("tempo_core.commands") > layer_of("tempo_core.inference.images")
