"""Ingestion speed: one row per call vs bulk upserts at several batch sizes, per backend.

Each batch size gets a fresh collection; every ``store.upsert`` call is timed (without flush),
then the flush, then the row count is checked against the rows sent. The store splits a call
into requests of at most ``rows_per_request`` rows (Milvus Lite: ~1 MiB, see the store), which
is recorded: on Lite, batches above ~250 rows x 1024-d still travel as ~250-row requests.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from src.bench.backends import Backend, collection_name, open_backends, row_keys
from src.bench.config import MilvusBenchConfig
from src.bench.plots import ingest_figure
from src.bench.report import Outcome, make_table
from src.bench.vectors import make_vectors
from src.evaluation.latency import latency_summary

log = logging.getLogger(__name__)


@dataclass
class IngestConfig(MilvusBenchConfig):
    n: int = 20_000
    n_single: int = 500  # rows for batch size 1 (one call per row is slow)
    batch_sizes: list[int] = field(default_factory=lambda: [1, 10, 100, 1000, 5000])


def ingest_once(backend: Backend, batch_size: int, rows: int, paths: list[str], people: list[str],
                vectors: np.ndarray) -> dict[str, Any]:
    """Upsert ``rows`` rows ``batch_size`` per call into a fresh collection, flush, count."""
    store = backend.store(collection_name("ingest", batch_size))
    try:
        store.ensure_collection(vectors.shape[1], model_id="bench", tta_mode="concat", recreate=True)
        per_request = min(batch_size, store.rows_per_request(paths[:rows], people[:rows]))
        durations = []
        for start in range(0, rows, batch_size):
            part = slice(start, min(rows, start + batch_size))
            began = time.perf_counter()
            store.upsert(paths[part], people[part], vectors[part], flush=False)
            durations.append(time.perf_counter() - began)
        began = time.perf_counter()
        store.flush()
        flush_s = time.perf_counter() - began
        count = store.count()
        store.drop_collection()
    finally:
        store.close()
    insert_s = float(sum(durations))
    log.info("ingest %s batch=%d: %d rows in %.1fs, flush %.1fs, count %d",
             backend.name, batch_size, rows, insert_s, flush_s, count)
    return {
        "batch_size": batch_size, "mode": "single_row" if batch_size == 1 else "bulk", "rows": rows,
        "calls": len(durations), "rows_per_request": per_request,
        "requests": sum(math.ceil(min(batch_size, rows - s) / per_request) for s in range(0, rows, batch_size)),
        "insert_s": insert_s, "rows_per_s": rows / insert_s, "per_row_ms": 1000.0 * insert_s / rows,
        "call_latency_ms": latency_summary(durations), "flush_s": flush_s,
        "rows_per_s_incl_flush": rows / (insert_s + flush_s),
        "count_after": count, "count_ok": count == rows,
    }


def speedup(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best bulk rows/s over single-row rows/s (None without both)."""
    single = [r for r in runs if r["mode"] == "single_row"]
    bulk = [r for r in runs if r["mode"] == "bulk"]
    if not single or not bulk:
        return {"speedup": None, "best_batch_size": None}
    best = max(bulk, key=lambda r: r["rows_per_s"])
    return {"speedup": best["rows_per_s"] / single[0]["rows_per_s"], "best_batch_size": best["batch_size"]}


def run_ingest(cfg: IngestConfig) -> Outcome:
    vectors = make_vectors(cfg.data, cfg.n, 0, cfg.dim, cfg.face_like, cfg.seed)
    paths, people, _ = row_keys(cfg.n, vectors.gallery_labels)
    per_backend: dict[str, Any] = {}
    with open_backends(cfg) as backends:
        for backend in backends:
            runs = [ingest_once(backend, size, min(cfg.n_single, cfg.n) if size == 1 else cfg.n,
                                paths, people, vectors.gallery) for size in cfg.batch_sizes]
            per_backend[backend.name] = {"runs": runs, **speedup(runs)}
        described = [b.describe() for b in backends]
    rows = [[name, r["batch_size"], r["rows"], r["rows_per_request"], r["rows_per_s"], r["per_row_ms"],
             r["call_latency_ms"]["p99_ms"], r["flush_s"], f"{r['count_after']} ({'ok' if r['count_ok'] else 'WRONG'})"]
            for name, entry in per_backend.items() for r in entry["runs"]]
    table = make_table(f"Ingestion, {cfg.data} {cfg.dim}-d unit vectors (n={cfg.n}, single-row n={cfg.n_single})",
                       ["backend", "batch", "rows", "rows/request", "rows/s", "ms/row", "call p99 ms",
                        "flush s", "count"], rows)
    summary = {name: {"speedup": e["speedup"], "best_batch_size": e["best_batch_size"],
                      "all_counts_ok": all(r["count_ok"] for r in e["runs"])} for name, e in per_backend.items()}
    return Outcome(data=vectors.description, backends=described, results=per_backend, summary=summary,
                   figure=ingest_figure(per_backend), tables=[table])
