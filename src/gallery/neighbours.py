"""The k-nearest-neighbour graph of a set of vectors through Milvus: the vectors go into a scratch collection
of the gallery's Milvus (Lite file or server), every vector is searched against it in batches, and the
collection is dropped. For sets too large for the exact in-process graph (clustering, src/cluster/graph.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from src.gallery.face_gallery import milvus_settings
from src.vector_store import MilvusStore

SCRATCH = "cluster_graph"  # collection name; dropped and recreated on every call
QUERY_BATCH = 2048  # queries per search request (the store splits further under the message limit)


def milvus_neighbours(vectors: np.ndarray, k: int, milvus: Mapping[str, Any] | str,
                      collection: str = SCRATCH) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` ``(indices, cosine similarities)`` of each row of unit ``vectors`` among all rows (itself
    included), ``-1`` / ``-inf`` where Milvus returns fewer."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    indices = np.full((n, k), -1, np.int64)
    sims = np.full((n, k), -np.inf, np.float32)
    with MilvusStore(milvus_settings(milvus, collection)) as store:
        if store.has_collection():
            store.drop_collection()
        store.ensure_collection(vectors.shape[1], model_id="cluster-graph", tta_mode="none")
        try:
            keys = list(range(n))
            store.upsert([str(i) for i in keys], ["-"] * n, vectors, ids=keys, flush=False)
            store.publish()  # flush and wait for the index, so every row is searched
            for start in range(0, n, QUERY_BATCH):
                for row, hits in enumerate(store.search(vectors[start:start + QUERY_BATCH], k), start):
                    indices[row, :len(hits)] = [hit.id for hit in hits]
                    sims[row, :len(hits)] = [hit.similarity for hit in hits]
        finally:
            store.drop_collection()
    return indices, sims
