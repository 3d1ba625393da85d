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

    def __init__(self, samples: list[tuple[Path, int]], transform: Callable | None,
                 loader: Callable[[Path], Image.Image | torch.Tensor] = load_rgb) -> None:
        self.samples = samples
        self.transform = transform
        # path -> RGB image: plain decoding, face alignment (src.alignment), or a uint8 tensor for training
        # batches augmented on the device (src.datamodules.fast_decode.DecodeToTensor, with transform None)
        self.loader = loader

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        path, label = self.samples[index]
        image = self.loader(path)
        return (self.transform(image) if self.transform else image), label, index
