"""Live re-export: searches keep answering while the gallery they read is exported again.

Server (the real 2.3.5 one): two exporters at once. Milvus Lite is one process per file and does not
support concurrent writers, so there one exporter runs while searches go on in the same process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from src.vector_store import MilvusSettings, MilvusStore

DIM, ROWS = 64, 1500


def _vectors(seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((ROWS, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


PATHS = [f"/faces/p{i // 10:03d}/{i:05d}.jpg" for i in range(ROWS)]
PEOPLE = [f"p{i // 10:03d}" for i in range(ROWS)]


def _export(uri: str, collection: str, vectors: np.ndarray) -> None:
    """What an exporter does: ensure, upsert in batches, publish, count."""
    with MilvusStore(MilvusSettings(uri=uri, collection=collection)) as store:
        store.ensure_collection(DIM, model_id="m", tta_mode="flip")
        for start in range(0, ROWS, 500):
            part = slice(start, start + 500)
            store.upsert(PATHS[part], PEOPLE[part], vectors[part], flush=False)
        store.publish()
        assert store.count() == ROWS


class Searcher(threading.Thread):
    """Searches the gallery as identify does until stopped; counts answers, empties and errors."""

    def __init__(self, uri: str, collection: str, vectors: np.ndarray) -> None:
        super().__init__(daemon=True)
        self.store = MilvusStore(MilvusSettings(uri=uri, collection=collection))
        self.store.open_collection()
        self.vectors, self.stop = vectors, threading.Event()
        self.answers, self.empty, self.wrong, self.errors = 0, 0, 0, []

    def run(self) -> None:
        rng = np.random.default_rng(1)
        while not self.stop.is_set():
            i = int(rng.integers(ROWS))
            try:
                [hits] = self.store.search(self.vectors[i], top_k=1)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                self.errors.append(repr(exc)[:300])
                continue
            if not hits:
                self.empty += 1
            elif hits[0].image_path != PATHS[i]:
                self.wrong += 1
            self.answers += 1


@pytest.fixture
def published(milvus_uri: str, milvus_collection: str) -> Iterator[str]:
    _export(milvus_uri, milvus_collection, _vectors())
    yield milvus_collection
    with MilvusStore(MilvusSettings(uri=milvus_uri, collection=milvus_collection)) as store:
        store.drop_collection()


def test_searches_keep_answering_during_reexports(milvus_uri: str, published: str) -> None:
    vectors, server = _vectors(), milvus_uri.startswith("http")
    searcher = Searcher(milvus_uri, published, vectors)
    searcher.start()
    time.sleep(0.5)
    failures: list[str] = []

    def exporter() -> None:
        try:
            _export(milvus_uri, published, vectors)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(repr(exc)[:500])

    exporters = [threading.Thread(target=exporter) for _ in range(2 if server else 1)]
    for thread in exporters:
        thread.start()
    for thread in exporters:
        thread.join(timeout=300)
    time.sleep(0.5)
    searcher.stop.set()
    searcher.join(timeout=60)
    searcher.store.close()
    assert failures == []
    assert searcher.errors == [] and searcher.empty == 0 and searcher.wrong == 0
    assert searcher.answers > 20  # the searcher really ran through the re-export


def test_two_exporters_creating_the_same_new_gallery(milvus_server_uri: str, milvus_collection: str) -> None:
    """Both find no collection and create it at the same moment: neither fails, one gallery results."""
    barrier, failures = threading.Barrier(2), []

    def exporter() -> None:
        with MilvusStore(MilvusSettings(uri=milvus_server_uri, collection=milvus_collection)) as store:
            barrier.wait()
            try:
                store.ensure_collection(DIM, model_id="m", tta_mode="flip")
                store.upsert(PATHS[:100], PEOPLE[:100], _vectors()[:100])
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(repr(exc)[:500])

    threads = [threading.Thread(target=exporter) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with MilvusStore(MilvusSettings(uri=milvus_server_uri, collection=milvus_collection)) as store:
        count = store.count()
        store.drop_collection()
    assert failures == [] and count == 100
