"""The gallery file on Milvus Lite: a user's own pymilvus opens it, and the store never leaves a
stray ``.db`` behind when asked to read a gallery that does not exist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from src.vector_store import CollectionNotFoundError, MilvusSettings, MilvusStore, MilvusUnavailableError

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


def test_reading_a_missing_lite_gallery_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "typo" / "gallery.db"
    with MilvusStore(MilvusSettings(uri=str(path), collection="faces")) as store:
        assert store.has_collection() is False  # what identify / remove / enroll ask first
        with pytest.raises(CollectionNotFoundError, match=r"gallery .*typo/gallery.db does not exist .*mistyped"):
            store.open_collection()
        for call in (store.count, lambda: store.search(np.ones(4, dtype=np.float32)),
                     lambda: store.delete_person("p1")):
            with pytest.raises(CollectionNotFoundError, match="nothing was created"):
                call()
        store.drop_collection()  # nothing to drop: no error, nothing created
    assert not path.exists() and not path.parent.exists()

    with MilvusStore(MilvusSettings(uri=str(path), collection="faces")) as store:  # creating still works
        store.ensure_collection(4, model_id="m", tta_mode="none")
        store.upsert(["/a.jpg"], ["a"], np.ones((1, 4), dtype=np.float32))
        assert store.count() == 1
    assert path.is_dir()


def test_lite2_gallery_file_is_refused_with_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "gallery.db"
    path.write_bytes(b"SQLite format 3\x00" + bytes(100))  # a Milvus Lite 2.x gallery is one file
    with pytest.raises(MilvusUnavailableError, match=r"Lite 2\.x gallery file.*facerec-export"):
        MilvusStore(MilvusSettings(uri=str(path)))
    assert path.read_bytes().startswith(b"SQLite format 3")  # left as it was


def test_lite_gallery_names_beyond_lite2_limits(tmp_path: Path) -> None:
    """Lite 2.5 took at most 36 characters of [A-Za-z0-9._-]; Lite 3 takes any '.db' name."""
    path = tmp_path / "ORL faces (30 people) – resnet50 run 2026-11-27.db"
    with MilvusStore(MilvusSettings(uri=str(path), collection="faces")) as store:
        store.ensure_collection(4, model_id="m", tta_mode="none")
        store.upsert(["/a.jpg", "/b.jpg"], ["a", "b"], np.eye(2, 4, dtype=np.float32))
        assert store.count() == 2
    with pytest.raises(ValueError, match="ending in '.db'"):
        MilvusSettings(uri=str(tmp_path / "gallery.sqlite"))


def test_reopened_lite_gallery_reads_without_open_collection(tmp_path: Path) -> None:
    """Lite 3 reopens a gallery with its collections released; the store loads its own, so a fresh
    store reads (count, query, search) without open_collection, as it does on a server."""
    settings = MilvusSettings(uri=str(tmp_path / "gallery.db"), collection="faces")
    vectors = np.eye(3, 8, dtype=np.float32)
    with MilvusStore(settings) as store:
        store.ensure_collection(8, model_id="m", tta_mode="none")
        store.upsert(["/a.jpg", "/b.jpg", "/c.jpg"], ["a", "b", "b"], vectors)
        store.publish()
    with MilvusStore(settings) as store:
        assert store.count() == 3
        assert [r.image_path for r in store.query_person("b")] == ["/b.jpg", "/c.jpg"]
        assert store.search(vectors[2], top_k=1)[0][0].image_path == "/c.jpg"
