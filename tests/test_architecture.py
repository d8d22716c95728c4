"""The package's import drawing: no circle among module-level imports, and no import from a lower
layer up (engine -> mechanisms -> analyses -> interfaces), lazy imports included; no file over ~500 lines."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "greatleap"
LAYERS = {  # a module may import its own layer and those below (smaller number)
    "interfaces": 3, "analysis": 2, "engine": 1,
}


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ("cli", "web", "__main__"):
        return LAYERS["interfaces"]
    if len(parts) > 1 and parts[1] == "analysis":  # plots draws a run's own tables: results.plot() uses it
        return LAYERS["analysis"]
    return LAYERS["engine"]


def modules():
    """(module name, path) of every module of the package, sorted."""
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        yield name, path


KNOWN = dict(modules())


def imports(name: str, path: Path, top_level_only: bool):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("greatleap"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("greatleap"):
                for a in node.names:  # "from greatleap.mechanisms import fertility" names a module
                    yield f"{mod}.{a.name}" if f"{mod}.{a.name}" in KNOWN else mod


def test_no_circle_among_module_level_imports():
    known = KNOWN
    graph = {n: {m for m in imports(n, p, True) if m in known and m != n} for n, p in known.items()}
    # a package's __init__ re-exporting its children is not a circle through them
    for n in graph:
        graph[n] = {m for m in graph[n] if not (known[n].name == "__init__.py" and m.startswith(n + "."))}
    state: dict[str, int] = {}

    def visit(n, stack):
        state[n] = 1
        for m in graph[n]:
            if state.get(m) == 1:
                pytest.fail("import circle: " + " -> ".join(stack[stack.index(m):] + [m]))
            if m not in state:
                visit(m, stack + [m])
        state[n] = 2
    for n in graph:
        if n not in state:
            visit(n, [n])


def test_no_import_from_a_lower_layer_up():
    bad = [f"{n} imports {m}" for n, p in modules() for m in imports(n, p, False)
           if layer(m) > layer(n) and n != "greatleap"]
    assert not bad, bad


def test_no_file_over_about_500_lines():
    long = {str(p.relative_to(ROOT.parent)): n for p in ROOT.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 520}
    assert not long, long
