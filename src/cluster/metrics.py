"""How well predicted groups match the true people: pairwise precision/recall/F1 and BCubed (Amigo et al. 2009).

A face left alone (label ``-1``) counts as a group of its own. Labels of the truth are only used here, never by
the algorithms.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _singletons(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels, np.int64).copy()
    alone = labels < 0
    labels[alone] = labels.max(initial=0) + 1 + np.arange(alone.sum())
    return labels


def _contingency(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    _, p = np.unique(_singletons(predicted), return_inverse=True)
    _, t = np.unique(np.asarray(truth), return_inverse=True)
    table = np.zeros((p.max() + 1, t.max() + 1), np.int64)
    np.add.at(table, (p, t), 1)
    return table


def cluster_scores(predicted: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Pairwise and BCubed precision/recall/F1, and group counts (predicted groups of 2+ faces vs true people)."""
    table = _contingency(predicted, truth)
    pairs = lambda counts: float((counts * (counts - 1) / 2).sum())  # noqa: E731
    together, pred_pairs, true_pairs = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    precision = together / pred_pairs if pred_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    n = table.sum()
    # BCubed: per face, the share of its group that is its person (precision) and of its person in its group
    b_precision = float((table ** 2 / table.sum(1, keepdims=True)).sum() / n)
    b_recall = float((table ** 2 / table.sum(0, keepdims=True)).sum() / n)
    predicted = np.asarray(predicted)
    return {
        "pairwise_precision": precision, "pairwise_recall": recall, "pairwise_f1": _f1(precision, recall),
        "bcubed_precision": b_precision, "bcubed_recall": b_recall, "bcubed_f": _f1(b_precision, b_recall),
        "clusters": int(len(np.unique(predicted[predicted >= 0]))), "people": int(table.shape[1]),
        "unclustered": int((predicted < 0).sum()), "faces": int(n),
    }


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
