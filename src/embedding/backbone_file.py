"""A bare backbone state dict (arcface_torch's ``backbone.pth``) used wherever a facerec checkpoint is."""
from __future__ import annotations

import math
import re
from typing import Any

import torch

from src.models.iresnet import IRESNET_LAYERS, STAGE_WIDTHS, IResNet, load_strict

_BLOCK_KEY = re.compile(r"^layer([1-4])\.(\d+)\.")


def is_bare_state_dict(content: dict[str, Any]) -> bool:
    """True for a bare state dict (name -> tensor, e.g. arcface_torch's backbone.pth), False for a Lightning .ckpt."""
    return bool(content) and all(isinstance(v, torch.Tensor) for v in content.values())


def iresnet_from_state_dict(state: dict[str, torch.Tensor], source: str) -> tuple[IResNet, int]:
    """Build the IR-ResNet the tensors describe (depth from the blocks per stage, embedding size from ``features``,
    input size from ``fc``: 512 x 7 x 7 -> 112 px), load them strictly; returns ``(model in eval mode, image_size)``.
    """
    if "conv1.weight" not in state or "fc.weight" not in state or "features.weight" not in state:
        raise ValueError(
            f"{source} is a state dict but not an IR-ResNet (arcface_torch backbone.pth) one: no conv1/fc/features "
            f"keys (first keys: {list(state)[:5]}). Pass a facerec .ckpt, or an arcface_torch iresnet backbone.pth."
        )
    blocks = [0, 0, 0, 0]
    for key in state:
        if match := _BLOCK_KEY.match(key):
            stage, index = int(match[1]) - 1, int(match[2])
            blocks[stage] = max(blocks[stage], index + 1)
    depths = {layers: depth for depth, layers in IRESNET_LAYERS.items()}
    if tuple(blocks) not in depths:
        raise ValueError(f"{source}: IR-ResNet with {blocks} blocks per stage is not one of the supported depths "
                         f"{ {d: list(b) for d, b in IRESNET_LAYERS.items()} }.")
    side = math.isqrt(state["fc.weight"].shape[1] // STAGE_WIDTHS[-1])
    image_size = 16 * side  # 7x7 map <- 112 px, the size arcface_torch trains at
    model = IResNet(depth=depths[tuple(blocks)], embedding_dim=state["features.weight"].shape[0], image_size=image_size)
    load_strict(model, state, source)
    return model.eval(), image_size
