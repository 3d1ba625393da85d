"""Search timing: single queries, batches (reusing the evaluation helpers) and concurrent clients."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from src.bench.searchers import Searcher
from src.evaluation.latency import batched_throughput, latency_summary, single_query_latency


def latency_and_batch_qps(searcher: Searcher, queries: np.ndarray, n_single: int, batch_size: int,
                          top_k: int) -> dict[str, Any]:
    """Single-query latency summary (ms) and queries/s when all queries go ``batch_size`` at a time."""
    single = single_query_latency(searcher, queries, n_single, top_k)
    [batch] = batched_throughput(searcher, queries, [batch_size], top_k, total=len(queries))
    return {"latency_ms": single, "batch_size": batch_size, "batch_qps": batch["queries_per_sec"]}


def concurrent_throughput(searcher: Searcher, queries: np.ndarray, clients: int, total: int,
                          top_k: int) -> dict[str, Any]:
    """``clients`` threads each send ``total // clients`` single queries back to back.

    Returns queries/s over the wall time and the per-query latency summary under that load.
    """
    per_client = max(1, total // clients)
    durations: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def client(c: int) -> None:
        barrier.wait()
        for i in range(per_client):
            query = queries[(c * per_client + i) % len(queries)][None]
            began = time.perf_counter()
            searcher.search(query, top_k)
            durations[c].append(time.perf_counter() - began)

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, c) for c in range(clients)]
        barrier.wait()
        began = time.perf_counter()
        for future in futures:
            future.result()
        wall = time.perf_counter() - began
    flat = [d for per in durations for d in per]
    return {"clients": clients, "queries": len(flat), "qps": len(flat) / wall, "latency_ms": latency_summary(flat)}
