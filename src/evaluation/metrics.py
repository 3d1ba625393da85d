"""Face-recognition metrics as plain functions over tensors (similarity matrices and labels)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import binary_roc, multiclass_accuracy


def cosine_similarity_matrix(probes: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """``(P, G)`` cosine similarities between two sets of embeddings."""
    return F.normalize(probes.float(), dim=1) @ F.normalize(gallery.float(), dim=1).T


def identity_scores(similarity: torch.Tensor, gallery_labels: torch.Tensor, num_identities: int) -> torch.Tensor:
    """Best similarity of each probe to each identity: ``(P, G)`` -> ``(P, num_identities)``.

    Identities with no gallery image get ``-inf`` so they can never be ranked.
    """
    scores = torch.full((similarity.shape[0], num_identities), float("-inf"), dtype=similarity.dtype)
    index = gallery_labels.long().expand(similarity.shape[0], -1)
    return scores.scatter_reduce(1, index, similarity, reduce="amax")


def rank_k_accuracy(
    similarity: torch.Tensor, probe_labels: torch.Tensor, gallery_labels: torch.Tensor, k: int = 1
) -> float:
    """Share of probes whose identity is among the ``k`` best-scoring gallery identities."""
    num_ids = int(max(probe_labels.max(), gallery_labels.max())) + 1
    scores = identity_scores(similarity, gallery_labels, num_ids)
    k = min(k, num_ids)
    return float(multiclass_accuracy(scores, probe_labels.long(), num_classes=num_ids, top_k=k, average="micro"))


def genuine_impostor_pairs(labels: torch.Tensor, max_pairs: int = 3000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Index pairs ``(N, 2)`` and same-identity flags: up to ``max_pairs`` genuine pairs, as many impostors.

    Deterministic for a given ``seed``.
    """
    generator = torch.Generator().manual_seed(seed)
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
    """Verification accuracy at the threshold that maximizes it on these pairs, and that threshold."""
    fpr, tpr, thresholds = binary_roc(scores.float(), is_same.long())
    positives = is_same.sum().float()
    negatives = (~is_same).sum().float()
    accuracy = (tpr * positives + (1 - fpr) * negatives) / (positives + negatives)
    best = int(accuracy.argmax())
    return float(accuracy[best]), float(thresholds[best])
