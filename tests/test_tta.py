"""Flip TTA against the formula computed by hand with the bare network."""
import pytest
import torch
import torch.nn.functional as F

from src.embedding.tta import TTAEmbedder
from src.models.backbone import FaceEmbedder


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    model = FaceEmbedder(depth=18, embedding_dim=512)
    model.eval()
    return model


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(1)
    return torch.rand(3, 3, 32, 32) * 2 - 1


def test_concat_equals_hand_computed(network, images):
    embedder = TTAEmbedder(network, mode="concat", device="cpu", channels_last=False)
    with torch.no_grad():
        original = F.normalize(network(images), dim=1)
        flipped = F.normalize(network(images.flip(3)), dim=1)
    expected = torch.cat([original, flipped], dim=1) / 2**0.5
    result = embedder.embed_batch(images)
    assert result.shape == (3, 1024) and embedder.dim == 1024
    assert torch.allclose(result, expected, atol=1e-5)
    assert torch.allclose(result.norm(dim=1), torch.ones(3), atol=1e-5)


def test_sum_and_none_modes(network, images):
    with torch.no_grad():
        original = F.normalize(network(images), dim=1)
        flipped = F.normalize(network(images.flip(3)), dim=1)
    summed = TTAEmbedder(network, mode="sum", device="cpu").embed_batch(images)
    assert torch.allclose(summed, F.normalize(original + flipped, dim=1), atol=1e-5)
    plain = TTAEmbedder(network, mode="none", device="cpu").embed_batch(images)
    assert plain.shape == (3, 512)
    assert torch.allclose(plain, original, atol=1e-5)


def test_flip_changes_the_embedding(network, images):
    """The mirrored half is not a copy of the original half (the flip really happens)."""
    result = TTAEmbedder(network, mode="concat", device="cpu").embed_batch(images)
    assert not torch.allclose(result[:, :512], result[:, 512:], atol=1e-3)


def test_unknown_mode_is_rejected(network):
    with pytest.raises(ValueError, match="Unknown TTA mode"):
        TTAEmbedder(network, mode="mean")
