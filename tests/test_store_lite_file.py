"""The gallery file on Milvus Lite: a user's own pymilvus opens it, and the store never leaves a
stray ``.db`` behind when asked to read a gallery that does not exist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from src.vector_store import MilvusSettings, MilvusStore

BARE_COUNT = """
import sys
from pymilvus import MilvusClient
client = MilvusClient(sys.argv[1])
rows = client.query(sys.argv[2], filter="", output_fields=["count(*)"])
print(rows[0]["count(*)"])
"""


def test_bare_pymilvus_opens_a_gallery_written_by_the_project(tmp_path: Path) -> None:
    path = tmp_path / "run" / "gallery.db"
    vectors = np.random.default_rng(0).standard_normal((7, 16)).astype(np.float32)
    with MilvusStore(MilvusSettings(uri=str(path), collection="faces")) as store:
        store.ensure_collection(16, model_id="m", tta_mode="flip")
        store.upsert([f"/faces/p{i}/{i}.jpg" for i in range(7)], [f"p{i % 3}" for i in range(7)], vectors)
    # A fresh interpreter outside the project (cwd elsewhere, no src/ import): no project code can help.
    done = subprocess.run([sys.executable, "-c", BARE_COUNT, str(path), "faces"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "7"
