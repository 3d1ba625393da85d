"""The one embed-and-upsert path: ``(image path, person_id)`` pairs -> the model -> rows of a Milvus collection.

Export, the end-of-training callback, enrollment (:meth:`FaceGallery.add`) and the evaluation's gallery all
write through :func:`embed_into_store`. Rows are keyed by :func:`src.vector_store.row_id` (relative path and
content for an export, content alone for an enrollment), so writing again replaces them, never duplicates them;
``image_path`` holds the resolved path for display.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from src.embedding.model import FaceModel
from src.vector_store.records import row_id

if TYPE_CHECKING:
    from src.vector_store import MilvusStore


@dataclass(frozen=True)
class IngestStats:
    """Rows written and where the time went (embedding vs the store's upserts and index build)."""

    rows: int
    seconds: float
    store_seconds: float

    @property
    def embed_seconds(self) -> float:
        """Decoding and embedding time (the rest of ``seconds``)."""
        return self.seconds - self.store_seconds


def embed_into_store(
    model: FaceModel, store: MilvusStore, pairs: Sequence[tuple[str | Path, str]], batch_size: int = 64,
    num_workers: int = 0, out: np.ndarray | None = None, publish: bool = True, description: str = "embedding",
    ids: Sequence[int] | None = None,
) -> IngestStats:
    """Embed ``pairs`` with ``model`` and upsert them into ``store``'s open collection, batch by batch.

    Args:
        out: an array ``(len(pairs), dim)`` that also receives every embedding at its pair's row (in memory, or
            the memory map of :func:`src.gallery.arrays.gallery_arrays`).
        publish: wait until the rows are indexed and searchable through the index (export, evaluation);
            ``False`` only flushes, enough for the few rows of an enrollment, which a server searches by brute
            force until its next index build, without reloading a large collection.
        ids: each pair's row key (an export's :func:`row_id` with its data root); default the content key of
            :func:`row_id` without a root (enrollment).
    """
    paths = [Path(p) for p, _ in pairs]
    people = [str(person) for _, person in pairs]
    keys = list(ids) if ids is not None else [row_id(path) for path in paths]
    start = time.perf_counter()
    store_seconds = 0.0
    for embeddings, index in model.stream(paths, batch_size, num_workers, description=description):
        if out is not None:
            out[index] = embeddings
        before = time.perf_counter()
        store.upsert([str(paths[i].resolve()) for i in index], [people[i] for i in index], embeddings,
                     ids=[keys[i] for i in index], flush=False)
        store_seconds += time.perf_counter() - before
    before = time.perf_counter()
    if publish:
        store.publish()
    else:
        store.flush()
    store_seconds += time.perf_counter() - before
    return IngestStats(rows=len(paths), seconds=time.perf_counter() - start, store_seconds=store_seconds)
