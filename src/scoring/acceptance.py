"""The one acceptance rule for similarity thresholds, and the threshold that meets a false accept rate.

A score is **accepted** (same person, or a known face) iff ``score >= threshold``. Every metric, the evaluation
report and ``FaceGallery.identify`` decide through :func:`accepts`, so a threshold read from a report means the
same thing wherever it is applied. Comparisons are made in float64: Milvus returns float32 similarities, and a
threshold compared in float32 could round onto an impostor score and accept it.

This module imports numpy only (the inference commands import it).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def accepts(scores: Any, threshold: float) -> bool | np.ndarray:
    """``score >= threshold`` in float64: a bool for one score, a bool array for an array of scores."""
    accepted = np.asarray(scores, dtype=np.float64) >= np.float64(threshold)
    return bool(accepted) if accepted.ndim == 0 else accepted


def threshold_at_far(negative_scores: Any, far: float) -> float:
    """The lowest threshold at which at most ``floor(far * N)`` of the ``N`` negative scores are accepted.

    With ``m = floor(far * N)`` allowed false accepts, the threshold is the next float above the ``(m+1)``-th
    largest negative score: that score and every tie with it are rejected by :func:`accepts`, every higher
    score is accepted, so the FAR achieved at the threshold is ``<= far`` and no lower threshold achieves it.
    ``-inf`` (accept all) when ``m >= N``. With few negatives (``far * N < 1``) nothing above the largest
    negative score is needed to reject it: FAR 0.
    """
    neg = np.sort(np.asarray(negative_scores, dtype=np.float64).ravel())[::-1]
    if len(neg) == 0:
        raise ValueError("no negative scores to set a threshold on")
    if not 0.0 <= far <= 1.0:
        raise ValueError(f"far must be in [0, 1], got {far}")
    allowed = int(math.floor(far * len(neg) + 1e-9))
    return float("-inf") if allowed >= len(neg) else float(np.nextafter(neg[allowed], np.inf))


def accept_rate(scores: Any, threshold: float) -> float:
    """Share of ``scores`` accepted at ``threshold`` (a FAR on impostor scores, a TAR on genuine ones)."""
    return float(np.mean(accepts(np.asarray(scores, dtype=np.float64).ravel(), threshold)))
