"""Retrieval: cosine similarities, exact (brute-force) top-k search and the recall of a search against it."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from src.evaluation.arrays import ArrayLike, as_list


def cosine_similarity_matrix(probes: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """``(P, G)`` cosine similarities between two sets of embeddings."""
    return F.normalize(probes.float(), dim=1) @ F.normalize(gallery.float(), dim=1).T


@torch.no_grad()
def exact_top_k(
    queries: ArrayLike,
    gallery: ArrayLike,
    k: int,
    chunk_size: int = 1024,
    normalize: bool = True,
    device: str | torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Brute-force top-k search: ``(Q, D)`` queries against a ``(G, D)`` gallery.

    Similarity is cosine (``normalize=True``) or inner product; queries are processed ``chunk_size`` at a
    time so memory stays ``O(chunk_size * G)``. Runs on ``device`` (default: the gallery's device when it
    is a tensor, else CPU) in float32. Returns ``(scores float32 (Q, k'), indices int64 (Q, k'))`` on that
    device, best first, with ``k' = min(k, G)``; indices are row numbers in ``gallery``.
    """
    if device is None:
        device = gallery.device if isinstance(gallery, torch.Tensor) else "cpu"
    g = torch.as_tensor(gallery).to(device).float()
    q = torch.as_tensor(queries).float()
    if normalize:
        g = F.normalize(g, dim=1)
    k = min(int(k), g.shape[0])
    all_scores, all_indices = [], []
    for start in range(0, q.shape[0], chunk_size):
        chunk = q[start : start + chunk_size].to(device)
        if normalize:
            chunk = F.normalize(chunk, dim=1)
        top = torch.topk(chunk @ g.T, k, dim=1)
        all_scores.append(top.values)
        all_indices.append(top.indices)
    if not all_scores:
        return torch.empty(0, k, device=device), torch.empty(0, k, dtype=torch.long, device=device)
    return torch.cat(all_scores), torch.cat(all_indices)


def search_recall_at_k(
    approx_ids: Iterable[ArrayLike], exact_ids: Iterable[ArrayLike], k: int | None = None, pad_id: int | None = -1
) -> float:
    """Mean over queries of ``|approx[:k] & exact[:k]| / |exact[:k]|`` (HNSW vs brute force).

    Lists may be ragged; an approximate list shorter than ``k`` simply finds fewer. Ids equal to ``pad_id``
    are ignored (padding when the gallery has fewer than ``k`` entries), so the denominator is ``k``
    unless the exact list itself is shorter. ``k`` defaults to each exact list's length.
    """
    approx_lists = [as_list(ids) for ids in approx_ids]
    exact_lists = [as_list(ids) for ids in exact_ids]
    if len(approx_lists) != len(exact_lists):
        raise ValueError(f"{len(approx_lists)} approximate vs {len(exact_lists)} exact result lists")
    if not exact_lists:
        raise ValueError("no queries")
    recalls = []
    for approx, exact in zip(approx_lists, exact_lists, strict=True):
        limit = len(exact) if k is None else k
        truth = {i for i in exact[:limit] if i != pad_id}
        found = {i for i in approx[:limit] if i != pad_id}
        recalls.append(len(found & truth) / len(truth) if truth else 1.0)
    return float(np.mean(recalls))
