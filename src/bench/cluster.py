"""``facerec-bench cluster``: which grouping algorithm names people best, on real photos with known people.

The photos of ``data=<folder of identity folders>`` are clustered like ``facerec-cluster`` does it (every face
found, folder names hidden from the algorithms); the folder names only score the result: pairwise
precision/recall/F1, BCubed F and the number of clusters against the number of people, per algorithm at the
linking threshold ``facerec-cluster`` would use (``link_threshold``) and over a sweep of thresholds.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from src.bench.config import CommonConfig
from src.bench.report import Outcome, make_table
from src.utils.paths import CONF_DIR

log = logging.getLogger(__name__)


@dataclass
class ClusterBenchConfig(CommonConfig):
    """Keys of ``facerec-bench cluster``."""

    ckpt_path: str = "dlib"
    data: str = "../shared/data/orl_faces_30"
    align: bool = True
    tta: str = "concat"
    algorithms: list[str] = field(default_factory=lambda: ["chinese_whispers", "components", "agglomerative",
                                                           "dbscan", "hdbscan"])
    threshold: float | None = None  # null: what facerec-cluster picks for this checkpoint (without a gallery)
    threshold_from: str | None = None  # an eval report.json of this checkpoint (its verification threshold)
    default_threshold: float = 0.5  # when neither an eval report nor conf/cluster.yaml's family_thresholds apply
    # coarse over the usual range, fine where dlib-like models separate people (their impostors reach ~0.9)
    sweep: list[float] = field(default_factory=lambda: [round(0.3 + 0.05 * i, 2) for i in range(11)]
                               + [round(0.82 + 0.01 * i, 2) for i in range(16)])
    neighbours: int = 20
    cache_dir: str | None = None  # where faces are cached between runs; default <out_dir>/faces

    def check(self) -> None:
        from src.cluster.algorithms import ALGORITHMS

        unknown = set(self.algorithms) - set(ALGORITHMS)
        if unknown:
            raise ValueError(f"unknown algorithms {sorted(unknown)}; choose from {list(ALGORITHMS)}")


def score_all(config: ClusterBenchConfig, vectors: np.ndarray, truth: np.ndarray,
              thresholds: list[float]) -> dict[str, dict[str, Any]]:
    """``{algorithm: {threshold: scores + seconds}}`` over ``thresholds``."""
    from src.cluster.algorithms import group
    from src.cluster.graph import exact_neighbours
    from src.cluster.metrics import cluster_scores

    graph = exact_neighbours(vectors, min(config.neighbours, len(vectors) - 1))
    results: dict[str, dict[str, Any]] = {}
    for algorithm in config.algorithms:
        for threshold in thresholds:
            began = time.perf_counter()
            labels = group(algorithm, graph, vectors, threshold, seed=config.seed)
            scores = cluster_scores(labels, truth)
            results.setdefault(algorithm, {})[f"{threshold:.4f}"] = {**scores, "seconds": time.perf_counter() - began}
    return results


def run_cluster_bench(config: ClusterBenchConfig) -> Outcome:
    from src.cluster.faces import embed_faces
    from src.cluster.threshold import link_threshold
    from src.embedding.model import load_model

    model = load_model(config.ckpt_path, config.tta, align=config.align)
    out = Path(config.cache_dir or Path(config.out_dir or "outputs/bench/cluster") / "faces")
    found = embed_faces(model, config.data, out)
    root = Path(config.data).resolve()
    truth_names = [Path(face.image).resolve().relative_to(root).parts[0] for face in found.faces]
    _, truth = np.unique(truth_names, return_inverse=True)
    defaults = OmegaConf.load(Path(CONF_DIR) / "cluster.yaml").clustering  # what facerec-cluster would pick
    chosen = link_threshold(config.threshold, config.threshold_from, None, model.model_id, model.tta_mode,
                            model.preprocessing, defaults.family_thresholds, config.default_threshold)
    sweep = sorted({*config.sweep, round(chosen.value, 4)})
    results = score_all(config, found.embeddings, truth, sweep)
    key = f"{chosen.value:.4f}"
    columns = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_f", "clusters", "people", "unclustered",
               "seconds")
    rows = [[a, *(r[key][c] for c in columns)] for a, r in results.items()]
    best = {a: max(r.items(), key=lambda item: item[1]["pairwise_f1"]) for a, r in results.items()}
    best_rows = [[a, float(t), s["pairwise_f1"], s["bcubed_f"], s["clusters"]] for a, (t, s) in best.items()]
    winner = max(results, key=lambda a: results[a][key]["pairwise_f1"])
    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    for algorithm, per_threshold in results.items():
        axes.plot([float(t) for t in per_threshold], [s["pairwise_f1"] for s in per_threshold.values()], "o-",
                  label=algorithm)
    axes.axvline(chosen.value, color="grey", linestyle="--", label=f"default {chosen.value:.3f}")
    axes.set(xlabel="linking threshold (cosine similarity)", ylabel="pairwise F1", title=f"{config.data}")
    axes.legend(fontsize=7)
    data = {"source": str(config.data), "photos": found.photos, "faces": len(found.faces),
            "people": int(truth.max() + 1), "skipped": found.skipped_reasons(), "model_id": model.model_id,
            "align": config.align, "tta": model.tta_mode}
    return Outcome(
        data=data, backends=[], results={"by_algorithm": results},
        summary={"threshold": chosen.value, "threshold_source": chosen.source, "winner": winner,
                 "at_threshold": {r[0]: dict(zip(["precision", "recall", "f1", "bcubed_f", "clusters", "people",
                                                  "unclustered", "seconds"], r[1:], strict=True)) for r in rows},
                 "best_threshold": {r[0]: {"threshold": r[1], "f1": r[2], "bcubed_f": r[3], "clusters": r[4]}
                                    for r in best_rows}},
        figure=figure,
        tables=[make_table(f"Clustering {len(found.faces)} faces of {data['people']} people at threshold "
                           f"{chosen.value:.4f} ({chosen.source})",
                           ["algorithm", "pair P", "pair R", "pair F1", "BCubed F", "clusters", "people", "alone", "s"],
                           rows),
                make_table("Best threshold of the sweep (tuned on the same data: an upper bound)",
                           ["algorithm", "threshold", "pair F1", "BCubed F", "clusters"], best_rows)],
    )
