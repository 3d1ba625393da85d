"""The one acceptance rule (``score >= threshold``) at its boundary, and thresholds that meet their FAR under it."""
import numpy as np
import pytest
import torch

from src.evaluation.verification import best_threshold_accuracy, kfold_verification_accuracy, roc_curve, tar_at_far
from src.scoring.acceptance import accept_rate, accepts, threshold_at_far


def test_a_score_equal_to_the_threshold_is_accepted():
    assert accepts(0.5, 0.5) is True
    assert accepts(float(np.nextafter(0.5, -np.inf)), 0.5) is False
    np.testing.assert_array_equal(accepts([0.4, 0.5, 0.6], 0.5), [False, True, True])
    assert accepts(-1.0, float("-inf")) and not accepts(1.0, float("inf"))


def test_threshold_at_far_rejects_the_top_impostor_and_is_the_lowest_that_meets_the_far():
    for seed in range(5):
        # rounded scores: many ties, the hard case for "at most m impostors accepted"
        impostors = np.round(np.random.default_rng(seed).normal(0.1, 0.2, 500), 2)
        for far in (0.0, 0.001, 0.01, 0.1, 0.5):
            t = threshold_at_far(impostors, far)
            assert accept_rate(impostors, t) <= far
            assert not accepts(np.sort(impostors)[-int(far * len(impostors)) - 1], t)
            # the next lower candidate (the rejected score itself) accepts more than the target
            assert accept_rate(impostors, float(np.nextafter(t, -np.inf))) > far
        assert not accepts(impostors.max(), threshold_at_far(impostors, 0.0))  # FAR 0: top impostor rejected


def test_threshold_is_applied_in_float64_so_float32_ties_stay_rejected():
    impostor = np.float32(0.7)  # Milvus returns float32 similarities
    t = threshold_at_far([impostor], 0.0)
    assert np.float32(t) == impostor  # compared in float32 the threshold would accept the impostor
    assert not accepts(impostor, t) and not accepts(np.array([impostor], dtype=np.float32), t)[0]


def test_every_threshold_api_uses_the_same_rule():
    genuine, impostor = [0.9, 0.7, 0.7, 0.4], [0.7, 0.5, 0.4, 0.1]
    scores, same = np.array(genuine + impostor), np.array([True] * 4 + [False] * 4)
    fpr, tpr, thresholds = roc_curve(scores, same)
    for f, r, t in zip(fpr, tpr, thresholds, strict=True):
        assert accept_rate(impostor, t) == pytest.approx(f) and accept_rate(genuine, t) == pytest.approx(r)
    accuracy, t = best_threshold_accuracy(torch.tensor(scores), torch.tensor(same))
    assert np.mean(accepts(scores, t) == same) == pytest.approx(accuracy)
    for far, values in tar_at_far(scores, same, fars=(0.0, 0.25, 0.5)).items():
        assert values["far_actual"] == accept_rate(impostor, values["threshold"]) <= far
        assert values["tar"] == accept_rate(genuine, values["threshold"])


def test_kfold_accepts_a_held_out_score_equal_to_the_threshold():
    # fold 1 (0.6 same, 0.4 different) trains the threshold 0.5; fold 0 holds a genuine pair scoring exactly 0.5
    result = kfold_verification_accuracy([0.5, 0.0, 0.6, 0.4], [1, 0, 1, 0], n_folds=2, shuffle=False)
    assert result["thresholds"][0] == 0.5
    assert result["fold_accuracies"] == [1.0, 0.5]  # fold 1: trained at 0.25 on fold 0, accepts 0.4 wrongly
