"""A map-style dataset over ``(image path, label)`` samples that also returns each sample's index."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from torch.utils.data import Dataset


def load_rgb(path: str | Path) -> Image.Image:
    """Open an image file as 3-channel RGB (grey and palette images are converted)."""
    with Image.open(path) as image:
        return image.convert("RGB")


class FaceImageDataset(Dataset):
    """Items are ``(image tensor, label, index)``; the index lets evaluation undo DDP padding and order."""

    def __init__(self, samples: list[tuple[Path, int]], transform: Callable,
                 loader: Callable[[Path], Image.Image] = load_rgb) -> None:
        self.samples = samples
        self.transform = transform
        self.loader = loader  # path -> RGB image: plain decoding, or e.g. face alignment (src.alignment)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        path, label = self.samples[index]
        return self.transform(self.loader(path)), label, index
