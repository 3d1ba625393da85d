"""Margin heads against the formulas written out by hand on small vectors."""
import math

import pytest
import torch
import torch.nn.functional as F

from src.heads import ArcFaceHead, CosFaceHead, SoftmaxHead


def _head_with_weights(cls, weights, **kwargs):
    head = cls(embedding_dim=weights.shape[1], num_classes=weights.shape[0], **kwargs)
    with torch.no_grad():
        head.weight.copy_(weights)
    return head


WEIGHTS = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])  # unit directions: +x, +y, -x
FEATURES = torch.tensor([[2.0, 0.0], [1.0, 1.0]])  # cosines: [1, 0, -1] and [1/sqrt2, 1/sqrt2, -1/sqrt2]
LABELS = torch.tensor([0, 1])


def test_cosface_target_and_other_columns():
    head = _head_with_weights(CosFaceHead, WEIGHTS, s=10.0, m=0.2)
    logits = head(FEATURES, LABELS)
    r = 1 / math.sqrt(2)
    eps = 1e-7
    expected = torch.tensor([
        [10 * ((1 - eps) - 0.2), 0.0, 10 * (-1 + eps)],
        [10 * r, 10 * (r - 0.2), -10 * r],
    ])
    assert torch.allclose(logits, expected, atol=1e-4)


def test_cosface_margin_and_scale_effects():
    base = _head_with_weights(CosFaceHead, WEIGHTS, s=10.0, m=0.0)(FEATURES, LABELS)
    margin = _head_with_weights(CosFaceHead, WEIGHTS, s=10.0, m=0.35)(FEATURES, LABELS)
    diff = base - margin
    assert torch.allclose(diff[0], torch.tensor([3.5, 0.0, 0.0]), atol=1e-5)
    assert torch.allclose(diff[1], torch.tensor([0.0, 3.5, 0.0]), atol=1e-5)
    double = _head_with_weights(CosFaceHead, WEIGHTS, s=20.0, m=0.0)(FEATURES, LABELS)
    assert torch.allclose(double, 2 * base, atol=1e-5)


def test_arcface_adds_angle_to_target_only():
    head = _head_with_weights(ArcFaceHead, WEIGHTS, s=8.0, m=0.3)
    logits = head(FEATURES[1:], LABELS[1:])  # target theta = 45 degrees
    r = 1 / math.sqrt(2)
    expected = torch.tensor([[8 * r, 8 * math.cos(math.pi / 4 + 0.3), -8 * r]])
    assert torch.allclose(logits, expected, atol=1e-4)


def test_arcface_falls_back_past_pi():
    head = _head_with_weights(ArcFaceHead, WEIGHTS, s=1.0, m=0.5)
    logits = head(torch.tensor([[-1.0, 0.01]]), torch.tensor([0]))  # target theta ~ pi
    cos = F.normalize(torch.tensor([[-1.0, 0.01]]), dim=1)[0, 0]
    assert float(logits[0, 0]) == pytest.approx(float(cos - math.sin(math.pi - 0.5) * 0.5), abs=1e-4)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("cls", [CosFaceHead, ArcFaceHead, SoftmaxHead])
def test_gradient_reaches_features_and_weights(cls):
    torch.manual_seed(0)
    head = cls(embedding_dim=8, num_classes=5)
    features = torch.randn(4, 8, requires_grad=True)
    loss = F.cross_entropy(head(features, torch.tensor([0, 1, 2, 3])), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert features.grad is not None and features.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())


def test_cosine_is_clamped_for_identical_vectors():
    head = _head_with_weights(CosFaceHead, WEIGHTS, s=64.0, m=0.35)
    features = torch.tensor([[5.0, 0.0]], requires_grad=True)
    head(features, torch.tensor([0])).sum().backward()
    assert torch.isfinite(features.grad).all()
    assert head.cosine(features).max() < 1.0
