"""Verification metrics over pairs with a similarity score and a same-person flag (conventions: package doc).

k-fold accuracy in the InsightFace style, TAR at FAR, ROC points and AUC; thresholds accept ``score >= t``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torchmetrics.functional.classification import binary_auroc, binary_roc

from src.evaluation.arrays import ArrayLike, scores_and_mask
from src.scoring.acceptance import accept_rate, accepts, threshold_at_far


def _dense_rank_preds(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Map scores monotonically into ``(0, 1)`` (dense rank / (U + 1)), keeping ties.

    torchmetrics applies a sigmoid to predictions outside ``[0, 1]`` (cosine scores can be negative),
    which would turn its thresholds into ``sigmoid(score)``. Feeding dense ranks avoids that and lets the
    thresholds be mapped back exactly. Returns the predictions and the sorted unique scores.
    """
    unique, inverse = torch.unique(scores.double(), sorted=True, return_inverse=True)
    return (inverse.double() + 1.0) / (len(unique) + 1.0), unique


def _roc_torch(scores: torch.Tensor, is_same: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``binary_roc`` with thresholds in score units (first one ``+inf``); rule ``score >= threshold``."""
    scores = scores.detach().reshape(-1).double().cpu()
    preds, unique = _dense_rank_preds(scores)
    fpr, tpr, thresholds = binary_roc(preds, is_same.detach().reshape(-1).long().cpu())
    index = torch.round(thresholds.double() * (len(unique) + 1)).long() - 1
    in_range = (index >= 0) & (index < len(unique))
    mapped = torch.full_like(thresholds, float("inf"), dtype=torch.float64)
    mapped[in_range] = unique[index[in_range]]
    return fpr.double(), tpr.double(), mapped


# --------------------------------------------------------------------------------------------------
# used by the training validation loop (torch in, torch/float out)
# --------------------------------------------------------------------------------------------------
def genuine_impostor_pairs(
    labels: torch.Tensor, max_pairs: int = 3000, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Index pairs ``(N, 2)`` and same-identity flags: up to ``max_pairs`` genuine pairs, as many impostors.

    Deterministic for a given ``seed``. Genuine pairs come first, then impostors.
    """
    generator = torch.Generator().manual_seed(seed)
    labels = labels.cpu()
    i, j = torch.triu_indices(len(labels), len(labels), offset=1)
    same = labels[i] == labels[j]
    genuine = torch.stack([i[same], j[same]], dim=1)
    impostor = torch.stack([i[~same], j[~same]], dim=1)
    genuine = genuine[torch.randperm(len(genuine), generator=generator)[:max_pairs]]
    impostor = impostor[torch.randperm(len(impostor), generator=generator)[: len(genuine)]]
    pairs = torch.cat([genuine, impostor])
    is_same = torch.cat([torch.ones(len(genuine), dtype=torch.bool), torch.zeros(len(impostor), dtype=torch.bool)])
    return pairs, is_same


def best_threshold_accuracy(scores: torch.Tensor, is_same: torch.Tensor) -> tuple[float, float]:
    """Verification accuracy at the threshold that maximizes it on these pairs, and that threshold.

    The threshold is in score units (an actual score; rule ``score >= threshold``; ``+inf`` = reject all).
    """
    scores = torch.as_tensor(scores)
    is_same = torch.as_tensor(is_same).bool().reshape(-1).cpu()
    fpr, tpr, thresholds = _roc_torch(scores, is_same)
    positives = is_same.sum().double()
    negatives = (~is_same).sum().double()
    accuracy = (tpr * positives + (1 - fpr) * negatives) / (positives + negatives)
    best = int(accuracy.argmax())
    return float(accuracy[best]), float(thresholds[best])


# --------------------------------------------------------------------------------------------------
# evaluation report (numpy in, numpy/float out)
# --------------------------------------------------------------------------------------------------
def _accuracy_sweep(scores: np.ndarray, is_same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate thresholds (ascending: ``-inf``, midpoints between distinct scores, ``+inf``) and the
    accuracy of :func:`~src.scoring.acceptance.accepts` at each on these pairs."""
    unique, inverse = np.unique(scores, return_inverse=True)
    pos = np.bincount(inverse, weights=is_same.astype(np.float64), minlength=len(unique))
    neg = np.bincount(inverse, weights=(~is_same).astype(np.float64), minlength=len(unique))
    # candidate j accepts the distinct scores unique[j:] (a midpoint lies strictly between two distinct scores)
    true_pos = np.concatenate([np.cumsum(pos[::-1])[::-1], [0.0]])
    true_neg = np.concatenate([[0.0], np.cumsum(neg)])
    thresholds = np.concatenate([[-np.inf], (unique[:-1] + unique[1:]) / 2, [np.inf]])
    return thresholds, (true_pos + true_neg) / len(scores)


def kfold_verification_accuracy(
    scores: ArrayLike, is_same: ArrayLike, n_folds: int = 10, shuffle: bool = True, seed: int = 0
) -> dict[str, Any]:
    """InsightFace-style k-fold verification accuracy.

    Pairs are split into ``n_folds`` folds (``np.array_split`` of a seeded permutation, or of the given
    order when ``shuffle=False``). For each fold the threshold maximizing accuracy on the other folds
    (lowest of equally good candidates; candidates are midpoints between distinct training scores and
    ``+-inf``) is applied to the held-out fold with rule ``score >= threshold``.
    Returns ``{"accuracy_mean": float, "accuracy_std": float (population std, ddof=0),
    "fold_accuracies": list[float], "thresholds": list[float], "threshold_mean": float}``.
    """
    s, y = scores_and_mask(scores, is_same)
    if not 2 <= n_folds <= len(s):
        raise ValueError(f"need 2 <= n_folds <= number of pairs ({len(s)}), got {n_folds}")
    order = np.random.default_rng(seed).permutation(len(s)) if shuffle else np.arange(len(s))
    folds = np.array_split(order, n_folds)
    accuracies, thresholds = [], []
    for f, test in enumerate(folds):
        train = np.concatenate([fold for g, fold in enumerate(folds) if g != f])
        candidates, train_acc = _accuracy_sweep(s[train], y[train])
        t = float(candidates[int(np.argmax(train_acc))])
        accuracies.append(float(np.mean(accepts(s[test], t) == y[test])))
        thresholds.append(t)
    return {
        "accuracy_mean": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "fold_accuracies": accuracies,
        "thresholds": thresholds,
        "threshold_mean": float(np.mean(thresholds)),
    }


def tar_at_far(
    scores: ArrayLike, is_same: ArrayLike, fars: Sequence[float] = (1e-2, 1e-3)
) -> dict[float, dict[str, float]]:
    """True accept rate at false accept rates; threshold from impostor scores (:func:`threshold_at_far`).

    Returns ``{far: {"tar": float, "threshold": float, "far_actual": float}}`` with rule
    ``score >= threshold``. FAR 1e-3 needs >= 1000 impostor pairs to mean anything (else ``far_actual`` 0).
    """
    s, y = scores_and_mask(scores, is_same)
    if not y.any():
        raise ValueError("no genuine pair")
    result = {}
    for far in fars:
        t = threshold_at_far(s[~y], far)
        result[far] = {"tar": accept_rate(s[y], t), "threshold": t, "far_actual": accept_rate(s[~y], t)}
    return result


def roc_curve(scores: ArrayLike, is_same: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points for plotting: ``(fpr, tpr, thresholds)`` as float64 arrays, thresholds descending in
    score units, the first ``+inf`` (point (0, 0)); each point uses rule ``score >= threshold``.
    Computed with torchmetrics ``binary_roc`` (on dense ranks, so scores may be any real numbers)."""
    s, y = scores_and_mask(scores, is_same)
    fpr, tpr, thresholds = _roc_torch(torch.from_numpy(s), torch.from_numpy(y))
    return fpr.numpy(), tpr.numpy(), thresholds.numpy()


def roc_auc(scores: ArrayLike, is_same: ArrayLike) -> float:
    """Area under the ROC curve (torchmetrics ``binary_auroc``; ties count one half)."""
    s, y = scores_and_mask(scores, is_same)
    if y.all() or not y.any():
        raise ValueError("ROC AUC needs both genuine and impostor pairs")
    preds, _ = _dense_rank_preds(torch.from_numpy(s))
    return float(binary_auroc(preds, torch.from_numpy(y).long()))
