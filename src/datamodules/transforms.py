"""Image transforms: training augmentation and the deterministic evaluation transform, both to [-1, 1]."""
from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms import v2 as T


def _to_normalized_tensor() -> list:
    return [T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize([0.5] * 3, [0.5] * 3)]


class LowResolution(T.Transform):
    """Reduce the image to ``size`` x ``size`` pixels and scale it back (a low-resolution camera's face)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        if size < 4:
            raise ValueError(f"low-resolution size {size} is too small; use data.low_res_size >= 4.")
        self.size = int(size)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        height, width = T.functional.get_size(inpt)
        small = T.functional.resize(inpt, [self.size, self.size], antialias=True)
        return T.functional.resize(small, [height, width], antialias=True)


def eval_transform(image_size: int, low_res_size: int | None = None) -> T.Compose:
    """Resize to ``image_size`` squared (through ``low_res_size`` first, when given) and normalize to [-1, 1]; no
    randomness."""
    steps = [T.Resize((image_size, image_size), antialias=True)]
    if low_res_size:
        steps.append(LowResolution(low_res_size))
    return T.Compose([*steps, *_to_normalized_tensor()])


def train_transform(
    image_size: int,
    crop_scale: tuple[float, float] = (0.85, 1.0),
    color_jitter: float = 0.2,
    flip: bool = True,
    low_res_size: int | None = None,
    low_res_fraction: float = 0.0,
) -> T.Compose:
    """Training augmentation: small random crop/scale, horizontal flip and colour jitter; with ``low_res_size``,
    that share (``low_res_fraction``) of the images is reduced to it and scaled back."""
    steps = [T.RandomResizedCrop((image_size, image_size), scale=tuple(crop_scale), ratio=(0.9, 1.1), antialias=True)]
    if low_res_size and low_res_fraction > 0:
        steps.append(T.RandomApply([LowResolution(low_res_size)], p=low_res_fraction))
    if flip:
        steps.append(T.RandomHorizontalFlip())
    if color_jitter > 0:
        steps.append(T.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter))
    return T.Compose([*steps, *_to_normalized_tensor()])
