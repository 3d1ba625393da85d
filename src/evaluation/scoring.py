"""Turn search results and pair scores into the report's identification and verification sections."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from src.evaluation.identification import cmc_from_ranked_labels, dir_at_far_from_ranked, rank_accuracies
from src.evaluation.retrieval import search_recall_at_k
from src.evaluation.verification import kfold_verification_accuracy, roc_auc, roc_curve, tar_at_far


def identification_section(
    ranked_labels: Sequence[Sequence[str]], ranked_scores: Sequence[Sequence[float]], probe_labels: Sequence[str],
    enrolled: set[str], max_rank: int = 10, fars: Sequence[float] = (0.01, 0.1),
) -> dict:
    """Rank-1/5, CMC and open-set DIR@FAR from ranked hits (person ids and similarities, best first).

    The recommended "unknown" threshold is the one giving FAR 1% on the probes of people not enrolled
    (``None`` when every probe is enrolled).
    """
    enrolled_list = sorted(enrolled)
    cmc = cmc_from_ranked_labels(ranked_labels, probe_labels, max_rank=max_rank, enrolled_labels=enrolled_list)
    section = {**rank_accuracies(cmc, [k for k in (1, 5) if k <= max_rank]), "cmc": cmc.tolist()}
    if any(label not in enrolled for label in probe_labels):
        dirs = dir_at_far_from_ranked(ranked_labels, ranked_scores, probe_labels, enrolled_list, fars)
        section["open_set"] = {f"far_{far:g}": values for far, values in dirs.items()}
        section["recommended_threshold"] = dirs[min(fars)]["threshold"]
    else:
        section["open_set"] = None
        section["recommended_threshold"] = None
    return section


def verification_section(scores: np.ndarray, is_same: np.ndarray, fars: Sequence[float] = (1e-2, 1e-3)) -> dict:
    """10-fold accuracy (fewer folds when there are fewer than 10 pairs), TAR@FAR, ROC AUC and ROC points."""
    n_folds = min(10, len(scores))
    folds = kfold_verification_accuracy(scores, is_same, n_folds=n_folds)
    fpr, tpr, _ = roc_curve(scores, is_same)
    return {
        "pairs": int(len(scores)),
        "genuine_pairs": int(np.sum(is_same)),
        "folds": n_folds,
        "accuracy_mean": folds["accuracy_mean"],
        "accuracy_std": folds["accuracy_std"],
        "threshold": folds["threshold_mean"],
        "tar_at_far": {f"far_{far:g}": values for far, values in tar_at_far(scores, is_same, fars).items()},
        "roc_auc": roc_auc(scores, is_same),
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
    }


def recall_section(approx_ids: Sequence[Sequence[int]], exact_ids: np.ndarray) -> dict[str, float]:
    """recall@1 and recall@10 of approximate (HNSW) results against exact brute force."""
    exact = [list(row) for row in exact_ids]
    return {
        "recall_at_1": search_recall_at_k(approx_ids, [row[:1] for row in exact], k=1),
        "recall_at_10": search_recall_at_k(approx_ids, [row[:10] for row in exact], k=10),
    }
