"""connectors/ stays plain Python: no UI library is imported there."""

from __future__ import annotations

import ast
import subprocess
import sys

from esap_dash.config import PROJECT_ROOT

UI = {"panel", "param", "holoviews", "hvplot", "bokeh"}


def test_connector_sources_import_no_ui_library() -> None:
    offenders = []
    for path in sorted((PROJECT_ROOT / "connectors").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in UI]
    assert offenders == []


def test_importing_every_connector_loads_no_ui_library() -> None:
    code = (
        "import sys, connectors\n"
        "for kind in connectors.available_kinds(): connectors.connector_class(kind)\n"
        f"print(sorted(m for m in {sorted(UI)!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
