"""Training augmentation of a whole uint8 batch on the training device, after the transfer.

The same distribution as :func:`src.datamodules.transforms.train_transform` (torchvision v2 on one PIL image at a
time), drawn per sample: ``RandomResizedCrop`` (its 10-try area / log-ratio rule and centre-crop fallback) as one
``roi_align`` over the batch, horizontal flip with p=0.5, ``ColorJitter`` (brightness, contrast, saturation, in a
random order per sample), then [-1, 1] normalisation. ``tests/test_loader.py`` compares the two on statistics of
many samples. Workers then only decode: one 112 px image cost 2.37 ms in a worker with the per-image transform,
0.55 ms of it decoding (issue 21).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

_GREY = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale weights
_TRIES = 10  # torchvision's RandomResizedCrop tries 10 draws before its centre-crop fallback


def crop_boxes(n: int, height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float],
               device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` RandomResizedCrop boxes ``(x0, y0, x1, y1)`` in pixels, by torchvision's rule, drawn at once."""
    area = height * width * torch.empty(n, _TRIES, device=device).uniform_(*scale)
    aspect = torch.exp(torch.empty(n, _TRIES, device=device).uniform_(math.log(ratio[0]), math.log(ratio[1])))
    w = torch.round(torch.sqrt(area * aspect))
    h = torch.round(torch.sqrt(area / aspect))
    valid = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = torch.argmax(valid.int(), dim=1, keepdim=True)  # the first valid try, as the loop stops there
    found = valid.any(dim=1)
    w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)
    in_ratio = width / height  # fallback: the centre crop torchvision takes when no try fits
    fw = width if in_ratio <= max(ratio) else round(height * max(ratio))
    fh = height if in_ratio >= min(ratio) else round(width / min(ratio))
    w, h = torch.where(found, w, float(fw)), torch.where(found, h, float(fh))
    # randint(0, H - h + 1) as floor(U * (H - h + 1))
    top = torch.floor(torch.rand(n, device=device) * (height - h + 1)).clamp(max=height - h)
    left = torch.floor(torch.rand(n, device=device) * (width - w + 1)).clamp(max=width - w)
    top = torch.where(found, top, float((height - fh) // 2))
    left = torch.where(found, left, float((width - fw) // 2))
    return torch.stack([left, top, left + w, top + h], dim=1)


def _grey(images: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(_GREY, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def _blend(images: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    factor = factor.view(-1, 1, 1, 1)
    return (images * factor + other * (1 - factor)).clamp_(0, 1)


class BatchAugment(nn.Module):
    """uint8 ``B x 3 x H x W`` -> augmented float ``B x 3 x S x S`` in [-1, 1] (``data.crop_scale``,
    ``data.color_jitter``, ``data.flip``; crop aspect ratio 0.9-1.1 as in the per-image transform)."""

    def __init__(self, image_size: int, crop_scale: tuple[float, float] = (0.85, 1.0), color_jitter: float = 0.2,
                 flip: bool = True, ratio: tuple[float, float] = (0.9, 1.1), low_res_size: int | None = None,
                 low_res_fraction: float = 0.0) -> None:
        super().__init__()
        self.image_size, self.crop_scale, self.ratio = image_size, tuple(crop_scale), tuple(ratio)
        self.color_jitter, self.flip = float(color_jitter), flip
        self.low_res_size, self.low_res_fraction = low_res_size, float(low_res_fraction)

    def crop(self, images: torch.Tensor) -> torch.Tensor:
        """Per-sample random resized crop: bilinear, half-pixel centres (roi_align ``aligned=True`` with one sample
        per bin is torchvision's bilinear resize of the crop: equal to 1e-5 inside; the outermost output pixels
        blend with the pixel just outside the crop instead of repeating its edge)."""
        n, _, height, width = images.shape
        boxes = crop_boxes(n, height, width, self.crop_scale, self.ratio, images.device)
        boxes = torch.cat([torch.arange(n, device=images.device, dtype=boxes.dtype)[:, None], boxes], dim=1)
        return roi_align(images, boxes.to(images.dtype), self.image_size, spatial_scale=1.0, sampling_ratio=1,
                         aligned=True)

    def jitter(self, images: torch.Tensor) -> torch.Tensor:
        """Brightness, contrast and saturation factors from U(1 - j, 1 + j), applied in a random order per sample
        (each step touches only the samples whose order puts that operation there)."""
        n, j = len(images), self.color_jitter
        factors = torch.empty(3, n, device=images.device).uniform_(max(0.0, 1 - j), 1 + j)
        order = torch.argsort(torch.rand(n, 3, device=images.device), dim=1)  # a random permutation per sample
        for position in range(3):
            for op in range(3):
                chosen = torch.nonzero(order[:, position] == op).squeeze(1)
                subset, factor = images[chosen], factors[op, chosen]
                if op == 0:
                    subset = (subset * factor.view(-1, 1, 1, 1)).clamp_(0, 1)
                elif op == 1:
                    subset = _blend(subset, _grey(subset).mean(dim=(1, 2, 3), keepdim=True), factor)
                else:
                    subset = _blend(subset, _grey(subset), factor)
                images[chosen] = subset
        return images

    def low_resolution(self, images: torch.Tensor) -> torch.Tensor:
        """``data.low_res_fraction`` of the samples reduced to ``data.low_res_size`` and scaled back (bilinear with
        antialiasing, as the per-image ``LowResolution`` transform)."""
        chosen = torch.nonzero(torch.rand(len(images), device=images.device) < self.low_res_fraction).squeeze(1)
        if len(chosen):
            small = F.interpolate(images[chosen], size=self.low_res_size, mode="bilinear", antialias=True)
            images[chosen] = F.interpolate(small, size=images.shape[-2:], mode="bilinear", antialias=True).clamp_(0, 1)
        return images

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = images.float().div_(255)
        images = self.crop(images)
        if self.low_res_size and self.low_res_fraction > 0:
            images = self.low_resolution(images)
        if self.flip:
            flipped = torch.rand(len(images), device=images.device) < 0.5
            images = torch.where(flipped.view(-1, 1, 1, 1), images.flip(-1), images)
        if self.color_jitter > 0:
            images = self.jitter(images)
        return images.sub_(0.5).div_(0.5)
