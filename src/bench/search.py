"""Search quality and speed: HNSW (server) over an M x ef grid, Lite (exact FLAT) and brute force.

Per gallery size: exact torch brute force is the reference (recall 1 by definition; its latency
is measured too). Each Milvus gallery is filled, flushed, indexed, compacted and indexed again
(each step waited for and timed, so nothing is rebuilt in the background while measuring), then
released and loaded again so searches use the built index. For every ef: recall@1/@10 vs
exact over all queries, single-query latency, batch queries/s. The concurrent-clients test runs
at the recommended ef: the smallest reaching ``target_recall`` recall@10 (else the largest).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from src.bench.backends import Backend, collection_name, open_backends, row_keys
from src.bench.config import MilvusBenchConfig
from src.bench.plots import search_figure
from src.bench.report import Outcome, make_table
from src.bench.searchers import ExactSearcher, MilvusSearcher, Searcher
from src.bench.timing import concurrent_throughput, latency_and_batch_qps
from src.bench.vectors import VectorSet, cosine_stats, make_vectors
from src.evaluation.retrieval import search_recall_at_k
from src.vector_store import MilvusStore

log = logging.getLogger(__name__)


@dataclass
class SearchConfig(MilvusBenchConfig):
    sizes: list[int] = field(default_factory=lambda: [10_000, 100_000])
    efs: list[int] = field(default_factory=lambda: [16, 32, 64, 128, 256, 512])
    ms: list[int] = field(default_factory=lambda: [8, 16, 32])
    ef_construction: int = 200
    queries: int = 1000  # held-out queries for recall (and cycled for timing)
    latency_queries: int = 200  # single queries timed per setting
    batch_size: int = 100
    clients: list[int] = field(default_factory=lambda: [1, 4, 8])
    load_queries: int = 400  # queries per concurrent-clients measurement
    top_k: int = 10
    target_recall: float = 0.99
    default_m: int = 16  # the summary reports the recommended ef at the largest size with this M
    consistency_level: str = "Bounded"  # Strong would add up to one time tick to every search
    index_timeout_s: float = 3600.0


@dataclass(frozen=True)
class Setting:
    """What one measured line is: gallery size, backend, index, M."""

    size: int
    backend: str
    index: str
    m: int | None = None

    def label(self) -> str:
        m = f" M={self.m}" if self.m else ""
        return f"{self.backend} {self.index}{m} @{self.size // 1000}k"

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label(), "size": self.size, "backend": self.backend, "index": self.index, "M": self.m}


def measure(searcher: Searcher, setting: Setting, ef: int | None, vectors: VectorSet,
            exact_ids: list[list[int]], cfg: SearchConfig) -> dict[str, Any]:
    """Recall vs exact and timings of one searcher."""
    found = searcher.ids(vectors.queries, cfg.top_k)
    timings = latency_and_batch_qps(searcher, vectors.queries, cfg.latency_queries, cfg.batch_size, cfg.top_k)
    point = {**setting.as_dict(), "ef": ef, "recall_at_1": search_recall_at_k(found, exact_ids, k=1),
             "recall_at_10": search_recall_at_k(found, exact_ids, k=min(10, cfg.top_k)), **timings}
    log.info("search %s ef=%s: recall@10 %.4f, p50 %.2f ms", setting.label(), ef, point["recall_at_10"],
             timings["latency_ms"]["p50_ms"])
    return point


def under_load(searcher: Searcher, setting: Setting, ef: int | None, queries: np.ndarray,
               cfg: SearchConfig) -> list[dict[str, Any]]:
    return [{**setting.as_dict(), "ef": ef, **concurrent_throughput(searcher, queries, c, cfg.load_queries, cfg.top_k)}
            for c in cfg.clients]


def recommend(points: list[dict[str, Any]], target: float) -> dict[str, Any]:
    """The first (smallest-ef) point reaching ``target`` recall@10, else the best-recall one."""
    reached = [p for p in points if p["recall_at_10"] >= target]
    return min(reached, key=lambda p: p["ef"] or 0) if reached else max(points, key=lambda p: p["recall_at_10"])


def fill(store: MilvusStore, vectors: VectorSet, paths: list[str], people: list[str],
         index_timeout_s: float) -> dict[str, Any]:
    """Upsert the gallery (rows keyed by ``paths``, labelled ``people``), flush, wait until it is
    indexed and compacted (settled), reload.

    Returns the timings: a server indexes the flushed segments, then compaction merges them
    (and applies the deletes that upserts leave) and the result is indexed again.
    """
    store.ensure_collection(vectors.gallery.shape[1], model_id="bench", tta_mode="concat", recreate=True)
    began = time.perf_counter()
    store.upsert(paths, people, vectors.gallery, flush=False)
    insert_s = time.perf_counter() - began
    began = time.perf_counter()
    store.flush()
    flush_s = time.perf_counter() - began
    build_s = store.wait_for_index(timeout_s=index_timeout_s)
    compact_s = store.compact(timeout_s=index_timeout_s)
    reindex_s = store.wait_for_index(timeout_s=index_timeout_s)
    began = time.perf_counter()
    store.release()
    store.load()
    load_s = time.perf_counter() - began
    log.info("search %s @%d: inserted %.1fs, flushed %.1fs, indexed %.1fs, compacted %.1fs, re-indexed %.1fs, "
             "loaded %.1fs", store.backend, len(paths), insert_s, flush_s, build_s, compact_s, reindex_s, load_s)
    return {"insert_s": insert_s, "flush_s": flush_s, "index_build_s": build_s, "compact_s": compact_s,
            "reindex_s": reindex_s, "insert_to_ready_s": insert_s + flush_s + build_s + compact_s + reindex_s,
            "load_s": load_s,
            "rows": len(paths), "count_after": store.count(), "index_type": store.index_type}


def bench_milvus(backend: Backend, size: int, vectors: VectorSet, exact_ids: list[list[int]],
                 cfg: SearchConfig) -> tuple[list[dict], list[dict], list[dict]]:
    """(points, load, builds) of one backend at one size: every M x ef on a server, one FLAT line on Lite."""
    points, load, builds = [], [], []
    paths, people, row_of = row_keys(size, vectors.gallery_labels)
    for m in [None] if backend.name == "lite" else cfg.ms:
        store = backend.store(collection_name("search", size, m or "flat"), index_m=m or 16,
                              index_ef_construction=cfg.ef_construction, consistency_level=cfg.consistency_level)
        try:
            build = fill(store, vectors, paths, people, cfg.index_timeout_s)
            setting = Setting(size, backend.name, store.index_type, m)
            sweep = [measure(MilvusSearcher(store, row_of, ef), setting, ef, vectors, exact_ids, cfg)
                     for ef in ([None] if m is None else cfg.efs)]
            chosen = recommend(sweep, cfg.target_recall)["ef"]
            load += under_load(MilvusSearcher(store, row_of, chosen), setting, chosen, vectors.queries, cfg)
            store.drop_collection()
        finally:
            store.close()
        points += sweep
        builds.append({**setting.as_dict(), **build})
    return points, load, builds


def summarize(points: list[dict], cfg: SearchConfig) -> dict[str, Any]:
    """Recommended ef per (size, M) and the headline at the largest size with the default M."""
    recommended = []
    for label in dict.fromkeys(p["label"] for p in points if p["index"] == "HNSW"):
        best = recommend([p for p in points if p["label"] == label], cfg.target_recall)
        recommended.append({k: best[k] for k in ("size", "M", "ef", "recall_at_1", "recall_at_10")}
                           | {"p50_ms": best["latency_ms"]["p50_ms"], "p99_ms": best["latency_ms"]["p99_ms"],
                              "reached_target": best["recall_at_10"] >= cfg.target_recall})
    largest = max(cfg.sizes)
    default = [r for r in recommended if r["size"] == largest and r["M"] == cfg.default_m]
    exact = [p for p in points if p["backend"] == "exact" and p["size"] == largest]
    return {"target_recall_at_10": cfg.target_recall, "recommended": recommended,
            "default_ef": default[0] if default else None,
            "exact": {"size": largest, "p50_ms": exact[0]["latency_ms"]["p50_ms"],
                      "p99_ms": exact[0]["latency_ms"]["p99_ms"]} if exact else None}


def _build_cells(build: dict | None) -> list[float | None]:
    return [build["index_build_s"], build["compact_s"] + build["reindex_s"]] if build else [None, None]


def tables(points: list[dict], load: list[dict], builds: list[dict], title: str) -> list:
    build_of = {b["label"]: b for b in builds}
    rows = [[p["label"], p["ef"], p["recall_at_1"], p["recall_at_10"], p["latency_ms"]["p50_ms"],
             p["latency_ms"]["p95_ms"], p["latency_ms"]["p99_ms"], p["batch_qps"],
             *_build_cells(build_of.get(p["label"]))] for p in points]
    load_rows = [[p["label"], p["ef"], p["clients"], p["qps"], p["latency_ms"]["p50_ms"], p["latency_ms"]["p99_ms"]]
                 for p in load]
    return [make_table(title, ["setting", "ef", "R@1", "R@10", "p50 ms", "p95 ms", "p99 ms", "batch q/s",
                               "index build s", "compact+reindex s"], rows),
            make_table("Concurrent clients (threads, single queries)",
                       ["setting", "ef", "clients", "q/s", "p50 ms", "p99 ms"], load_rows)]


def run_search(cfg: SearchConfig) -> Outcome:
    points, load, builds, sets = [], [], [], []
    with open_backends(cfg) as backends:
        for size in cfg.sizes:
            vectors = make_vectors(cfg.data, size, cfg.queries, cfg.dim, cfg.face_like, cfg.seed)
            sets.append({**vectors.description, "cosine": cosine_stats(vectors)})
            exact = ExactSearcher(vectors.gallery)
            exact_ids = exact.ids(vectors.queries, cfg.top_k)
            setting = Setting(size, "exact", "brute-force")
            points.append(measure(exact, setting, None, vectors, exact_ids, cfg))
            load += under_load(exact, setting, None, vectors.queries, cfg)
            for backend in backends:
                more = bench_milvus(backend, size, vectors, exact_ids, cfg)
                points, load, builds = points + more[0], load + more[1], builds + more[2]
        described = [b.describe() for b in backends]
    title = f"Search, {cfg.data} {cfg.dim}-d, {cfg.queries} held-out queries, top-{cfg.top_k}"
    return Outcome(data={"kind": cfg.data, "sets": sets}, backends=described,
                   results={"points": points, "load": load, "builds": builds},
                   summary=summarize(points, cfg), figure=search_figure(points, load),
                   tables=tables(points, load, builds, title))
