"""Flip test-time augmentation: original and mirrored image embedded in one forward pass.

``concat`` (default): ``[n(f(x)), n(f(flip x))] / sqrt(2)`` -> 2 x D dims, unit norm.
``sum``: ``n(n(f(x)) + n(f(flip x)))`` -> D dims.  ``none``: ``n(f(x))`` -> D dims, no flip.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

TTAMode = Literal["concat", "sum", "none"]
MODES = ("concat", "sum", "none")


class TTAEmbedder:
    """Embeds image batches with flip TTA in eval mode under ``torch.inference_mode``.

    Args:
        model: network mapping ``(B, 3, H, W)`` to ``(B, D)``; must expose ``embedding_dim``.
        mode: ``concat`` | ``sum`` | ``none``.
        device: where to run (default: CUDA when available, else CPU).
        channels_last: use channels_last memory format (helps convolutions on GPU and recent CPUs).
        autocast: bf16 autocast; ``None`` means on for CUDA, off on CPU.
    """

    def __init__(
        self, model: nn.Module, mode: TTAMode = "concat", device: str | torch.device | None = None,
        channels_last: bool = True, autocast: bool | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"Unknown TTA mode '{mode}'; choose one of {MODES}.")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.mode = mode
        self.channels_last = channels_last
        self.autocast = self.device.type == "cuda" if autocast is None else autocast
        self.model = model.to(self.device).eval()
        if channels_last:
            self.model.to(memory_format=torch.channels_last)

    @property
    def dim(self) -> int:
        """Dimension of the produced embeddings."""
        base = int(self.model.embedding_dim)
        return 2 * base if self.mode == "concat" else base

    def model_input(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` on the embedder's device in its memory format (no flip)."""
        images = images.to(self.device, non_blocking=True)
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    @contextlib.contextmanager
    def inference_context(self) -> Iterator[None]:
        """``torch.inference_mode`` plus bf16 autocast when enabled: how the network is run."""
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.autocast else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            yield

    def embed_batch(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalized images -> ``(B, dim)`` unit-norm float32 embeddings on CPU."""
        images = images.to(self.device, non_blocking=True)  # flip on the device: half the copy
        if self.mode != "none":
            images = torch.cat([images, torch.flip(images, dims=[3])])
        images = self.model_input(images)
        with self.inference_context():
            features = F.normalize(self.model(images).float(), dim=1)
        if self.mode == "none":
            return features.cpu()
        original, flipped = features.chunk(2)
        combined = torch.cat([original, flipped], dim=1) if self.mode == "concat" else original + flipped
        return F.normalize(combined, dim=1).cpu()

    def stream(self, loader: DataLoader) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Yield ``(embeddings, dataset indices)`` batch by batch; the gallery is never held in memory."""
        for images, _labels, index in loader:
            yield self.embed_batch(images).numpy(), index

    def embed_all(self, loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
        """All embeddings ``(N, dim)`` and their dataset indices ``(N,)``, when the arrays are wanted."""
        parts = list(self.stream(loader))
        if not parts:
            return np.zeros((0, self.dim), np.float32), np.zeros(0, np.int64)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1].numpy() for p in parts])
