"""Search callables with one interface (``search(queries, top_k, ef=None)``, like MilvusStore):
exact brute force and Milvus with a fixed ``ef``, both answering gallery row numbers via ``ids``."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from src.evaluation.latency import VectorSearch
from src.evaluation.retrieval import exact_top_k
from src.vector_store import MilvusStore


class Searcher(VectorSearch, Protocol):
    def ids(self, queries: np.ndarray, top_k: int) -> list[list[int]]: ...


class ExactSearcher:
    """Brute-force cosine top-k on the (unit-norm) gallery with torch: the reference."""

    def __init__(self, gallery: np.ndarray) -> None:
        self.gallery = torch.from_numpy(np.ascontiguousarray(gallery, dtype=np.float32))

    def search(self, queries: np.ndarray, top_k: int, ef: int | None = None) -> torch.Tensor:
        return exact_top_k(np.atleast_2d(queries), self.gallery, top_k, normalize=False)[1]

    def ids(self, queries: np.ndarray, top_k: int) -> list[list[int]]:
        return self.search(queries, top_k).tolist()


class MilvusSearcher:
    """``store.search`` at a fixed ``ef`` (None: the store's default), hits mapped to row numbers."""

    def __init__(self, store: MilvusStore, row_of: dict[int, int], ef: int | None) -> None:
        self.store, self.row_of, self.ef = store, row_of, ef

    def search(self, queries: np.ndarray, top_k: int, ef: int | None = None) -> list:
        return self.store.search(queries, top_k, ef=ef or self.ef)

    def ids(self, queries: np.ndarray, top_k: int) -> list[list[int]]:
        return [[self.row_of[hit.id] for hit in hits] for hits in self.search(queries, top_k)]
