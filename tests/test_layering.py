"""The layers of the code, as folders: ``ls esap_dash/`` shows them.

- ``esap_dash/core``: the model (profiles, who acts, the store, carts and their
  exports, provenance, searches, sky, health ...): imports no other layer.
- ``esap_dash/work``: jobs and their kinds, placement, workflows, DIRAC: imports
  the model only.
- ``esap_dash/http``: the HTTP API, its contract, share links and the client:
  imports the model and the work, never the UI.
- ``esap_dash/ui``: pages and components (components never import pages).
- the shell on top (``app``, ``cli``, ``serving``, ``web``, the package itself).

``connectors/`` is plain Python (not even ``param``) and knows nothing of
esap-dash; no layer below the UI loads a UI library.  Imports are read from the
source, lazy ones included; those only for type checkers (``if TYPE_CHECKING:``)
are not imports.  No import cycle exists, lazy ones included.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("esap_dash", "connectors")
UI_LIBRARIES = ("panel", "bokeh", "holoviews", "hvplot")
#: Each layer, and the layers it may not import.
LAYERS = {
    "connectors": ("esap_dash",),
    "esap_dash.core": ("esap_dash.work", "esap_dash.http", "esap_dash.ui", "esap_dash.app",
                       "esap_dash.cli", "esap_dash.serving", "esap_dash.web"),
    "esap_dash.work": ("esap_dash.http", "esap_dash.ui", "esap_dash.app", "esap_dash.cli",
                       "esap_dash.serving", "esap_dash.web"),
    "esap_dash.http": ("esap_dash.ui", "esap_dash.app", "esap_dash.cli", "esap_dash.serving",
                       "esap_dash.web"),
    "esap_dash.ui": ("esap_dash.http", "esap_dash.app", "esap_dash.cli", "esap_dash.serving",
                     "esap_dash.web"),
    "esap_dash.ui.components": ("esap_dash.ui.pages",),
}
SHELL = ("esap_dash", "esap_dash.app", "esap_dash.cli", "esap_dash.serving", "esap_dash.web",
         "esap_dash.client", "esap_dash.flows")


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


def _files() -> list[Path]:
    return [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _files()}
    return {name: {m for m in _imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def _is(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_every_module_is_in_a_layer_and_ls_shows_the_layers() -> None:
    for name in _graph():
        assert _is(name, tuple(LAYERS)) or name in SHELL, f"{name} is in no layer"
    shown = {p.name for p in (ROOT / "esap_dash").iterdir() if not p.name.startswith("__")}
    assert {"core", "work", "http", "ui"} <= shown


def test_each_layer_imports_only_the_layers_below_it() -> None:
    for name, imported in _graph().items():
        for layer, forbidden in LAYERS.items():
            if _is(name, (layer,)):
                wrong = sorted(m for m in imported if _is(m, forbidden))
                assert not wrong, f"{name} ({layer}) imports {wrong}"


def test_below_the_ui_no_ui_library_and_connectors_without_param() -> None:
    for path in _files():
        name = _module_name(path)
        if _is(name, ("esap_dash.ui",)) or name in SHELL:
            continue
        forbidden = (*UI_LIBRARIES, "param") if _is(name, ("connectors",)) else UI_LIBRARIES
        wrong = sorted(m for m in _imports(path) if _is(m, forbidden))
        assert not wrong, f"{name} imports {wrong}"


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


def test_using_the_layers_below_the_ui_loads_no_ui_library() -> None:
    # Migration scripts run inside Alembic only; their imports are read above.
    below = sorted(n for n in _graph() if not _is(n, ("esap_dash.ui",)) and n not in SHELL
                   and ".migrations." not in n)
    code = ("import importlib, sys, connectors\n"
            f"for name in {below!r}:\n"
            "    importlib.import_module(name)\n"
            "for kind in connectors.available_kinds():\n"  # plug-ins too
            "    connectors.connector_class(kind)\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(UI_LIBRARIES)!r}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[]", out.stdout
