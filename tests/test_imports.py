"""The shape of the code, as docs/architecture.md draws it.

- The packages depend one way: pointkit -> sync <- hub, nothing else.
- No package has an import loop, counting imports inside functions: an import moved into a function to
  hide a loop is still a loop here.
- The only imports inside functions are the ones listed in ``NESTED_IMPORTS`` with the reason they wait.
- sync/ holds the protocol; its shared kit (sync/kit) sits above it: no protocol module imports the kit, and
  the servers' side (the hub, the kit's Flask helpers) never imports the point's HTTP client.
- The hub stands in floors: each room imports only its own files and the floors below it, and nothing
  below the web layer imports Flask.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "pointkit", "sync")
FORBIDDEN = {"sync": {"pointkit", "hub"}, "pointkit": {"hub"}, "hub": {"pointkit"}}

# The hub's rooms and their floors (1 is the ground). A room imports its own files and rooms on lower floors.
HUB_FLOORS = {
    "core": 1,
    "catalog": 2, "trust": 2,
    "approval": 3,
    "reconcile": 4, "migrate": 4,
    "intake": 5, "instance": 5,
    "web": 6, "machines": 6,
    "cli": 7,
}
WEB_LIBRARIES = {"flask", "werkzeug", "jinja2", "flask_babel", "flask_login", "flask_wtf"}

# Imports that wait inside a function, and why. Anything else imported inside a function fails the test.
NESTED_IMPORTS = {
    # A CLI command loads the web stack only when it serves: `pointkit-hub keys list` starts fast.
    ("hub/cli.py", "sync.kit.web"), ("hub/cli.py", "hub.web"),
    ("pointkit/cli.py", "sync.kit.web"), ("pointkit/cli.py", "pointkit"),
    # The app factory registers its blueprints as Flask's tutorial does (flaskr/__init__.py).
    ("pointkit/__init__.py", "pointkit"),
}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[str, list[str], bool]]:
    """(module, names, nested) for every import in ``path``: relative ones resolved, nested = inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path, root).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    nested_nodes = {id(node) for function in ast.walk(tree)
                    if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                    for node in ast.walk(function)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, [], id(node) in nested_nodes))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, [alias.name for alias in node.names], id(node) in nested_nodes))
    return found


def imported_top_levels(path: Path) -> set[str]:
    return {module.split(".")[0] for module, _names, _nested in imports_of(path)} - {""}


def first_party_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (``from . import x`` counts as importing ``x``)."""
    files = source_files(package)
    modules = {module_name(path) for path in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        targets = set()
        for module, names, _nested in imports_of(path):
            submodules = [f"{module}.{name}" for name in names if f"{module}.{name}" in modules]
            if submodules:
                targets.update(submodules)
            elif module in modules:
                targets.add(module)
        graph[module_name(path)] = targets - {module_name(path)}
    return graph


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def hub_room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "web"  # hub/web/app.py only describes the package


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_stay_inside_the_design(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & FORBIDDEN[package])
        for path in source_files(package)
        if imported_top_levels(path) & FORBIDDEN[package]
    }
    assert offenders == {}, f"{package} must not import {sorted(FORBIDDEN[package])}: {offenders}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_has_an_import_loop(package):
    assert loops(first_party_graph(package)) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_inside_functions_are_only_the_listed_ones(package):
    nested = sorted(
        (str(path.relative_to(ROOT)), module)
        for path in source_files(package)
        for module, _names, inside in imports_of(path)
        if inside and module.split(".")[0] in PACKAGES
    )
    unlisted = [entry for entry in nested if entry not in NESTED_IMPORTS]
    assert unlisted == [], "import at the top of the module (a loop it hid must be cut instead), " \
                           f"or list it in NESTED_IMPORTS with its reason: {unlisted}"


def test_the_hub_stands_in_floors():
    graph = first_party_graph("hub")
    rooms = {hub_room(module) for module in graph}
    assert rooms <= set(HUB_FLOORS), f"a hub room without a floor in HUB_FLOORS: {sorted(rooms - set(HUB_FLOORS))}"
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if hub_room(target) != hub_room(module) and HUB_FLOORS[hub_room(target)] >= HUB_FLOORS[hub_room(module)]
    )
    assert upward == [], f"imports that do not run down the hub's floors: {upward}"


def test_nothing_below_the_hub_web_layer_imports_flask():
    offenders = sorted(
        f"{path.relative_to(ROOT)}: {module}"
        for path in source_files("hub")
        if hub_room(module_name(path)) not in ("web", "cli")
        for module, _names, _nested in imports_of(path)
        if module.split(".")[0] in WEB_LIBRARIES
    )
    assert offenders == []


def test_the_sync_protocol_does_not_lean_on_the_kit_and_servers_do_not_import_the_client():
    graph = first_party_graph("sync")
    protocol_on_kit = sorted(f"{module} -> {target}" for module, targets in graph.items()
                             if not module.startswith("sync.kit") for target in targets if target.startswith("sync.kit"))
    assert protocol_on_kit == []
    servers_on_client = sorted(
        f"{path.relative_to(ROOT)}" for package in ("hub", "sync")
        for path in source_files(package)
        if package == "hub" or module_name(path).startswith("sync.kit")
        if any(module == "sync.client" or (module == "sync" and "HubClient" in names)
               for module, names, _nested in imports_of(path))
    )
    assert servers_on_client == []


def test_the_walkers_see_imports_loops_and_nesting(tmp_path):
    sample = tmp_path / "pkg" / "m.py"
    sample.parent.mkdir()
    sample.write_text("import hub.models\nfrom pointkit import intake\nfrom .sibling import x\n\n"
                      "def f():\n    from sync import web\n", encoding="utf-8")
    found = imports_of(sample, tmp_path)
    assert ("hub.models", [], False) in found and ("pointkit", ["intake"], False) in found
    assert ("pkg.sibling", ["x"], False) in found
    assert ("sync", ["web"], True) in found
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert loops({"a": {"b"}, "b": set()}) == []
