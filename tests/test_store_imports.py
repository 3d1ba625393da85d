"""Only ``src/vector_store/`` may import pymilvus or milvus_lite: every other module of ``src/`` and
every notebook code cell talks to Milvus through :class:`src.vector_store.MilvusStore`."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("pymilvus", "milvus_lite")
ALLOWED_DIR = ROOT / "src" / "vector_store"


def _is_forbidden(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in FORBIDDEN


def milvus_imports(source: str) -> list[str]:
    """``line: statement`` for each import of pymilvus/milvus_lite in ``source`` (static or via
    ``importlib.import_module("...")`` / ``__import__("...")`` with a literal name)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str | None] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        found += [f"{node.lineno}: {ast.unparse(node)}" for name in names if _is_forbidden(name)]
    return found


def _notebook_code(path: Path) -> str:
    """The notebook's code cells joined; IPython magics and shell lines are blanked (not Python)."""
    cells = json.loads(path.read_text())["cells"]
    lines = []
    for cell in cells:
        if cell.get("cell_type") == "code":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            lines += ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    return "\n".join(lines)


def _sources() -> list[tuple[Path, str]]:
    modules = [p for p in (ROOT / "src").rglob("*.py") if ALLOWED_DIR not in p.parents]
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    return [(p, p.read_text()) for p in sorted(modules)] + [(p, _notebook_code(p)) for p in notebooks]


@pytest.mark.parametrize("source", [
    "import pymilvus", "import pymilvus.orm.types as t", "from pymilvus import MilvusClient",
    "from milvus_lite.server_manager import server_manager_instance",
    "import importlib\nimportlib.import_module('pymilvus')", "m = __import__('milvus_lite')",
    "def f():\n    from pymilvus import DataType\n",
])
def test_detector_finds_every_import_form(source: str) -> None:
    assert len(milvus_imports(source)) == 1


def test_detector_ignores_lookalikes() -> None:
    assert milvus_imports("import milvus\nfrom src.vector_store import MilvusStore\nfrom .pymilvus import x\n"
                          "name = 'pymilvus'\nimportlib.import_module(name)") == []


def test_only_vector_store_imports_pymilvus() -> None:
    sources = _sources()
    assert len(sources) > 20 and any(p.suffix == ".ipynb" for p, _ in sources)  # the scan saw the project
    offenders = {str(p.relative_to(ROOT)): hits for p, text in sources if (hits := milvus_imports(text))}
    assert offenders == {}, ("only src/vector_store/ may import pymilvus/milvus_lite; go through "
                             f"src.vector_store.MilvusStore instead: {offenders}")
