"""IR-ResNet: arcface_torch state-dict layout, strict loading of a bare backbone.pth, embeddings through facerec."""
from __future__ import annotations

import hydra
import numpy as np
import pytest
import torch

from src.datamodules.face_dataset import load_rgb
from src.datamodules.transforms import eval_transform
from src.embedding.checkpoint import load_embedder
from src.embedding.tta import TTAEmbedder
from src.inference import load_model
from src.models.iresnet import IResNet
from tests.helpers import TINY, compose_config, orl_root

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def expected_layout(blocks: tuple[int, ...], image_size: int, dim: int = 512) -> dict[str, tuple[int, ...]]:
    """arcface_torch's iresnet keys and shapes, written out from the architecture description."""
    def bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
        return {f"{prefix}.{n}": (() if n == "num_batches_tracked" else (c,)) for n in BN}

    keys = {"conv1.weight": (64, 3, 3, 3), **bn("bn1", 64), "prelu.weight": (64,)}
    c_in, side = 64, image_size
    for stage, (n, c) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True), start=1):
        side = (side + 1) // 2
        for i in range(n):
            p = f"layer{stage}.{i}"
            keys |= {**bn(f"{p}.bn1", c_in), f"{p}.conv1.weight": (c, c_in, 3, 3), **bn(f"{p}.bn2", c),
                     f"{p}.prelu.weight": (c,), f"{p}.conv2.weight": (c, c, 3, 3), **bn(f"{p}.bn3", c)}
            if i == 0:  # every stage starts with stride 2: 1x1 conv + BN shortcut
                keys |= {f"{p}.downsample.0.weight": (c, c_in, 1, 1), **bn(f"{p}.downsample.1", c)}
            c_in = c
    return keys | {**bn("bn2", 512), "fc.weight": (dim, 512 * side * side), "fc.bias": (dim,), **bn("features", dim)}


@pytest.mark.parametrize("depth,blocks", [(18, (2, 2, 2, 2)), (34, (3, 4, 6, 3)), (50, (3, 4, 14, 3)),
                                          (100, (3, 13, 30, 3))])
def test_state_dict_matches_arcface_layout(depth: int, blocks: tuple[int, ...]) -> None:
    model = IResNet(depth=depth, image_size=16)  # 16 px keeps fc tiny; the layout is the same
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == expected_layout(blocks, 16)
    assert not model.features.weight.requires_grad  # arcface_torch freezes the embedding BN's scale


def test_iresnet50_112px_forward_and_flatten_size() -> None:
    model = IResNet(depth=50, image_size=112).eval()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == expected_layout((3, 4, 14, 3), 112)
    assert shapes["fc.weight"] == (512, 512 * 7 * 7)
    with torch.no_grad():
        out = model(torch.rand(1, 3, 112, 112) * 2 - 1)
    assert out.shape == (1, 512) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="built for 112x112"):
        model(torch.zeros(1, 3, 96, 96))


def _trained_like(depth: int = 18, image_size: int = 32, seed: int = 0) -> IResNet:
    """An IR-ResNet with non-trivial BN statistics and PReLU slopes, as a trained backbone.pth has."""
    torch.manual_seed(seed)
    model = IResNet(depth=depth, image_size=image_size)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and ("running" in name or "prelu" in name or "bn" in name):
                tensor.uniform_(0.5, 1.5) if "var" in name or "weight" in name else tensor.normal_(0, 0.1)
    return model.eval()


def test_backbone_pth_round_trip_strict(tmp_path) -> None:
    original = _trained_like()
    path = tmp_path / "backbone.pth"
    torch.save(original.state_dict(), path)
    restored = IResNet(depth=18, image_size=32, pretrained=str(path)).eval()
    for key, value in original.state_dict().items():
        assert torch.equal(restored.state_dict()[key], value), key


def test_mismatch_lists_missing_and_unexpected_keys(tmp_path) -> None:
    state = _trained_like().state_dict()
    state.pop("layer2.1.prelu.weight")
    state["head.kernel"] = torch.zeros(3)
    path = tmp_path / "backbone.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"1 missing keys \['layer2.1.prelu.weight'\].*1 unexpected keys "
                                         r"\['head.kernel'\]"):
        IResNet(depth=18, image_size=32, pretrained=str(path))
    torch.save(_trained_like().state_dict(), path)
    with pytest.raises(ValueError, match="layer1.2.bn1.weight"):  # an r18 file into r34: r34's extra blocks missing
        IResNet(depth=34, image_size=32, pretrained=str(path))


def test_bare_backbone_pth_gives_the_original_embeddings(tmp_path) -> None:
    """Through this project's loading (load_embedder / load_model), as from the original module."""
    original = _trained_like()
    path = tmp_path / "backbone.pth"
    torch.save(original.state_dict(), path)
    loaded = load_embedder(path)
    assert (type(loaded.model).__name__, loaded.model.depth, loaded.image_size) == ("IResNet", 18, 32)
    images = sorted(orl_root().glob("s1*/*.pgm"))[:6]
    face_model = load_model(path, tta_mode="concat", device="cpu")
    assert face_model.model_id.startswith("iresnet18-512d@")  # how a Milvus gallery names its model
    ours = face_model.embed(images)
    batch = torch.stack([eval_transform(32)(load_rgb(p)) for p in images])
    reference = TTAEmbedder(original, mode="concat", device="cpu").embed_batch(batch).numpy()
    assert np.abs(ours - reference).max() < 1e-5


def test_pretrained_backbone_pth_starts_fine_tuning(tmp_path) -> None:
    """``model.backbone.pretrained=<backbone.pth>`` with ``arch=iresnet``: the training module starts from it."""
    original = _trained_like()
    path = tmp_path / "backbone.pth"
    torch.save(original.state_dict(), path)
    cfg = compose_config("train", ["experiment=quickstart", *TINY, "model.backbone.arch=iresnet",
                                   f"model.backbone.pretrained={path}"], tmp_path)
    module = hydra.utils.instantiate(cfg.model, num_classes=5, _recursive_=False)
    assert isinstance(module.embedder, IResNet)
    for key, value in original.state_dict().items():
        assert torch.equal(module.embedder.state_dict()[key], value), key


def test_trunk_is_what_freeze_backbone_epochs_freezes() -> None:
    model = IResNet(depth=18, image_size=16)
    model.trunk.requires_grad_(False)
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert "conv1.weight" in frozen and "layer4.1.conv2.weight" in frozen and "prelu.weight" in frozen
    assert not {"fc.weight", "fc.bias", "bn2.weight", "features.bias"} & frozen
    assert "trunk" not in dict(model.named_children())  # a view, not extra state-dict keys
