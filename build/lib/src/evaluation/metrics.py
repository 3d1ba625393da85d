"""Face-recognition metrics as plain functions over score matrices, labels and pairs.

Conventions (shared by every function below):

* **Scores are similarities: higher means more alike** (cosine, inner product, Milvus ``COSINE``/``IP``).
  Distances (L2) must be negated before they are passed in.
* **Inputs** may be torch tensors (any device) or numpy arrays / sequences. The functions that predate
  this module (``cosine_similarity_matrix`` ... ``best_threshold_accuracy``) work in torch and are used by
  the training validation loop; the others convert to numpy ``float64`` and return numpy arrays or
  Python floats. ``exact_top_k`` returns torch tensors.
* **Acceptance is strict**: a score is accepted (same person / detected) when ``score > threshold``.
  Thresholds chosen at a FAR are therefore actual impostor scores, and ties at the threshold are rejected.
* **Ranks are 1-based and pessimistic on ties**: the rank of the true identity is
  ``1 + number of wrong identities scoring >= the true identity``, so a tie with a wrong identity is
  never resolved in the probe's favour (two identities tied at the top both count as rank 2).
  Rank arrays are ``float64``: ``np.inf`` when the true identity is absent from a (truncated) result
  list, ``np.nan`` when the probe is not enrolled (excluded from closed-set CMC, used as a non-mated
  search in open-set DIR).
* **Not enrolled**: a probe label that is negative (e.g. ``-1``), absent from the gallery identities,
  or whose identity column is ``-inf`` (no gallery image, as produced by :func:`identity_scores`).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Union

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import binary_auroc, binary_roc

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence[Any]]

__all__ = [
    "cosine_similarity_matrix",
    "identity_scores",
    "rank_k_accuracy",
    "genuine_impostor_pairs",
    "best_threshold_accuracy",
    "identification_ranks",
    "ranks_from_ranked_labels",
    "cmc_from_ranks",
    "cmc_curve",
    "cmc_from_ranked_labels",
    "rank_accuracies",
    "threshold_at_far",
    "open_set_dir",
    "dir_at_far",
    "dir_at_far_from_ranked",
    "kfold_verification_accuracy",
    "tar_at_far",
    "roc_curve",
    "roc_auc",
    "exact_top_k",
    "search_recall_at_k",
    "latency_summary",
]


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _np(x: ArrayLike, dtype: Any = None) -> np.ndarray:
    """numpy view/copy of a tensor, array or sequence."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _sequence(x: Any) -> list:
    """A per-probe result list as a plain Python list (tensor, array or sequence)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().tolist()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return list(x)


def _is_negative(label: Any) -> bool:
    """Negative numeric labels (``-1``) mark probes that are not enrolled."""
    return isinstance(label, (int, float, np.integer, np.floating)) and label < 0


def _scores_and_mask(scores: ArrayLike, is_same: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = _np(scores, np.float64).ravel()
    y = _np(is_same).ravel().astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"scores and is_same differ in length: {s.shape} vs {y.shape}")
    return s, y


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
def cosine_similarity_matrix(probes: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """``(P, G)`` cosine similarities between two sets of embeddings."""
    return F.normalize(probes.float(), dim=1) @ F.normalize(gallery.float(), dim=1).T


def identity_scores(similarity: torch.Tensor, gallery_labels: torch.Tensor, num_identities: int) -> torch.Tensor:
    """Best similarity of each probe to each identity: ``(P, G)`` -> ``(P, num_identities)``.

    Identities with no gallery image get ``-inf`` so they can never be ranked.
    """
    scores = torch.full(
        (similarity.shape[0], num_identities), float("-inf"), dtype=similarity.dtype, device=similarity.device
    )
    index = gallery_labels.long().to(similarity.device).expand(similarity.shape[0], -1)
    return scores.scatter_reduce(1, index, similarity, reduce="amax")


def rank_k_accuracy(
    similarity: torch.Tensor, probe_labels: torch.Tensor, gallery_labels: torch.Tensor, k: int = 1
) -> float:
    """Share of probes whose identity is among the ``k`` best-scoring gallery identities.

    Denominator: all probes; a probe whose identity has no gallery image (or a negative label) is a miss.
    Ties are pessimistic (see module docstring), so e.g. all-equal embeddings give 0, not chance level.
    """
    probe_labels = probe_labels.long().to(similarity.device)
    num_ids = int(max(probe_labels.max(), gallery_labels.max())) + 1
    scores = identity_scores(similarity, gallery_labels, num_ids)
    valid = probe_labels >= 0
    mate = scores.gather(1, probe_labels.clamp(min=0)[:, None])
    rank = (scores >= mate).sum(dim=1)  # counts the mate itself: 1 + wrong identities scoring >= mate
    hit = valid & torch.isfinite(mate[:, 0]) & (rank <= k)
    return float(hit.float().mean())


def genuine_impostor_pairs(labels: torch.Tensor, max_pairs: int = 3000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
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
# closed-set identification: ranks and CMC
# --------------------------------------------------------------------------------------------------
def identification_ranks(
    scores: ArrayLike, probe_labels: ArrayLike, identity_labels: ArrayLike | None = None
) -> np.ndarray:
    """Pessimistic 1-based rank of each probe's true identity in a ``(P, C)`` probe x identity matrix.

    ``identity_labels`` (length ``C``) names the columns; default ``0..C-1``. Returns ``float64 (P,)``:
    ``1 + #(wrong identities with score >= true-identity score)``; ``nan`` for a probe that is not enrolled.
    """
    s = _np(scores, np.float64)
    columns = _mate_columns(s, probe_labels, identity_labels)
    mated = columns >= 0
    mate = np.full(len(columns), np.nan)
    mate[mated] = s[np.flatnonzero(mated), columns[mated]]
    mated &= np.isfinite(mate)
    ranks = np.full(len(columns), np.nan)
    # ">=" counts the mate itself, so the count is 1 + wrong identities scoring >= the mate (pessimistic)
    ranks[mated] = np.sum(s[mated] >= mate[mated, None], axis=1)
    return ranks


def _mate_columns(s: np.ndarray, probe_labels: ArrayLike, identity_labels: ArrayLike | None) -> np.ndarray:
    """Column of each probe's identity in a ``(P, C)`` matrix, ``-1`` when absent or label negative."""
    labels = _np(probe_labels).ravel()
    columns = np.arange(s.shape[1]) if identity_labels is None else _np(identity_labels).ravel()
    if s.ndim != 2 or s.shape != (len(labels), len(columns)):
        raise ValueError(f"scores {s.shape} do not match {len(labels)} probes x {len(columns)} identities")
    column_of = {label: c for c, label in enumerate(columns.tolist())}
    return np.array(
        [-1 if _is_negative(label) else column_of.get(label, -1) for label in labels.tolist()], dtype=np.int64
    )


def ranks_from_ranked_labels(
    ranked_labels: Iterable[ArrayLike], probe_labels: ArrayLike, enrolled_labels: ArrayLike | None = None
) -> np.ndarray:
    """Ranks from per-probe ranked result lists of identity labels (e.g. Milvus hits, best first).

    Each list may hold several hits of one person; labels are de-duplicated by first occurrence, so the
    rank is the position of the true label among distinct labels (1-based). Order is taken as given
    (no tie handling). Returns ``float64 (P,)``: ``inf`` when the true identity is not in the list,
    ``nan`` when the probe is not enrolled: label in ``enrolled_labels`` if given, else label ``>= 0``.
    """
    labels = _np(probe_labels).ravel().tolist()
    lists = [_sequence(hits) for hits in ranked_labels]
    if len(lists) != len(labels):
        raise ValueError(f"{len(lists)} result lists for {len(labels)} probes")
    enrolled = None if enrolled_labels is None else set(_np(enrolled_labels).ravel().tolist())
    ranks = np.full(len(labels), np.nan)
    for p, (label, hits) in enumerate(zip(labels, lists)):
        if (enrolled is None and _is_negative(label)) or (enrolled is not None and label not in enrolled):
            continue
        distinct = list(dict.fromkeys(hits))
        ranks[p] = distinct.index(label) + 1 if label in distinct else np.inf
    return ranks


def cmc_from_ranks(ranks: ArrayLike, max_rank: int = 10) -> np.ndarray:
    """CMC curve ``(max_rank,)``: entry ``k-1`` = share of enrolled (non-``nan``) probes with rank ``<= k``."""
    r = _np(ranks, np.float64).ravel()
    r = r[~np.isnan(r)]
    if len(r) == 0:
        raise ValueError("no enrolled probe: the CMC is undefined")
    return np.array([np.mean(r <= k) for k in range(1, max_rank + 1)], dtype=np.float64)


def cmc_curve(
    scores: ArrayLike, probe_labels: ArrayLike, identity_labels: ArrayLike | None = None, max_rank: int = 10
) -> np.ndarray:
    """Closed-set CMC from a ``(P, C)`` probe x identity score matrix (see :func:`identification_ranks`).

    Not-enrolled probes are left out of the denominator. ``cmc[0]`` is rank-1, ``cmc[4]`` rank-5.
    """
    return cmc_from_ranks(identification_ranks(scores, probe_labels, identity_labels), max_rank)


def cmc_from_ranked_labels(
    ranked_labels: Iterable[ArrayLike],
    probe_labels: ArrayLike,
    max_rank: int = 10,
    enrolled_labels: ArrayLike | None = None,
) -> np.ndarray:
    """Closed-set CMC from per-probe ranked label lists (see :func:`ranks_from_ranked_labels`).

    A true identity missing from a truncated top-k list is a miss at every rank.
    """
    return cmc_from_ranks(ranks_from_ranked_labels(ranked_labels, probe_labels, enrolled_labels), max_rank)


def rank_accuracies(cmc: ArrayLike, ranks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """``{"rank1": cmc[0], "rank5": cmc[4], ...}`` from a CMC curve (error if the curve is too short)."""
    curve = _np(cmc, np.float64).ravel()
    for k in ranks:
        if not 1 <= k <= len(curve):
            raise ValueError(f"rank {k} outside the CMC curve of length {len(curve)}")
    return {f"rank{k}": float(curve[k - 1]) for k in ranks}


# --------------------------------------------------------------------------------------------------
# open-set identification: DIR at FAR
# --------------------------------------------------------------------------------------------------
def threshold_at_far(negative_scores: ArrayLike, far: float) -> float:
    """Threshold ``t`` such that at most ``floor(far * N)`` of the ``N`` negative scores are ``> t``.

    ``t`` is the ``(m+1)``-th largest negative score with ``m = floor(far * N)`` (``-inf`` when
    ``m >= N``). With few negatives (``far * N < 1``) this is the largest negative score: FAR 0.
    """
    neg = np.sort(_np(negative_scores, np.float64).ravel())[::-1]
    if len(neg) == 0:
        raise ValueError("no negative scores to set a threshold on")
    if not 0.0 <= far <= 1.0:
        raise ValueError(f"far must be in [0, 1], got {far}")
    allowed = int(math.floor(far * len(neg) + 1e-9))
    return float("-inf") if allowed >= len(neg) else float(neg[allowed])


def open_set_dir(
    mate_ranks: ArrayLike,
    mate_scores: ArrayLike,
    nonmated_top_scores: ArrayLike,
    fars: Sequence[float] = (0.01, 0.1),
    rank: int = 1,
) -> dict[float, dict[str, float]]:
    """DIR at FAR from mated searches (rank and score of the true identity) and non-mated top scores.

    For each FAR, ``threshold = threshold_at_far(nonmated_top_scores, far)``;
    ``DIR = share of mated probes with rank <= rank and mate score > threshold``.
    Returns ``{far: {"dir": float, "threshold": float, "far_actual": float}}`` where ``far_actual`` is
    the share of non-mated probes whose top score is ``> threshold``.
    """
    r = _np(mate_ranks, np.float64).ravel()
    s = _np(mate_scores, np.float64).ravel()
    nonmated = _np(nonmated_top_scores, np.float64).ravel()
    if r.shape != s.shape:
        raise ValueError("mate_ranks and mate_scores differ in length")
    if len(r) == 0:
        raise ValueError("no enrolled (mated) probe: DIR is undefined")
    result = {}
    for far in fars:
        t = threshold_at_far(nonmated, far)
        result[far] = {
            "dir": float(np.mean((r <= rank) & (s > t))),
            "threshold": t,
            "far_actual": float(np.mean(nonmated > t)),
        }
    return result


def dir_at_far(
    scores: ArrayLike,
    probe_labels: ArrayLike,
    identity_labels: ArrayLike | None = None,
    fars: Sequence[float] = (0.01, 0.1),
    rank: int = 1,
) -> dict[float, dict[str, float]]:
    """Open-set DIR at FAR from a ``(P, C)`` probe x identity score matrix (ranks as in
    :func:`identification_ranks`). Not-enrolled probes (label ``-1``, absent from ``identity_labels`` or
    with a ``-inf`` column) are the non-mated searches: their top score over all identities sets the
    threshold. Returns the dict of :func:`open_set_dir`.
    """
    s = _np(scores, np.float64)
    ranks = identification_ranks(s, probe_labels, identity_labels)
    mated = ~np.isnan(ranks)
    columns = _mate_columns(s, probe_labels, identity_labels)
    mate_scores = s[np.flatnonzero(mated), columns[mated]]
    top = s.max(axis=1, initial=-np.inf)
    return open_set_dir(ranks[mated], mate_scores, top[~mated], fars, rank)


def dir_at_far_from_ranked(
    ranked_labels: Iterable[ArrayLike],
    ranked_scores: Iterable[ArrayLike],
    probe_labels: ArrayLike,
    enrolled_labels: ArrayLike | None = None,
    fars: Sequence[float] = (0.01, 0.1),
    rank: int = 1,
) -> dict[float, dict[str, float]]:
    """Open-set DIR at FAR from per-probe ranked hits (labels and similarity scores, best first).

    Mate score = score of the first hit of the true label (a mate missing from the list is a miss);
    non-mated top score = score of the first hit (``-inf`` for an empty list). Enrolment as in
    :func:`ranks_from_ranked_labels`. Returns the dict of :func:`open_set_dir`.
    """
    labels_lists = [_sequence(hits) for hits in ranked_labels]
    score_lists = [_sequence(hits) for hits in ranked_scores]
    labels = _np(probe_labels).ravel().tolist()
    if not len(labels_lists) == len(score_lists) == len(labels):
        raise ValueError("ranked_labels, ranked_scores and probe_labels differ in length")
    ranks = ranks_from_ranked_labels(labels_lists, labels, enrolled_labels)
    mate_ranks, mate_scores, nonmated = [], [], []
    for p, (hits, hit_scores) in enumerate(zip(labels_lists, score_lists)):
        if np.isnan(ranks[p]):
            nonmated.append(float(hit_scores[0]) if hit_scores else float("-inf"))
            continue
        mate_ranks.append(ranks[p])
        mate_scores.append(float(hit_scores[hits.index(labels[p])]) if np.isfinite(ranks[p]) else float("-inf"))
    return open_set_dir(mate_ranks, mate_scores, nonmated, fars, rank)


# --------------------------------------------------------------------------------------------------
# verification: pairs with a similarity score and a same-person flag
# --------------------------------------------------------------------------------------------------
def _accuracy_sweep(scores: np.ndarray, is_same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate thresholds (ascending: ``-inf``, midpoints between distinct scores, ``+inf``) and the
    accuracy of rule ``score > threshold`` at each."""
    unique, inverse = np.unique(scores, return_inverse=True)
    pos = np.bincount(inverse, weights=is_same.astype(np.float64), minlength=len(unique))
    neg = np.bincount(inverse, weights=(~is_same).astype(np.float64), minlength=len(unique))
    # candidate j accepts the distinct scores unique[j:]
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
    ``+-inf``) is applied to the held-out fold with rule ``score > threshold``.
    Returns ``{"accuracy_mean": float, "accuracy_std": float (population std, ddof=0),
    "fold_accuracies": list[float], "thresholds": list[float], "threshold_mean": float}``.
    """
    s, y = _scores_and_mask(scores, is_same)
    if not 2 <= n_folds <= len(s):
        raise ValueError(f"need 2 <= n_folds <= number of pairs ({len(s)}), got {n_folds}")
    order = np.random.default_rng(seed).permutation(len(s)) if shuffle else np.arange(len(s))
    folds = np.array_split(order, n_folds)
    accuracies, thresholds = [], []
    for f, test in enumerate(folds):
        train = np.concatenate([fold for g, fold in enumerate(folds) if g != f])
        candidates, train_acc = _accuracy_sweep(s[train], y[train])
        t = float(candidates[int(np.argmax(train_acc))])
        accuracies.append(float(np.mean((s[test] > t) == y[test])))
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
    ``score > threshold``. FAR 1e-3 needs >= 1000 impostor pairs to mean anything (else ``far_actual`` 0).
    """
    s, y = _scores_and_mask(scores, is_same)
    if not y.any():
        raise ValueError("no genuine pair")
    result = {}
    for far in fars:
        t = threshold_at_far(s[~y], far)
        result[far] = {"tar": float(np.mean(s[y] > t)), "threshold": t, "far_actual": float(np.mean(s[~y] > t))}
    return result


def roc_curve(scores: ArrayLike, is_same: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points for plotting: ``(fpr, tpr, thresholds)`` as float64 arrays, thresholds descending in
    score units, the first ``+inf`` (point (0, 0)); each point uses rule ``score >= threshold``.
    Computed with torchmetrics ``binary_roc`` (on dense ranks, so scores may be any real numbers)."""
    s, y = _scores_and_mask(scores, is_same)
    fpr, tpr, thresholds = _roc_torch(torch.from_numpy(s), torch.from_numpy(y))
    return fpr.numpy(), tpr.numpy(), thresholds.numpy()


def roc_auc(scores: ArrayLike, is_same: ArrayLike) -> float:
    """Area under the ROC curve (torchmetrics ``binary_auroc``; ties count one half)."""
    s, y = _scores_and_mask(scores, is_same)
    if y.all() or not y.any():
        raise ValueError("ROC AUC needs both genuine and impostor pairs")
    preds, _ = _dense_rank_preds(torch.from_numpy(s))
    return float(binary_auroc(preds, torch.from_numpy(y).long()))


# --------------------------------------------------------------------------------------------------
# vector search: exact top-k and recall of an approximate index
# --------------------------------------------------------------------------------------------------
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
    approx_lists = [_sequence(ids) for ids in approx_ids]
    exact_lists = [_sequence(ids) for ids in exact_ids]
    if len(approx_lists) != len(exact_lists):
        raise ValueError(f"{len(approx_lists)} approximate vs {len(exact_lists)} exact result lists")
    if not exact_lists:
        raise ValueError("no queries")
    recalls = []
    for approx, exact in zip(approx_lists, exact_lists):
        limit = len(exact) if k is None else k
        truth = {i for i in exact[:limit] if i != pad_id}
        found = {i for i in approx[:limit] if i != pad_id}
        recalls.append(len(found & truth) / len(truth) if truth else 1.0)
    return float(np.mean(recalls))


# --------------------------------------------------------------------------------------------------
# latency
# --------------------------------------------------------------------------------------------------
def latency_summary(durations_s: ArrayLike) -> dict[str, float]:
    """Summary of durations given in seconds, reported in milliseconds.

    Returns ``{"count": int, "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms", "min_ms": float}``;
    percentiles use numpy's default linear interpolation.
    """
    ms = _np(durations_s, np.float64).ravel() * 1000.0
    if len(ms) == 0:
        raise ValueError("no durations")
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "count": int(len(ms)),
        "mean_ms": float(ms.mean()),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "max_ms": float(ms.max()),
        "min_ms": float(ms.min()),
    }
