"""IR-ResNet: the face-specific ResNet of InsightFace's arcface_torch, with its parameter names.

Written from the architecture description so that an arcface_torch ``backbone.pth`` state dict loads with strict
key matching. Layout (input ``(B, 3, H, W)`` in [-1, 1]):

    conv1 (3x3, stride 1) -> bn1 -> prelu -> layer1..layer4 (64/128/256/512 channels, each starting with stride 2)
    -> bn2 -> flatten (512 x ceil(H/16) x ceil(W/16)) -> dropout -> fc (-> embedding_dim) -> features (BatchNorm1d)

Each stage is a stack of pre-activation ``IBasicBlock``: bn1 -> conv1 (3x3) -> bn2 -> prelu -> conv2 (3x3, the
block's stride) -> bn3, plus the shortcut (``downsample`` = 1x1 conv + BN when the shape changes).
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import torch
from torch import nn

from src.utils.checkpoint_file import read_checkpoint

log = logging.getLogger(__name__)

# blocks per stage (arcface_torch r18/r34/r50/r100)
IRESNET_LAYERS: dict[int, tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 14, 3),
    100: (3, 13, 30, 3),
}
STAGE_WIDTHS = (64, 128, 256, 512)
BN_EPS = 1e-5


def feature_map_size(image_size: int) -> int:
    """Side of the last feature map: every stage halves it (rounding up), 112 -> 7."""
    side = image_size
    for _ in STAGE_WIDTHS:
        side = math.ceil(side / 2)
    return side


class IBasicBlock(nn.Module):
    """Pre-activation residual block with the stride on the second convolution."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, eps=BN_EPS)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.prelu = nn.PReLU(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels, eps=BN_EPS)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + shortcut


class IResNet(nn.Module):
    """IR-ResNet 18/34/50/100 with arcface_torch's parameter names (``conv1``, ``bn1``, ``prelu``, ``layer1..4``,
    ``bn2``, ``dropout``, ``fc``, ``features``).

    Args:
        depth: 18 | 34 | 50 | 100.
        embedding_dim: output size (512 in all arcface_torch models).
        dropout: dropout on the flattened feature map (arcface_torch uses 0).
        image_size: square input side the ``fc`` layer is sized for (any side >= 16; 112 for the field's weights,
            whose ``fc`` expects a 7x7 map). Other sizes are refused in ``forward`` with the expected one.
        pretrained: ``None`` or a path to an arcface_torch ``backbone.pth`` or a facerec ``.ckpt`` of an IR-ResNet,
            loaded with strict key matching.
    """

    arch = "iresnet"

    def __init__(
        self,
        depth: int = 50,
        embedding_dim: int = 512,
        dropout: float = 0.0,
        image_size: int = 112,
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        if depth not in IRESNET_LAYERS:
            raise ValueError(f"IR-ResNet depth {depth} is not supported; set model.backbone.depth to one of "
                             f"{sorted(IRESNET_LAYERS)}.")
        if image_size < 16:
            raise ValueError(f"IR-ResNet needs images of at least 16 px (got data.image_size={image_size}).")
        self.depth, self.embedding_dim, self.image_size = depth, embedding_dim, image_size
        self.conv1 = nn.Conv2d(3, STAGE_WIDTHS[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(STAGE_WIDTHS[0], eps=BN_EPS)
        self.prelu = nn.PReLU(STAGE_WIDTHS[0])
        in_channels = STAGE_WIDTHS[0]
        for number, (blocks, width) in enumerate(zip(IRESNET_LAYERS[depth], STAGE_WIDTHS, strict=True), start=1):
            stage = [IBasicBlock(in_channels, width, stride=2)] + [IBasicBlock(width, width) for _ in range(blocks - 1)]
            setattr(self, f"layer{number}", nn.Sequential(*stage))
            in_channels = width
        self.bn2 = nn.BatchNorm2d(in_channels, eps=BN_EPS)
        self.dropout = nn.Dropout(dropout)
        side = feature_map_size(image_size)
        self.fc = nn.Linear(in_channels * side * side, embedding_dim)
        self.features = nn.BatchNorm1d(embedding_dim, eps=BN_EPS)
        # arcface_torch keeps the embedding BN's scale fixed at 1 (only its shift learns): same training behaviour
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False
        self._init_weights()
        if pretrained == "imagenet":
            raise ValueError("IR-ResNet has no ImageNet weights; set model.backbone.pretrained=null or "
                             "model.backbone.pretrained=/path/to/backbone.pth (arcface_torch) or a facerec .ckpt.")
        if pretrained:
            load_iresnet_weights(self, pretrained)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @property
    def trunk(self) -> nn.ModuleList:
        """The convolutional part (what ``model.freeze_backbone_epochs`` freezes); not a registered submodule."""
        return nn.ModuleList([self.conv1, self.bn1, self.prelu, self.layer1, self.layer2, self.layer3, self.layer4])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(images)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.bn2(x), 1)
        if not torch.jit.is_tracing() and x.shape[1] != self.fc.in_features:  # (ONNX export traces)
            raise ValueError(f"IR-ResNet was built for {self.image_size}x{self.image_size} images; got "
                             f"{tuple(images.shape[-2:])}. Resize inputs or set data.image_size={self.image_size}.")
        return self.features(self.fc(self.dropout(x)))


def iresnet_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of an arcface_torch ``backbone.pth`` or of a facerec ``.ckpt`` (its ``embedder.`` part).

    Read as data only (:func:`read_checkpoint`): a file that needs arbitrary unpickling is refused, not run, with
    a message naming it.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Backbone weights not found: {path}. Pass an existing backbone.pth or .ckpt.")
    state = read_checkpoint(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = {k.removeprefix("embedder."): v for k, v in state["state_dict"].items() if k.startswith("embedder.")}
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} is not a state dict (name -> tensor) nor a facerec checkpoint.")
    return state


def load_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` with an error that lists missing, unexpected and mis-shaped keys."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                    for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        raise ValueError(
            f"{source} does not fit {type(model).__name__}{getattr(model, 'depth', '')} at "
            f"{getattr(model, 'image_size', '?')} px: {len(missing)} missing keys {missing[:20]}, "
            f"{len(unexpected)} unexpected keys {unexpected[:20]}, {len(shapes)} shape mismatches {shapes[:10]}. "
            f"Check model.backbone.arch / model.backbone.depth / data.image_size against the file."
        )
    model.load_state_dict(state, strict=True)


def load_iresnet_weights(model: IResNet, path: str | os.PathLike) -> None:
    """Load ``path`` into ``model`` with strict key matching (see :func:`load_strict`)."""
    load_strict(model, iresnet_state_dict(path), str(path))
    log.info("Loaded IR-ResNet%d weights from %s.", model.depth, path)
