"""Identification metrics: rank-k accuracy, closed-set CMC and open-set DIR at FAR (conventions: package doc)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from src.evaluation.arrays import ArrayLike, as_list, is_negative_label, to_numpy
from src.scoring.acceptance import accept_rate, accepts, threshold_at_far


# --------------------------------------------------------------------------------------------------
# used by the training validation loop (torch in, torch/float out)
# --------------------------------------------------------------------------------------------------
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
    Ties are pessimistic, so e.g. all-equal embeddings give 0, not chance level.
    """
    probe_labels = probe_labels.long().to(similarity.device)
    num_ids = int(max(probe_labels.max(), gallery_labels.max())) + 1
    scores = identity_scores(similarity, gallery_labels, num_ids)
    valid = probe_labels >= 0
    mate = scores.gather(1, probe_labels.clamp(min=0)[:, None])
    rank = (scores >= mate).sum(dim=1)  # counts the mate itself: 1 + wrong identities scoring >= mate
    hit = valid & torch.isfinite(mate[:, 0]) & (rank <= k)
    return float(hit.float().mean())


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
    s = to_numpy(scores, np.float64)
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
    labels = to_numpy(probe_labels).ravel()
    columns = np.arange(s.shape[1]) if identity_labels is None else to_numpy(identity_labels).ravel()
    if s.ndim != 2 or s.shape != (len(labels), len(columns)):
        raise ValueError(f"scores {s.shape} do not match {len(labels)} probes x {len(columns)} identities")
    column_of = {label: c for c, label in enumerate(columns.tolist())}
    return np.array(
        [-1 if is_negative_label(label) else column_of.get(label, -1) for label in labels.tolist()], dtype=np.int64
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
    labels = to_numpy(probe_labels).ravel().tolist()
    lists = [as_list(hits) for hits in ranked_labels]
    if len(lists) != len(labels):
        raise ValueError(f"{len(lists)} result lists for {len(labels)} probes")
    enrolled = None if enrolled_labels is None else set(to_numpy(enrolled_labels).ravel().tolist())
    ranks = np.full(len(labels), np.nan)
    for p, (label, hits) in enumerate(zip(labels, lists, strict=True)):
        if (enrolled is None and is_negative_label(label)) or (enrolled is not None and label not in enrolled):
            continue
        distinct = list(dict.fromkeys(hits))
        ranks[p] = distinct.index(label) + 1 if label in distinct else np.inf
    return ranks


def cmc_from_ranks(ranks: ArrayLike, max_rank: int = 10) -> np.ndarray:
    """CMC curve ``(max_rank,)``: entry ``k-1`` = share of enrolled (non-``nan``) probes with rank ``<= k``."""
    r = to_numpy(ranks, np.float64).ravel()
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
    curve = to_numpy(cmc, np.float64).ravel()
    for k in ranks:
        if not 1 <= k <= len(curve):
            raise ValueError(f"rank {k} outside the CMC curve of length {len(curve)}")
    return {f"rank{k}": float(curve[k - 1]) for k in ranks}


# --------------------------------------------------------------------------------------------------
# open-set identification: DIR at FAR
# --------------------------------------------------------------------------------------------------
def open_set_dir(
    mate_ranks: ArrayLike,
    mate_scores: ArrayLike,
    nonmated_top_scores: ArrayLike,
    fars: Sequence[float] = (0.01, 0.1),
    rank: int = 1,
) -> dict[float, dict[str, float]]:
    """DIR at FAR from mated searches (rank and score of the true identity) and non-mated top scores.

    For each FAR, ``threshold = threshold_at_far(nonmated_top_scores, far)``;
    ``DIR = share of mated probes with rank <= rank and an accepted mate score`` (``score >= threshold``).
    Returns ``{far: {"dir": float, "threshold": float, "far_actual": float}}`` where ``far_actual`` is
    the share of non-mated probes whose top score is accepted at the threshold (``<= far``).
    """
    r = to_numpy(mate_ranks, np.float64).ravel()
    s = to_numpy(mate_scores, np.float64).ravel()
    nonmated = to_numpy(nonmated_top_scores, np.float64).ravel()
    if r.shape != s.shape:
        raise ValueError("mate_ranks and mate_scores differ in length")
    if len(r) == 0:
        raise ValueError("no enrolled (mated) probe: DIR is undefined")
    result = {}
    for far in fars:
        t = threshold_at_far(nonmated, far)
        result[far] = {
            "dir": float(np.mean((r <= rank) & accepts(s, t))),
            "threshold": t,
            "far_actual": accept_rate(nonmated, t),
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
    s = to_numpy(scores, np.float64)
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
    labels_lists = [as_list(hits) for hits in ranked_labels]
    score_lists = [as_list(hits) for hits in ranked_scores]
    labels = to_numpy(probe_labels).ravel().tolist()
    if not len(labels_lists) == len(score_lists) == len(labels):
        raise ValueError("ranked_labels, ranked_scores and probe_labels differ in length")
    ranks = ranks_from_ranked_labels(labels_lists, labels, enrolled_labels)
    mate_ranks, mate_scores, nonmated = [], [], []
    for p, (hits, hit_scores) in enumerate(zip(labels_lists, score_lists, strict=True)):
        if np.isnan(ranks[p]):
            nonmated.append(float(hit_scores[0]) if hit_scores else float("-inf"))
            continue
        mate_ranks.append(ranks[p])
        mate_scores.append(float(hit_scores[hits.index(labels[p])]) if np.isfinite(ranks[p]) else float("-inf"))
    return open_set_dir(mate_ranks, mate_scores, nonmated, fars, rank)
