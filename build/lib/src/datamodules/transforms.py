"""Image transforms: training augmentation and the deterministic evaluation transform, both to [-1, 1]."""
from __future__ import annotations

import torch
from torchvision.transforms import v2 as T


def _to_normalized_tensor() -> list:
    return [T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize([0.5] * 3, [0.5] * 3)]


def eval_transform(image_size: int) -> T.Compose:
    """Resize to ``image_size`` squared and normalize to [-1, 1]; no randomness."""
    return T.Compose([T.Resize((image_size, image_size), antialias=True), *_to_normalized_tensor()])


def train_transform(
    image_size: int,
    crop_scale: tuple[float, float] = (0.85, 1.0),
    color_jitter: float = 0.2,
    flip: bool = True,
) -> T.Compose:
    """Training augmentation: small random crop/scale, horizontal flip and colour jitter."""
    steps = [T.RandomResizedCrop((image_size, image_size), scale=tuple(crop_scale), ratio=(0.9, 1.1), antialias=True)]
    if flip:
        steps.append(T.RandomHorizontalFlip())
    if color_jitter > 0:
        steps.append(T.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter))
    return T.Compose([*steps, *_to_normalized_tensor()])
