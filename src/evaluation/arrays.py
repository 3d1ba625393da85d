"""Input conversion shared by the metric modules: tensors, arrays and sequences in, numpy or lists out."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray | Sequence[Any]


def to_numpy(x: ArrayLike, dtype: Any = None) -> np.ndarray:
    """numpy view/copy of a tensor (any device), array or sequence."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def as_list(x: Any) -> list:
    """A per-probe result list as a plain Python list (tensor, array or sequence)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().tolist()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return list(x)


def is_negative_label(label: Any) -> bool:
    """Negative numeric labels (``-1``) mark probes that are not enrolled."""
    return isinstance(label, (int, float, np.integer, np.floating)) and label < 0


def scores_and_mask(scores: ArrayLike, is_same: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Pair scores as flat ``float64`` and same-person flags as flat ``bool`` (error when lengths differ)."""
    s = to_numpy(scores, np.float64).ravel()
    y = to_numpy(is_same).ravel().astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"scores and is_same differ in length: {s.shape} vs {y.shape}")
    return s, y
