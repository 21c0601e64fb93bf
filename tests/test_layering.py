"""The package's architecture rules, checked on the source with Python's ast (docs/ARCHITECTURE.md):

- no import circle between fastnn's modules (lazy imports inside functions count too);
- no module imports a layer above its own (layers in LAYERS, lowest first);
- no leading-underscore name is imported from another module, or read from an imported module;
- no file in fastnn/ is longer than MAX_LINES.

Modules that still break a rule are listed in the allow-lists below with the reason; each entry
must still be needed (a stale entry fails), so the lists only shrink.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fastnn"
MAX_LINES = 400

# Lowest first; a module may import its own layer or any layer below. The longest prefix wins.
LAYERS: tuple[tuple[str, ...], ...] = (
    # contract: every shared fact; arguments: the hyperparameter checks; neither imports anything above
    ("fastnn.threads", "fastnn.random", "fastnn.backends.contract", "fastnn.arguments", "fastnn.version"),
    # kernel bodies, below the table that loads them
    ("fastnn.backends.reference", "fastnn.backends.numba", "fastnn._cython"),
    ("fastnn.backends",),
    ("fastnn.autograd",),
    ("fastnn.ops",),
    ("fastnn.tensor", "fastnn.functions", "fastnn.printing", "fastnn.legacy", "fastnn.cuda", "fastnn.accelerator",
     "fastnn.distributed"),  # distributed: the collectives only
    ("fastnn.nn", "fastnn.optim", "fastnn.data", "fastnn.tabular"),
    ("fastnn.train", "fastnn.io", "fastnn.text", "fastnn.sklearn", "fastnn.onnx", "fastnn.distributed.training",
     "fastnn.compile"),
    ("fastnn.cli", "fastnn.bench", "fastnn.distributed.benchmark", "fastnn.compile.benchmark", "fastnn.__main__",
     "fastnn"),
)

# (importer, imported): why it is still allowed. The lead shrinks these after merging.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {}
ALLOWED_PRIVATE: dict[tuple[str, str], str] = {
    ("fastnn.nn.module", "fastnn.tensor._infer_array"): "nn helper: use fastnn.autograd.dtypes.infer_array",
    ("fastnn.nn.module", "fastnn.tensor._is_device"): "nn helper: use fastnn.autograd.device.is_device",
    ("fastnn.nn.module", "fastnn.tensor._wrap"): "nn helper: use fastnn.autograd.engine.wrap",
    ("fastnn.nn.container", "fastnn.nn.activation._Elementwise"): "nn helper: a public base class for activations",
}
ALLOWED_CYCLES: dict[frozenset, str] = {}
ALLOWED_LONG: dict[str, str] = {
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = source_files()


def resolve(importer: str, node: ast.ImportFrom | ast.Import, path: Path) -> list[tuple[str, str | None]]:
    """(module, imported name or None) pairs of one import statement, modules inside fastnn only."""
    out: list[tuple[str, str | None]] = []
    if isinstance(node, ast.Import):
        return [(a.name, None) for a in node.names if a.name.split(".")[0] == "fastnn"]
    base = node.module or ""
    if node.level:
        package = importer.split(".") if path.name == "__init__.py" else importer.split(".")[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    if base.split(".")[0] != "fastnn":
        return out
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.append((sub, None) if sub in MODULES else (base, alias.name))
    return out


def imports() -> dict[str, list[tuple[str, str | None, int]]]:
    """Every fastnn import of every module (top-level and inside functions), with its line."""
    found: dict[str, list[tuple[str, str | None, int]]] = {}
    for name, path in MODULES.items():
        edges = found.setdefault(name, [])
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.extend((module, symbol, node.lineno) for module, symbol in resolve(name, node, path))
    return found


IMPORTS = imports()


def layer(module: str) -> int:
    best, rank = -1, len(LAYERS)
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    return rank


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer(m) == len(LAYERS)] == []


def test_no_module_imports_a_layer_above_its_own():
    found = {(m, target) for m, edges in IMPORTS.items() for target, _, _ in edges
             if m != "fastnn" and layer(target) > layer(m)}
    assert found - set(ALLOWED_UPWARD) == set()
    assert set(ALLOWED_UPWARD) - found == set(), "stale allow-list entries"


def private_uses() -> set[tuple[str, str]]:
    """(module, 'other.module._name') for each underscore name imported from, or read off, another module."""
    found = set()
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        module_aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias, (module, symbol) in zip(node.names, resolve(name, node, path)):
                    if module == name:
                        continue
                    if symbol is None:
                        module_aliases[alias.asname or alias.name.split(".")[0]] = (
                            module if alias.asname or isinstance(node, ast.ImportFrom) else "fastnn")
                    elif symbol.startswith("_") and not symbol.startswith("__"):
                        found.add((name, f"{module}.{symbol}"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = dotted(node.value)
                if owner and owner[0] in module_aliases:
                    module = ".".join([module_aliases[owner[0]], *owner[1:]])
                    if module in MODULES and module != name:
                        found.add((name, f"{module}.{node.attr}"))
    return found


def dotted(node: ast.expr) -> list[str] | None:
    """['a', 'b', 'c'] for the expression a.b.c, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def test_no_underscore_name_crosses_a_module():
    found = private_uses()
    assert found - set(ALLOWED_PRIVATE) == set()
    assert set(ALLOWED_PRIVATE) - found == set(), "stale allow-list entries"


def cycles() -> list[frozenset]:
    """The strongly connected components (more than one module) of the import graph (Tarjan, iterative)."""
    graph = {m: sorted({t for t, _, _ in edges if t in MODULES and t != "fastnn" and t != m})
             for m, edges in IMPORTS.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(graph[node]):
                work.append((node, i + 1))
                nxt = graph[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = set()
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.add(top)
                    if top == node:
                        break
                if len(component) > 1:
                    components.append(frozenset(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def test_no_import_circle():
    found = set(cycles())
    assert found - set(ALLOWED_CYCLES) == set()
    assert set(ALLOWED_CYCLES) - found == set(), "stale allow-list entries"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_file_is_longer_than_the_limit(name):
    path = MODULES[name]
    relative = str(path.relative_to(PACKAGE.parent))
    lines = len(path.read_text().splitlines())
    if relative in ALLOWED_LONG:
        assert lines > MAX_LINES, f"{relative} is short now: drop it from ALLOWED_LONG"
    else:
        assert lines <= MAX_LINES, f"{relative} has {lines} lines (limit {MAX_LINES})"


def test_the_checks_read_the_real_imports():
    """The rules are not vacuous: the graph holds the package's real imports, lazy ones included."""
    assert ("fastnn.autograd.engine", "record") in {(t, s) for t, s, _ in IMPORTS["fastnn.ops.arithmetic"]}
    assert any(t == "fastnn.threads" for t, _, _ in IMPORTS["fastnn.backends.registry"])  # imported inside a function
    assert layer("fastnn.nn.linear") > layer("fastnn.ops.linear") > layer("fastnn.autograd.engine")
    assert ("fastnn.nn.module", "fastnn.tensor._wrap") in private_uses()
