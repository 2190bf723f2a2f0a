"""The layers of the code: a model without UI, thin views, and no import cycle.

The model is every module of ``esap_dash`` and ``connectors`` except the
views (``pages``, ``components``) and the server around them (``app``,
``web``, ``cli``); ``connectors/`` is plain Python (not even ``param``).
Imports are read from the source, lazy ones included; those only for type
checkers (``if TYPE_CHECKING:``) are not imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("esap_dash", "connectors")
VIEWS = ("esap_dash.ui.pages", "esap_dash.ui.components", "esap_dash.app", "esap_dash.web",
         "esap_dash.cli")
UI = ("panel", "bokeh", "holoviews", "hvplot")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute, type-checking imports left out."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    parts = parts[:len(parts) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def _graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    modules = {_module_name(p): p for p in files}
    return {name: {m for m in _imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def _is(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_model_imports_no_ui_and_no_view() -> None:
    for path in [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]:
        name = _module_name(path)
        if _is(name, VIEWS):
            continue
        forbidden = (*UI, "param") if _is(name, ("connectors",)) else UI
        wrong = sorted(m for m in _imports(path) if _is(m, forbidden) or _is(m, VIEWS))
        assert not wrong, f"{name} (model) imports {wrong}"


def test_components_never_import_pages() -> None:
    for name, imported in _graph().items():
        if _is(name, ("esap_dash.ui.components",)):
            pages = sorted(m for m in imported if _is(m, ("esap_dash.ui.pages",)))
            assert not pages, f"{name} imports {pages}"


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph()
    done: set[str] = set()

    def walk(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(name):],
                                                                 name]))
        if name in done:
            return
        for other in sorted(graph[name]):
            walk(other, [*path, name])
        done.add(name)

    for name in sorted(graph):
        walk(name, [])


def test_using_the_model_loads_no_ui_library() -> None:
    # Migration scripts run inside Alembic only; their imports are read above.
    model = sorted(n for n in _graph() if not _is(n, VIEWS)
                   and not n.startswith("esap_dash.core.migrations."))
    code = ("import importlib, sys, connectors\n"
            f"for name in {model!r}:\n"
            "    importlib.import_module(name)\n"
            "for kind in connectors.available_kinds():\n"  # plug-ins too
            "    connectors.connector_class(kind)\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(UI)!r}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[]", out.stdout
