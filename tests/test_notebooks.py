"""The notebooks run end to end (Milvus Lite, synthetic data) and draw their plots."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CELL_TIMEOUT_S = 300


def _run(name: str, work_root: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    # The notebooks keep their work folder for the reader (tempfile.mkdtemp); under test it goes inside tmp_path
    # through the kernel's TMPDIR, so pytest's retention removes it (each run left 2 x 26 MB in /tmp).
    monkeypatch.setenv("TMPDIR", str(work_root))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells), f"{name} is committed with outputs; clear them"
    NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()  # raises on any cell error
    return notebook


def _outputs(notebook: nbformat.NotebookNode) -> tuple[int, str]:
    """PNG images shown and all printed text."""
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    images = sum("image/png" in out.get("data", {}) for out in outputs)
    text = "".join(out.get("text", "") + out.get("data", {}).get("text/plain", "") for out in outputs)
    return images, text


def test_ingestion_and_benchmark_notebook(tmp_path, monkeypatch):
    monkeypatch.delenv("FACEREC_MILVUS_URI", raising=False)  # Milvus Lite
    images, text = _outputs(_run("01_ingestion_and_benchmark.ipynb", tmp_path, monkeypatch))
    assert images == 1
    assert "batch    1:" in text and "rows/s with the flush" in text
    assert "gallery rows: 104 (96 bulk + 8 enrolled for id_00012)" in text
    assert "'tta_mode': 'concat'" in text and "random-init" in text


@pytest.mark.parametrize("backend", ["lite", pytest.param("server", marks=pytest.mark.server)])
def test_indexing_and_search_notebook(backend, request, tmp_path, monkeypatch):
    if backend == "server":
        monkeypatch.setenv("FACEREC_MILVUS_URI", request.getfixturevalue("milvus_server_uri"))
    else:
        monkeypatch.delenv("FACEREC_MILVUS_URI", raising=False)
    images, text = _outputs(_run("02_indexing_and_search.ipynb", tmp_path, monkeypatch))
    assert images == 2
    assert "rows: 3072" in text and "(truly id_00000) ->" in text
    recall = {int(ef): float(value) for ef, value in re.findall(r"ef=\s*(\d+): recall@10 ([\d.]+)", text)}
    assert sorted(recall) == [10, 16, 32, 64, 128, 256]
    if backend == "lite":  # exact FLAT search
        assert set(recall.values()) == {1.0}
    else:  # a deliberately small HNSW graph: recall grows with ef
        assert "index_type='HNSW'" in text and recall[10] < recall[256] and recall[256] >= 0.95
