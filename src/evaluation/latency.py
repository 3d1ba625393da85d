"""Latency: summaries of measured durations, and search timing through a vector store (single queries, batches,
an ``ef`` sweep)."""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from src.evaluation.arrays import ArrayLike, to_numpy
from src.evaluation.retrieval import search_recall_at_k


def latency_summary(durations_s: ArrayLike) -> dict[str, float]:
    """Summary of durations given in seconds, reported in milliseconds.

    Returns ``{"count": int, "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms", "min_ms": float}``;
    percentiles use numpy's default linear interpolation.
    """
    ms = to_numpy(durations_s, np.float64).ravel() * 1000.0
    if len(ms) == 0:
        raise ValueError("no durations")
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "count": int(len(ms)),
        "mean_ms": float(ms.mean()),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "max_ms": float(ms.max()),
        "min_ms": float(ms.min()),
    }


class VectorSearch(Protocol):
    """Anything searched like :class:`src.vector_store.MilvusStore` (the store, or a benchmark's reference)."""

    def search(self, queries: np.ndarray, top_k: int, ef: int | None = None) -> Any: ...


def _cycle(queries: np.ndarray, n: int) -> np.ndarray:
    return queries[np.arange(n) % len(queries)]


def single_query_latency(store: VectorSearch, queries: np.ndarray, n: int, top_k: int, ef: int | None = None,
                         warmup: int = 10) -> dict[str, float]:
    """p50/p95/p99/mean of ``n`` one-vector searches (queries reused cyclically), after ``warmup`` searches."""
    batch = _cycle(queries, n + warmup)
    durations = []
    for i, query in enumerate(batch):
        start = time.perf_counter()
        store.search(query[None], top_k, ef=ef)
        if i >= warmup:
            durations.append(time.perf_counter() - start)
    return latency_summary(durations)


def batched_throughput(store: VectorSearch, queries: np.ndarray, batch_sizes: Sequence[int], top_k: int,
                       total: int = 256) -> list[dict[str, float]]:
    """Queries per second when ``total`` queries are sent ``batch_size`` at a time."""
    rows = []
    for size in batch_sizes:
        batch = _cycle(queries, max(total, size))
        store.search(batch[:size], top_k)  # warm-up
        start = time.perf_counter()
        for begin in range(0, len(batch), size):
            store.search(batch[begin:begin + size], top_k)
        seconds = time.perf_counter() - start
        rows.append({"batch_size": int(size), "queries": len(batch), "queries_per_sec": len(batch) / seconds})
    return rows


def ef_sweep(store: VectorSearch, queries: np.ndarray, exact_ids: np.ndarray, efs: Sequence[int], n_latency: int,
             top_k: int = 10) -> list[dict[str, float]]:
    """recall@10 against exact search and single-query p50/p99 latency for each ``ef``."""
    rows = []
    for ef in efs:
        hits = store.search(queries, top_k, ef=ef)
        approx = [[hit.id for hit in row] for row in hits]
        latency = single_query_latency(store, queries, n_latency, top_k, ef=ef)
        rows.append({"ef": int(ef), "recall_at_10": search_recall_at_k(approx, [list(r[:10]) for r in exact_ids], k=10),
                     "p50_ms": latency["p50_ms"], "p99_ms": latency["p99_ms"]})
    return rows
