"""Metric functions on hand-made score matrices; every expected value is worked out by hand here."""
import math

import numpy as np
import pytest
import torch

from src.evaluation.identification import (
    cmc_curve,
    cmc_from_ranked_labels,
    cmc_from_ranks,
    dir_at_far,
    dir_at_far_from_ranked,
    identification_ranks,
    identity_scores,
    rank_accuracies,
    rank_k_accuracy,
    ranks_from_ranked_labels,
)
from src.evaluation.latency import latency_summary
from src.evaluation.retrieval import cosine_similarity_matrix, exact_top_k, search_recall_at_k
from src.evaluation.verification import (
    best_threshold_accuracy,
    genuine_impostor_pairs,
    kfold_verification_accuracy,
    roc_auc,
    roc_curve,
    tar_at_far,
)
from src.scoring.acceptance import threshold_at_far

# --------------------------------------------------------------------------------------------------
# Closed-set identification fixture: identities 10, 20, 30 (columns), six probes.
#   P0 label 10: best is 10                                  -> rank 1
#   P1 label 20: 10 scores higher                            -> rank 2
#   P2 label 30: three-way tie                               -> rank 3 (pessimistic)
#   P3 label 10: tied with 20                                -> rank 2 (pessimistic)
#   P4 label -1: not enrolled                                -> nan
#   P5 label 99: identity not in the gallery                 -> nan
# --------------------------------------------------------------------------------------------------
ID_SCORES = np.array(
    [
        [0.9, 0.5, 0.1],
        [0.8, 0.7, 0.6],
        [0.4, 0.4, 0.4],
        [0.6, 0.6, 0.2],
        [0.3, 0.2, 0.1],
        [0.5, 0.9, 0.0],
    ]
)
ID_PROBES = np.array([10, 20, 30, 10, -1, 99])
ID_COLUMNS = np.array([10, 20, 30])


def test_identification_ranks_pessimistic_ties_and_unenrolled():
    ranks = identification_ranks(ID_SCORES, ID_PROBES, ID_COLUMNS)
    np.testing.assert_array_equal(ranks[:4], [1, 2, 3, 2])
    assert math.isnan(ranks[4]) and math.isnan(ranks[5])


def test_identification_ranks_minus_inf_column_is_not_enrolled_and_torch_input():
    scores = torch.tensor([[0.2, float("-inf")], [0.1, 0.3]])
    ranks = identification_ranks(scores, torch.tensor([1, 0]))
    assert math.isnan(ranks[0])  # identity 1 has no gallery image
    assert ranks[1] == 2


def test_cmc_curve_excludes_unenrolled():
    # 4 enrolled probes with ranks 1, 2, 3, 2
    cmc = cmc_curve(ID_SCORES, ID_PROBES, ID_COLUMNS, max_rank=4)
    np.testing.assert_allclose(cmc, [1 / 4, 3 / 4, 4 / 4, 4 / 4])


def test_cmc_from_ranks_and_rank_accuracies():
    cmc = cmc_from_ranks([1, 3, np.inf, np.nan, 6, 1], max_rank=5)
    # enrolled: 1, 3, inf, 6, 1 (5 probes)
    np.testing.assert_allclose(cmc, [2 / 5, 2 / 5, 3 / 5, 3 / 5, 3 / 5])
    assert rank_accuracies(cmc) == {"rank1": pytest.approx(0.4), "rank5": pytest.approx(0.6)}
    with pytest.raises(ValueError):
        rank_accuracies(cmc[:3])
    with pytest.raises(ValueError):
        cmc_from_ranks([np.nan, np.nan])


def test_ranks_and_cmc_from_milvus_style_ranked_labels():
    ranked = [
        [3, 3, 7, 5],  # label 7: distinct order 3, 7, 5 -> rank 2 (not 3)
        [5, 5, 2],  # label 5 -> rank 1
        [1, 2, 3],  # label 4 absent -> inf
        [1, 2],  # label -1 -> not enrolled
        [7],  # label 9 -> not enrolled when enrolled_labels is given
    ]
    labels = [7, 5, 4, -1, 9]
    enrolled = [1, 2, 3, 4, 5, 7]
    ranks = ranks_from_ranked_labels(ranked, labels, enrolled)
    assert ranks[0] == 2 and ranks[1] == 1 and ranks[2] == np.inf
    assert math.isnan(ranks[3]) and math.isnan(ranks[4])
    # without enrolled_labels, 9 >= 0 counts as enrolled and missing
    assert ranks_from_ranked_labels(ranked, labels)[4] == np.inf
    cmc = cmc_from_ranked_labels(ranked, labels, max_rank=3, enrolled_labels=enrolled)
    np.testing.assert_allclose(cmc, [1 / 3, 2 / 3, 2 / 3])
    # numpy/tensor rows work too
    cmc_t = cmc_from_ranked_labels([torch.tensor(r) for r in ranked], torch.tensor(labels), 3, enrolled)
    np.testing.assert_allclose(cmc_t, cmc)


# --------------------------------------------------------------------------------------------------
# Open-set identification. Identities 0, 1.
# Non-mated probes (label -1) top scores: 0.9, 0.7, 0.5, 0.3, 0.1
# Mated: A (0) .95 rank1 | B (1) .8 rank1 | C (0) .6 rank1 | D (1) .75 rank2 | E (0) .7 tie -> rank2
# --------------------------------------------------------------------------------------------------
OPEN_SCORES = np.array(
    [
        [0.9, 0.2],
        [0.1, 0.7],
        [0.5, 0.4],
        [0.3, 0.3],
        [0.0, 0.1],
        [0.95, 0.1],
        [0.2, 0.8],
        [0.6, 0.3],
        [0.85, 0.75],
        [0.7, 0.7],
    ]
)
OPEN_LABELS = np.array([-1, -1, -1, -1, -1, 0, 1, 0, 1, 0])


def above(score: float) -> float:
    """The threshold that rejects ``score`` (acceptance is ``score >= threshold``) and accepts anything higher."""
    return float(np.nextafter(score, np.inf))


def test_threshold_at_far():
    neg = [0.1, 0.9, 0.5, 0.7, 0.3]
    assert threshold_at_far(neg, 0.0) == above(0.9)
    assert threshold_at_far(neg, 0.1) == above(0.9)  # floor(0.5) = 0 false alarms allowed
    assert threshold_at_far(neg, 0.2) == above(0.7)  # 1 allowed: just above the second largest
    assert threshold_at_far(neg, 0.6) == above(0.3)  # floor(3.0) = 3 allowed: just above the fourth largest
    assert threshold_at_far(neg, 1.0) == -math.inf


def test_dir_at_far_from_matrix():
    result = dir_at_far(OPEN_SCORES, OPEN_LABELS, fars=(0.1, 0.2, 0.5))
    assert result[0.1] == {"dir": pytest.approx(1 / 5), "threshold": above(0.9), "far_actual": 0.0}
    assert result[0.2] == {"dir": pytest.approx(2 / 5), "threshold": above(0.7), "far_actual": pytest.approx(1 / 5)}
    assert result[0.5] == {"dir": pytest.approx(3 / 5), "threshold": above(0.5), "far_actual": pytest.approx(2 / 5)}
    # rank 2: D (.75) counts at t=.7, E (.7) is a tie at the threshold and is rejected
    assert dir_at_far(OPEN_SCORES, OPEN_LABELS, fars=(0.2,), rank=2)[0.2]["dir"] == pytest.approx(3 / 5)
    assert dir_at_far(OPEN_SCORES, OPEN_LABELS, fars=(0.5,), rank=2)[0.5]["dir"] == pytest.approx(5 / 5)


def test_dir_at_far_identity_not_in_gallery_is_non_mated():
    # label 5 is not a column: the probe acts as a non-mated search with top score 0.9
    scores = np.array([[0.9, 0.2], [0.8, 0.1], [0.3, 0.6]])
    result = dir_at_far(scores, [5, 0, 1], identity_labels=[0, 1], fars=(0.0,))
    assert result[0.0]["threshold"] == above(0.9)
    assert result[0.0]["dir"] == 0.0  # 0.8 and 0.6 are below 0.9
    with pytest.raises(ValueError):
        dir_at_far(scores[1:], [0, 1], fars=(0.1,))  # no non-mated probe


def test_dir_at_far_from_ranked_hits():
    labels_lists = [[3, 3, 7, 5], [5, 5, 2], [1, 2, 3], [1, 2], [], [3]]
    score_lists = [[0.9, 0.85, 0.8, 0.5], [0.95, 0.9, 0.3], [0.6, 0.5, 0.4], [0.7, 0.1], [], [0.85]]
    probes = [7, 5, 4, -1, -1, -1]
    # non-mated top scores: 0.7, -inf, 0.85; mated: (rank 2, .8), (rank 1, .95), (inf, -inf)
    result = dir_at_far_from_ranked(labels_lists, score_lists, probes, fars=(0.0, 0.34))
    assert result[0.0]["threshold"] == above(0.85) and result[0.0]["dir"] == pytest.approx(1 / 3)
    assert result[0.34]["threshold"] == above(0.7) and result[0.34]["far_actual"] == pytest.approx(1 / 3)
    assert result[0.34]["dir"] == pytest.approx(1 / 3)
    r2 = dir_at_far_from_ranked(labels_lists, score_lists, probes, fars=(0.34,), rank=2)
    assert r2[0.34]["dir"] == pytest.approx(2 / 3)


# --------------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------------
def test_kfold_verification_accuracy_by_hand():
    scores = [0.9, 0.8, 0.3, 0.2, 0.7, 0.6, 0.4, 0.1]
    same = [1, 1, 0, 0, 1, 0, 1, 0]
    # fold 0 held out: train on (.7 T, .6 F, .4 T, .1 F): best 3/4 first at midpoint 0.25
    #   -> fold 0: .9 T ok, .8 T ok, .3 F wrong, .2 F ok = 3/4
    # fold 1 held out: train on (.9 T, .8 T, .3 F, .2 F): perfect at midpoint 0.55
    #   -> fold 1: .7 T ok, .6 F wrong, .4 T wrong, .1 F ok = 2/4
    result = kfold_verification_accuracy(scores, same, n_folds=2, shuffle=False)
    assert result["fold_accuracies"] == [0.75, 0.5]
    assert result["thresholds"] == pytest.approx([0.25, 0.55])
    assert result["accuracy_mean"] == pytest.approx(0.625)
    assert result["accuracy_std"] == pytest.approx(0.125)


def test_kfold_verification_accuracy_separable_ten_folds():
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.uniform(0.6, 1.0, 50), rng.uniform(-1.0, 0.4, 50)])
    same = np.array([True] * 50 + [False] * 50)
    result = kfold_verification_accuracy(torch.tensor(scores), torch.tensor(same))
    assert result["accuracy_mean"] == 1.0 and result["accuracy_std"] == 0.0
    assert len(result["thresholds"]) == 10
    assert all(0.4 <= t <= 0.6 for t in result["thresholds"])


def test_tar_at_far():
    genuine = [0.9, 0.8, 0.7, 0.4]
    impostor = [0.75, 0.6, 0.5, 0.45, 0.3, 0.2, 0.1, 0.05, 0.0, -0.2]
    scores = genuine + impostor
    same = [True] * 4 + [False] * 10
    result = tar_at_far(scores, same, fars=(0.01, 0.1, 0.3))
    assert result[0.01] == {"tar": 0.5, "threshold": above(0.75), "far_actual": 0.0}
    assert result[0.1] == {"tar": 0.75, "threshold": above(0.6), "far_actual": 0.1}
    assert result[0.3] == {"tar": 0.75, "threshold": above(0.45), "far_actual": pytest.approx(0.3)}


def test_roc_curve_and_auc_with_negative_scores_and_ties():
    # genuine -0.1, -0.6, -0.6; impostor -0.6, -0.9
    # AUC by pair counting: 4 wins + 2 ties * 1/2 over 6 pairs = 5/6
    scores = np.array([-0.1, -0.6, -0.6, -0.6, -0.9])
    same = np.array([1, 1, 1, 0, 0])
    assert roc_auc(scores, same) == pytest.approx(5 / 6)
    assert roc_auc(torch.tensor(scores + 1.0), torch.tensor(same)) == pytest.approx(5 / 6)
    fpr, tpr, thresholds = roc_curve(scores, same)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 1, 1])
    np.testing.assert_allclose(thresholds, [np.inf, -0.1, -0.6, -0.9])


def test_best_threshold_accuracy_threshold_in_score_units():
    # thresholds (>=): 0.9 -> 3/4, 0.3 -> 2/4, 0.2 -> 3/4; the first best is 0.9 (not sigmoid(0.9))
    accuracy, threshold = best_threshold_accuracy(torch.tensor([-0.5, 0.2, 0.3, 0.9]), torch.tensor([0, 1, 0, 1]))
    assert accuracy == pytest.approx(0.75)
    assert threshold == pytest.approx(0.9)


# --------------------------------------------------------------------------------------------------
# Functions used by the validation loop
# --------------------------------------------------------------------------------------------------
def test_cosine_similarity_matrix():
    sim = cosine_similarity_matrix(torch.tensor([[2.0, 0.0], [1.0, 1.0]]), torch.tensor([[0.0, 3.0], [1.0, 0.0]]))
    torch.testing.assert_close(sim, torch.tensor([[0.0, 1.0], [1 / math.sqrt(2), 1 / math.sqrt(2)]]))


def test_identity_scores_and_rank_k_accuracy_with_ties():
    similarity = torch.tensor(
        [
            [0.9, 0.1, 0.2, 0.3],  # label 0: ids [.9, .2, .3] -> rank 1
            [0.5, 0.5, 0.4, 0.1],  # label 1: ids [.5, .5, .1] tie -> rank 2
            [0.1, 0.3, 0.8, 0.6],  # label 2: ids [.1, .8, .6] -> rank 2
            [0.7, 0.1, 0.1, 0.7],  # label 2: ids [.7, .1, .7] tie -> rank 2
            [0.1, 0.2, 0.3, 0.4],  # label 3: no gallery image -> always a miss
        ]
    )
    gallery_labels = torch.tensor([0, 1, 1, 2])
    probe_labels = torch.tensor([0, 1, 2, 2, 3])
    ids = identity_scores(similarity, gallery_labels, 4)
    torch.testing.assert_close(ids[1], torch.tensor([0.5, 0.5, 0.1, float("-inf")]))
    torch.testing.assert_close(ids[2], torch.tensor([0.1, 0.8, 0.6, float("-inf")]))
    assert rank_k_accuracy(similarity, probe_labels, gallery_labels, k=1) == pytest.approx(1 / 5)
    assert rank_k_accuracy(similarity, probe_labels, gallery_labels, k=2) == pytest.approx(4 / 5)
    assert rank_k_accuracy(similarity, probe_labels, gallery_labels, k=3) == pytest.approx(4 / 5)


def test_genuine_impostor_pairs():
    labels = torch.tensor([0, 0, 1, 1, 2])
    pairs, same = genuine_impostor_pairs(labels, seed=3)
    # genuine pairs: (0, 1) and (2, 3) only; as many impostors
    assert len(pairs) == 4 and same.tolist() == [True, True, False, False]
    assert {tuple(p) for p in pairs[:2].tolist()} == {(0, 1), (2, 3)}
    assert all(labels[i] != labels[j] for i, j in pairs[2:].tolist())
    again, _ = genuine_impostor_pairs(labels, seed=3)
    assert torch.equal(pairs, again)


# --------------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------------
def test_exact_top_k_cosine_and_chunking():
    gallery = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    queries = np.array([[1.0, 0.1], [0.5, -1.0]])
    scores, indices = exact_top_k(queries, gallery, k=2, chunk_size=1)
    # q0: cos to g0 = 1/sqrt(1.01), g2 = 1.1/sqrt(2.02), g1 = 0.1/sqrt(1.01)
    # q1: cos to g0 = 0.5/sqrt(1.25), g2 = -0.5/sqrt(2.5), g1 = -1/sqrt(1.25)
    assert indices.tolist() == [[0, 2], [0, 2]]
    torch.testing.assert_close(
        scores,
        torch.tensor([[1 / math.sqrt(1.01), 1.1 / math.sqrt(2.02)], [0.5 / math.sqrt(1.25), -0.5 / math.sqrt(2.5)]]),
    )
    assert scores.dtype == torch.float32 and indices.dtype == torch.int64
    # inner product (q1: g0 .5, g2 -.5, g1 -1), k larger than the gallery is clipped
    ip_scores, ip_indices = exact_top_k(queries, gallery, k=10, normalize=False)
    assert ip_indices.tolist() == [[2, 0, 1], [0, 2, 1]]
    torch.testing.assert_close(ip_scores[0], torch.tensor([1.1, 1.0, 0.1]))


def test_exact_top_k_matches_full_sort_on_random_data():
    generator = torch.Generator().manual_seed(0)
    gallery = torch.randn(300, 16, generator=generator)
    queries = torch.randn(50, 16, generator=generator)
    _, indices = exact_top_k(queries, gallery, k=5, chunk_size=7)
    full = cosine_similarity_matrix(queries, gallery).argsort(dim=1, descending=True)[:, :5]
    assert torch.equal(indices, full)


def test_search_recall_at_k():
    approx = [[1, 2, 3], [4, 5, 6]]
    exact = [[1, 2, 4], [7, 8, 9]]
    assert search_recall_at_k(approx, exact) == pytest.approx((2 / 3 + 0) / 2)
    assert search_recall_at_k(approx, exact, k=2) == pytest.approx((1 + 0) / 2)
    assert search_recall_at_k([[1]], [[1, 2, 3]]) == pytest.approx(1 / 3)  # short approximate list
    assert search_recall_at_k([[5, -1, -1]], [[5, -1, -1]]) == 1.0  # padding ignored
    assert search_recall_at_k(np.array([[3, 2, 1]]), torch.tensor([[1, 2, 3]])) == 1.0  # order free


def test_latency_summary():
    summary = latency_summary([0.001, 0.002, 0.003, 0.004, 0.100])
    # ms: 1, 2, 3, 4, 100; p95 index 3.8 -> 4 + 0.8 * 96; p99 index 3.96 -> 4 + 0.96 * 96
    assert summary["count"] == 5
    assert summary["mean_ms"] == pytest.approx(22.0)
    assert summary["p50_ms"] == pytest.approx(3.0)
    assert summary["p95_ms"] == pytest.approx(80.8)
    assert summary["p99_ms"] == pytest.approx(96.16)
    assert summary["max_ms"] == pytest.approx(100.0)
    assert summary["min_ms"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        latency_summary([])
