"""A map-style dataset over ``(image path, label)`` samples that also returns each sample's index."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset

from src.datamodules.image_decode import load_rgb

__all__ = ["FaceImageDataset", "load_rgb"]  # load_rgb: the one image decoder (see image_decode)


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
