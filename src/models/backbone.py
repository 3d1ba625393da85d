"""ResNet trunk with an embedding neck: ``(B, 3, H, W)`` in [-1, 1] -> ``(B, embedding_dim)``."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
import torchvision
from torch import nn

from src.models.dlib_resnet import DlibResNet
from src.models.iresnet import IResNet
from src.utils.checkpoint_file import read_checkpoint

log = logging.getLogger(__name__)

_RESNETS = {
    18: ("resnet18", torchvision.models.ResNet18_Weights.IMAGENET1K_V1),
    34: ("resnet34", torchvision.models.ResNet34_Weights.IMAGENET1K_V1),
    50: ("resnet50", torchvision.models.ResNet50_Weights.IMAGENET1K_V2),
    101: ("resnet101", torchvision.models.ResNet101_Weights.IMAGENET1K_V2),
}


class FaceEmbedder(nn.Module):
    """torchvision ResNet (depth 18/34/50/101) followed by BN -> dropout -> linear -> BN1d.

    Args:
        depth: ResNet depth.
        embedding_dim: size of the output embedding (512 by default).
        dropout: dropout before the embedding projection.
        pretrained: ``None`` (random init), ``"imagenet"`` (torchvision weights, only from the local torch
            cache: nothing is downloaded), or a path to a ``.ckpt``/state-dict file of this model.
    """

    arch = "torchvision"

    def __init__(
        self,
        depth: int = 50,
        embedding_dim: int = 512,
        dropout: float = 0.0,
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        if depth not in _RESNETS:
            raise ValueError(f"ResNet depth {depth} is not supported; choose one of {sorted(_RESNETS)}.")
        arch, _ = _RESNETS[depth]
        trunk = getattr(torchvision.models, arch)(weights=None)
        feature_dim = trunk.fc.in_features
        trunk.fc = nn.Identity()
        self.trunk = trunk
        self.neck = nn.Sequential(
            nn.BatchNorm1d(feature_dim),
            nn.Dropout(dropout),
            nn.Linear(feature_dim, embedding_dim),
            nn.BatchNorm1d(embedding_dim),
        )
        self.depth = depth
        self.embedding_dim = embedding_dim
        if pretrained == "imagenet":
            self.trunk.load_state_dict(_cached_imagenet_state_dict(depth))
            log.info("Loaded ImageNet weights for ResNet%d from the local torch cache.", depth)
        elif pretrained:
            load_embedder_weights(self, pretrained)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.neck(self.trunk(images))


def build_embedder(arch: str = "torchvision", image_size: int | None = None, **kwargs) -> nn.Module:
    """The embedder of ``model.backbone``: ``arch=torchvision`` (:class:`FaceEmbedder`, ImageNet fine-tuning),
    ``arch=iresnet`` (:class:`~src.models.iresnet.IResNet`, arcface_torch layout, sized for ``image_size``) or
    ``arch=dlib`` (:class:`~src.models.dlib_resnet.DlibResNet`, dlib's pretrained face ResNet, 150 px)."""
    if arch == "torchvision":
        return FaceEmbedder(**kwargs)  # global pooling: any input size, image_size not needed
    if arch == "iresnet":
        return IResNet(image_size=image_size or 112, **kwargs)
    if arch == "dlib":
        return DlibResNet(image_size=image_size or 150, **kwargs)
    raise ValueError(f"Unknown backbone architecture '{arch}'; set model.backbone.arch=torchvision, iresnet or dlib "
                     f"(or model=dlib_resnet).")


def _cached_imagenet_state_dict(depth: int) -> dict[str, torch.Tensor]:
    """ImageNet weights from ``$TORCH_HOME/hub/checkpoints``; a clear error instead of a download."""
    _, weights = _RESNETS[depth]
    filename = os.path.basename(weights.url)
    path = Path(torch.hub.get_dir()) / "checkpoints" / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"ImageNet weights for ResNet{depth} are not in the local torch cache ({path}). "
            f"Download them once with: python -c \"import torchvision; "
            f"torchvision.models.{_RESNETS[depth][0]}(weights='{weights.name}')\" "
            f"or train from scratch with model.backbone.pretrained=null, or pass a checkpoint path."
        )
    return read_checkpoint(path)


def load_embedder_weights(embedder: nn.Module, path: str | os.PathLike) -> None:
    """Load embedder weights from a Lightning ``.ckpt`` of this project or a plain state dict.

    Keys are matched after stripping an ``embedder.`` prefix; a file that provides none of the embedder's
    tensors is rejected rather than silently ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint not found: {path}. Pass an existing .ckpt or state-dict file.")
    state = read_checkpoint(path)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    own = embedder.state_dict()
    matched = {}
    for key, value in state.items():
        key = key.removeprefix("embedder.")
        if key in own and own[key].shape == value.shape:
            matched[key] = value
    if not matched:
        raise ValueError(f"{path} holds no weights that fit this embedder (ResNet{getattr(embedder, 'depth', '?')}).")
    embedder.load_state_dict(matched, strict=False)
    log.info("Loaded %d/%d embedder tensors from %s.", len(matched), len(own), path)
