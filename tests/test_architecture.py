"""The package's shape (issue 19): rooms without import cycles, no reaching into another
module's private names, no file over 600 lines, at most 10 modules at the package root."""
from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reslab"
MAX_LINES, MAX_ROOT_MODULES = 600, 10


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imported(node: ast.AST, here: str) -> list[tuple[str, list[str]]]:
    """(module, names) pairs for an import statement; ``from pkg import sub`` is ``pkg.sub``."""
    if isinstance(node, ast.Import):
        return [(a.name, []) for a in node.names if a.name.split(".")[0] == "reslab"]
    if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
        return []
    if node.module.split(".")[0] != "reslab":
        return []
    pairs, names = [], []
    for alias in node.names:
        sub = f"{node.module}.{alias.name}"
        if sub in MODULES:
            pairs.append((sub, []))
        else:
            names.append(alias.name)
    return pairs + ([(node.module, names)] if names else [])


def _imports() -> dict[str, dict[str, list[str]]]:
    """Every module's reslab imports, at module level or inside functions."""
    graph = {}
    for name, path in MODULES.items():
        graph[name] = {}
        for node in ast.walk(ast.parse(path.read_text())):
            for module, names in _imported(node, name):
                graph[name].setdefault(module, []).extend(names)
    return graph


def _cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in MODULES or w == v:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_among_reslab_modules():
    assert _cycles(_imports()) == []


def _own_private_attributes(tree: ast.AST) -> set[str]:
    """The ``_names`` a module defines: as ``self._x = ...``, functions, classes, globals."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _private_uses() -> list[str]:
    trees = {name: ast.parse(path.read_text()) for name, path in MODULES.items()}
    own = {name: _own_private_attributes(tree) for name, tree in trees.items()}
    anyone = set().union(*own.values())
    found, imports = [], _imports()
    for name, tree in trees.items():
        for module, names in imports[name].items():
            found += [f"{name} imports {module}.{n}" for n in names if n.startswith("_")]
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr in anyone and node.attr not in own[name]:
                found.append(f"{name}:{node.lineno} uses {ast.unparse(node)}")
    return found


def test_no_module_uses_another_modules_private_names():
    assert _private_uses() == []


def test_the_checks_above_can_fail():
    """The two checks find a cycle and a private use when there are some."""
    graph = {"reslab.a": {"reslab.b": []}, "reslab.b": {"reslab.a": []}}
    MODULES.update({"reslab.a": Path("a.py"), "reslab.b": Path("b.py")})
    try:
        assert _cycles(graph) == [["reslab.a", "reslab.b"]]
    finally:
        del MODULES["reslab.a"], MODULES["reslab.b"]
    node = ast.parse("from reslab.training.run import _host_lr").body[0]
    assert _imported(node, "x") == [("reslab.training.run", ["_host_lr"])]


def test_no_file_is_over_600_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in MODULES.values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_package_root_holds_at_most_10_modules():
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, root


# What each room may import (ARCHITECTURE.md): the papers' models and the data know nothing
# of training; training knows nothing of the course; the course knows nothing of the tools.
ROOMS = {
    "leaves": {"reslab.validate", "reslab.paths", "reslab.paper"},
    "models": {"leaves", "models"},
    "data": {"leaves", "data"},
    "training": {"leaves", "models", "data", "training"},
    "course": {"leaves", "models", "data", "training", "course"},
    "tools": {"leaves", "models", "data", "training", "course", "tools"},
}


def _room(module: str) -> str | None:
    if module in ROOMS["leaves"]:
        return "leaves"
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ROOMS) else None


def test_rooms_import_only_the_rooms_below_them():
    wrong = []
    for module, imported in _imports().items():
        room = _room(module)
        if room is None or room == "leaves":
            allowed = ROOMS["leaves"] if room == "leaves" else None
            if allowed is not None:
                wrong += [f"{module} -> {m}" for m in imported if m.startswith("reslab")]
            continue
        for other in imported:
            there = _room(other)
            if there is not None and there not in ROOMS[room] and other not in ROOMS[room]:
                wrong.append(f"{module} -> {other}")
    assert wrong == []


def test_the_private_name_check_finds_a_reach_into_another_modules_field(tmp_path):
    (tmp_path / "a.py").write_text("class Run:\n    def __init__(self):\n        self._loss = 0\n")
    (tmp_path / "b.py").write_text("def read(run):\n    return run._loss\n")
    MODULES.update({"reslab.a": tmp_path / "a.py", "reslab.b": tmp_path / "b.py"})
    try:
        assert _private_uses() == ["reslab.b:2 uses run._loss"]
    finally:
        del MODULES["reslab.a"], MODULES["reslab.b"]


# Issue 27: tests go through public interfaces, so a refactor that keeps behaviour keeps them.

TESTS = Path(__file__).resolve().parent


def _test_reaches(files: dict[str, Path]) -> list[str]:
    """Where ``files`` use one of reslab's own ``_names``: an attribute (``run._loss``), a
    name given to ``setattr``/``monkeypatch.setattr`` (``"_write_file"``) or an import."""
    reslab = set().union(*(_own_private_attributes(ast.parse(p.read_text()))
                           for p in MODULES.values()))
    found = []
    for name, path in files.items():
        tree = ast.parse(path.read_text())
        own = _own_private_attributes(tree)
        for node in ast.walk(tree):
            used = None
            if isinstance(node, ast.Attribute) and not (
                    isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                used = node.attr
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                used = [node.value, *re.findall(r"\.(_[A-Za-z]\w*)", node.value)]  # and code
            elif isinstance(node, ast.alias):
                used = node.name
            for one in [used] if isinstance(used, str) else used or []:
                if re.fullmatch(r"_[A-Za-z]\w*[^_]", one) and one in reslab and one not in own:
                    found.append((name, getattr(node, "lineno", 0), one))
    return [f"{name}:{line} uses {one}" for name, line, one in sorted(found)]


def test_no_test_reaches_into_reslabs_private_names():
    files = {p.name: p for p in sorted(TESTS.glob("*.py")) if p.name != Path(__file__).name}
    assert _test_reaches(files) == []


def test_the_test_reach_check_can_fail(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "def test(monkeypatch, C, run):\n    monkeypatch.setattr(C, '_write_file', None)\n"
        "    return run._loss\nSCRIPT = 'real = C._write_file'\n")
    MODULES["reslab.a"] = tmp_path / "a.py"
    (tmp_path / "a.py").write_text("class Run:\n    def __init__(self):\n        self._loss = 0\n"
                                   "def _write_file():\n    pass\n")
    try:
        assert _test_reaches({"test_x.py": tmp_path / "test_x.py"}) == [
            "test_x.py:2 uses _write_file", "test_x.py:3 uses _loss",
            "test_x.py:4 uses _write_file"]
    finally:
        del MODULES["reslab.a"]
