"""``facerec-bench cluster_scale``: time and memory of clustering against the number of faces.

Face-like vectors (identity clusters on a low-dimensional latent, src/bench/vectors.py; ``dim`` 256 = dlib's
128-d network with flip-TTA concat) at each size: the exact neighbour graph (blocked matrix products, the
reference), the graph through Milvus (Lite, or a server with ``server_uri``) with its recall against the exact
one, and Chinese whispers on each, scored against the true identities.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from src.bench.backends import Backend, collection_name, open_backends
from src.bench.config import MilvusBenchConfig
from src.bench.report import Outcome, make_table
from src.bench.vectors import FaceLikeGenerator
from src.monitoring.hardware import HardwareSampler

log = logging.getLogger(__name__)


@dataclass
class ClusterScaleConfig(MilvusBenchConfig):
    """Keys of ``facerec-bench cluster_scale`` (``backends=[]``: the exact graph only)."""

    sizes: list[int] = field(default_factory=lambda: [10_000, 100_000])
    dim: int = 256
    # Milvus Lite 3 took 33 s for the graph of 2,000 faces (exact: 1.3 s), so the default is the local server
    backends: list[str] = field(default_factory=lambda: ["server"])
    neighbours: int = 10
    threshold: float = 0.4  # face-like pairs: same identity ~0.65, different ~0 (std 0.12)
    algorithm: str = "chinese_whispers"
    block_rows: int = 1024

    def check(self) -> None:
        if self.backends:
            super().check()


def _measure(step: Any) -> tuple[Any, dict[str, float]]:
    with HardwareSampler(interval=0.2) as sampler:
        began = time.perf_counter()
        value = step()
        seconds = time.perf_counter() - began
    summary = sampler.summary()
    return value, {"seconds": seconds, "rss_mb_peak": summary["rss_mb_peak"],
                   "rss_mb_added": summary["rss_mb_peak"] - summary["rss_mb_start"]}


def one_size(config: ClusterScaleConfig, n: int, backends: list[Backend]) -> dict[str, Any]:
    """Graphs, recall and clustering at ``n`` faces."""
    from src.cluster.algorithms import group
    from src.cluster.graph import neighbour_graph
    from src.cluster.metrics import cluster_scores

    labels = np.arange(n) // config.face_like.images_per_id
    generator = FaceLikeGenerator(int(labels.max()) + 1, config.dim, config.face_like, config.seed)
    vectors = generator.images(labels)
    k = config.neighbours
    result: dict[str, Any] = {"faces": n, "identities": int(labels.max()) + 1}
    exact, result["exact_graph"] = _measure(lambda: neighbour_graph(vectors, k, "exact",
                                                                    block_rows=config.block_rows))
    graphs = {"exact": exact}
    for backend in backends:
        milvus = {"uri": backend.uri, "collection": collection_name("cluster_graph", n)}
        graphs[backend.name], timing = _measure(lambda milvus=milvus: neighbour_graph(vectors, k, "milvus",
                                                                                      milvus=milvus))
        hits = [len(set(a) & set(b)) for a, b in zip(graphs[backend.name].indices, exact.indices, strict=True)]
        result[f"{backend.name}_graph"] = {**timing, "recall_vs_exact": float(np.sum(hits) / exact.indices.size)}
    for name, graph in graphs.items():
        found, timing = _measure(lambda graph=graph: group(config.algorithm, graph, vectors, config.threshold))
        scores = cluster_scores(found, labels)
        result[f"{config.algorithm}_on_{name}"] = {**timing, **{key: scores[key] for key in (
            "pairwise_f1", "bcubed_f", "clusters", "unclustered")}}
    log.info("%d faces: %s", n, result)
    return result


def run_cluster_scale(config: ClusterScaleConfig) -> Outcome:
    with open_backends(config) as backends:
        results = [one_size(config, n, backends) for n in config.sizes]
        described = [{"name": b.name, "uri": b.uri, "package": b.server_package} for b in backends]
    steps = ["exact", *[b["name"] for b in described]]
    rows = []
    for r in results:
        for step in steps:
            graph = r["exact_graph" if step == "exact" else f"{step}_graph"]
            rows.append([r["faces"], f"{step} graph", graph["seconds"], graph["rss_mb_added"],
                         graph.get("recall_vs_exact", 1.0), None, None])
        for step in steps:
            c = r[f"{config.algorithm}_on_{step}"]
            rows.append([r["faces"], f"{config.algorithm} on {step}", c["seconds"], c["rss_mb_added"], None,
                         c["pairwise_f1"], c["clusters"]])
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    sizes = [r["faces"] for r in results]
    for step in steps:
        axes.loglog(sizes, [r["exact_graph" if step == "exact" else f"{step}_graph"]["seconds"] for r in results],
                    "o-", label=f"{step} graph")
    axes.loglog(sizes, [r[f"{config.algorithm}_on_exact"]["seconds"] for r in results], "^-", label=config.algorithm)
    axes.set(xlabel="faces", ylabel="seconds", title=f"face-like {config.dim}-d vectors, k={config.neighbours}")
    axes.legend()
    return Outcome(
        data={"kind": "face_like", "dim": config.dim, "sizes": config.sizes, "seed": config.seed,
              "face_like": vars(config.face_like)},
        backends=described, results={"sizes": results},
        summary={str(r["faces"]): {step: r["exact_graph" if step == "exact" else f"{step}_graph"] for step in steps}
                 for r in results},
        figure=figure,
        tables=[make_table(f"Clustering time and memory (face-like {config.dim}-d, k={config.neighbours}, threshold "
                           f"{config.threshold})", ["faces", "step", "s", "RSS added MB", "recall vs exact",
                                                     "pair F1", "clusters"], rows)],
    )
