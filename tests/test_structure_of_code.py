"""The code's structure, read from the source (no import): the modules of a package import
each other without a cycle, and no module uses another module's ``_private`` names.

Every import counts, also the lazy ones inside functions: a cycle of lazy imports still
ties the modules together. :func:`import_graph` and :func:`private_uses` take the package
name; :data:`PACKAGES` lists the packages held to both rules.
"""

import ast
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The project's packages (their modules are the nodes; other imports are ignored).
PROJECT = ("esm_contacts", "pymol_plugin")
#: Packages held to "no import cycle" and "no private name of another module".
PACKAGES = ["esm_contacts", "pymol_plugin"]


def package_modules(package: str, root: Path = ROOT) -> Dict[str, Path]:
    """Dotted module name -> file, for every module of `package` (``__init__`` as the package)."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _base(module: str, path: Path, level: int) -> str:
    """The package a relative import of `level` dots starts from."""
    parts = module.split(".")
    if path.name != "__init__.py":
        parts = parts[:-1]  # a module's own package
    return ".".join(parts[: len(parts) - (level - 1)])


def _imports(module: str, path: Path, known: Set[str]) -> List[Tuple[str, Optional[str], str]]:
    """(imported module, imported name or None, local name) of every import in a module,
    top-level or inside functions; only modules of the project."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT:
                    found.append((alias.name, None, alias.asname or alias.name))
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = _base(module, path, node.level)
                source = f"{base}.{source}" if source else base
            if source.split(".")[0] not in PROJECT:
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in known:  # "from . import x": the module x
                    found.append((submodule, None, alias.asname or alias.name))
                else:
                    found.append((source, alias.name, alias.asname or alias.name))
    return found


def import_graph(package: str, root: Path = ROOT) -> Dict[str, Set[str]]:
    """Module -> the modules of the same package it imports (lazy imports included).

    Parameters
    ----------
    package : str
        A package folder under `root` (``"pymol_plugin"``).
    root : Path
        The folder holding the package.

    Returns
    -------
    graph : dict
        Dotted module name -> set of dotted module names, all within `package`.
    """
    modules = package_modules(package, root)
    graph = {}
    for module, path in modules.items():
        targets = {
            target for target, _, _ in _imports(module, path, set(modules)) if target in modules
        }
        graph[module] = targets - {module}
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One import cycle as a list of modules (first == last), or None for a DAG."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _dotted(node: ast.AST) -> Optional[str]:
    """``a.b.c`` of a Name/Attribute chain, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def private_uses(package: str, root: Path = ROOT) -> List[str]:
    """Where a module of `package` imports or reads a ``_private`` name of another project module.

    Two forms count: ``from .other import _name`` (also absolute, also lazy) and
    ``other._name`` where ``other`` is bound to a project module by an import.

    Parameters
    ----------
    package : str
        A package folder under `root`.
    root : Path
        The folder holding the packages.

    Returns
    -------
    uses : list of str
        ``"module: line N: other._name"`` per use, in file order.
    """
    known = {m for p in PROJECT if (root / p).is_dir() for m in package_modules(p, root)}
    uses = []
    for module, path in package_modules(package, root).items():
        imports = _imports(module, path, known)
        bound = {local: target for target, name, local in imports if name is None}
        for target, name, _ in imports:
            if name is not None and _private(name) and target != module:
                uses.append(f"{module}: from {target} import {name}")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                owner = _dotted(node.value)
                target = bound.get(owner) or (owner if owner in known else None)
                if target is not None and target != module:
                    uses.append(f"{module}: line {node.lineno}: {owner}.{node.attr}")
    return uses


# -- the rules -------------------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_form_a_dag(package):
    graph = import_graph(package)
    assert len(graph) > 5  # the package's modules were found
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_uses_another_modules_private_names(package):
    assert private_uses(package) == []


def test_the_checks_read_every_project_package():
    """Both packages parse; their graphs hold every module (the core is checked once it is a DAG
    too)."""
    for package in PROJECT:
        assert set(import_graph(package)) == set(package_modules(package))
        private_uses(package)  # parses without error


def test_the_checks_find_a_planted_cycle_and_private_names(tmp_path):
    """The checks on a made-up package: a lazy import closes a cycle; two private uses."""
    package = tmp_path / "esm_contacts"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n\ndef f():\n    return b._hidden\n")
    (package / "b.py").write_text(
        "_hidden = 1\n\ndef g():\n    from .c import value\n    return value\n"
    )
    (package / "c.py").write_text(
        "def h():\n    from esm_contacts.a import _secret, f\n    return f\n"
    )
    graph = import_graph("esm_contacts", tmp_path)
    assert graph == {
        "esm_contacts": set(),
        "esm_contacts.a": {"esm_contacts.b"},
        "esm_contacts.b": {"esm_contacts.c"},
        "esm_contacts.c": {"esm_contacts.a"},
    }
    assert find_cycle(graph) == [
        "esm_contacts.a",
        "esm_contacts.b",
        "esm_contacts.c",
        "esm_contacts.a",
    ]
    assert private_uses("esm_contacts", tmp_path) == [
        "esm_contacts.a: line 4: b._hidden",
        "esm_contacts.c: from esm_contacts.a import _secret",
    ]
    (package / "c.py").write_text("value = 1\n")
    assert find_cycle(import_graph("esm_contacts", tmp_path)) is None


def test_menu_entries_name_functions_that_exist():
    """``MENU_ITEMS`` of the plugin's ``__init__`` ("module:function") point at module-level
    functions."""
    tree = ast.parse((ROOT / "pymol_plugin" / "__init__.py").read_text())
    items = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "MENU_ITEMS"
    )
    assert len(items) == 2
    for _, target in items:
        module, function = target.split(":")
        defined = {
            node.name
            for node in ast.parse((ROOT / "pymol_plugin" / f"{module}.py").read_text()).body
            if isinstance(node, ast.FunctionDef)
        }
        assert function in defined, target


def test_readme_module_map_lists_every_module_in_import_order():
    """The README's module table: every core module once, each row importing only rows below it."""
    import re

    rows = [
        line
        for line in (ROOT / "README.md").read_text().splitlines()
        if re.match(r"^\| `\w+`", line)
    ]
    levels = [re.findall(r"`(\w+)`", row.split("|")[1]) for row in rows]
    position = {name: level for level, names in enumerate(levels) for name in names}
    modules = {name.split(".")[-1] for name in package_modules("esm_contacts")} - {"esm_contacts"}
    assert sorted(name for names in levels for name in names) == sorted(modules)
    upward = [
        (source, target)
        for source, targets in import_graph("esm_contacts").items()
        for target in targets
        if source != "esm_contacts"
        and target != "esm_contacts"
        and position[target.split(".")[-1]] <= position[source.split(".")[-1]]
        and target != source
    ]
    assert upward == []
