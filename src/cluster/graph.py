"""The k-nearest-neighbour graph of the faces: who is similar to whom above the linking threshold.

Exact in-process (matrix products in blocks of rows, so memory stays ``block_rows x n``) for small sets; for large
ones the gallery's Milvus answers the top-k (:func:`src.gallery.neighbours.milvus_neighbours`). Both give
``(indices, similarities)`` of shape ``(n, k)`` (the face itself left out, ``-1`` where fewer neighbours exist).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import sparse


@dataclass(frozen=True)
class NeighbourGraph:
    """Top-k neighbours of each face, best first; ``-1`` marks a missing neighbour."""

    indices: np.ndarray  # (n, k) int64
    similarities: np.ndarray  # (n, k) float32

    @property
    def size(self) -> int:
        return len(self.indices)

    def edges(self, threshold: float) -> sparse.csr_matrix:
        """Symmetric similarity matrix of the links at or above ``threshold`` (a link found from either side)."""
        rows = np.repeat(np.arange(self.size), self.indices.shape[1])
        cols, sims = self.indices.ravel(), self.similarities.ravel().astype(np.float64)
        keep = (cols >= 0) & (cols != rows) & (sims >= threshold)
        graph = sparse.coo_matrix((sims[keep], (rows[keep], cols[keep])), shape=(self.size, self.size)).tocsr()
        return graph.maximum(graph.T).tocsr()


def drop_self(indices: np.ndarray, sims: np.ndarray, k: int) -> NeighbourGraph:
    """Remove each row's own index from its top-(k+1) list (it may not come first when duplicates tie)."""
    own = indices == np.arange(len(indices))[:, None]
    own[own.sum(1) == 0, -1] = True  # no self hit: drop the last (weakest) instead
    keep = ~own
    return NeighbourGraph(indices[keep].reshape(len(indices), -1)[:, :k],
                          sims[keep].reshape(len(indices), -1)[:, :k].astype(np.float32))


def exact_neighbours(vectors: np.ndarray, k: int, block_rows: int = 1024) -> NeighbourGraph:
    """Exact top-``k`` cosine neighbours of unit ``vectors`` by blocked matrix products."""
    data = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    n, take = len(data), min(k + 1, len(data))
    indices = np.full((n, k + 1), -1, np.int64)
    sims = np.full((n, k + 1), -np.inf, np.float32)
    with torch.inference_mode():
        for start in range(0, n, block_rows):
            top = torch.topk(data[start:start + block_rows] @ data.T, take, dim=1)
            indices[start:start + block_rows, :take] = top.indices.numpy()
            sims[start:start + block_rows, :take] = top.values.numpy()
    return drop_self(indices, sims, k)


def neighbour_graph(vectors: np.ndarray, k: int, method: str = "auto", milvus_above: int = 50_000,
                    block_rows: int = 1024, milvus: Mapping[str, Any] | str | None = None) -> NeighbourGraph:
    """The graph by ``method`` (``exact`` | ``milvus`` | ``auto``: Milvus from ``milvus_above`` faces on)."""
    if method not in ("exact", "milvus", "auto"):
        raise ValueError(f"clustering.graph={method!r}: use exact, milvus or auto.")
    use_milvus = method == "milvus" or (method == "auto" and len(vectors) >= milvus_above)
    if not use_milvus:
        return exact_neighbours(vectors, k, block_rows)
    if milvus is None:
        raise ValueError("clustering.graph=milvus needs a Milvus (milvus.uri=<.db file or http://host:port>).")
    from src.gallery.neighbours import milvus_neighbours  # pymilvus: only when the graph goes through Milvus

    indices, sims = milvus_neighbours(vectors, k + 1, milvus)
    return drop_self(indices, sims, k)
