"""Image resampling for the batched MTCNN, equal to what PIL does for the reference detector: the image pyramid
(antialiased bicubic, successive sqrt(2) steps, 8-bit levels) and many box crops resized at once to the 24/48 px
inputs of R-/O-Net, with PIL's bicubic filter and its zero fill outside the photo."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

PYRAMID_STEP = math.sqrt(2.0)  # each pyramid level is this much smaller than the one before
MIN_LEVEL_SIDE = 12  # P-Net's window: levels below it are not built


def level_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """(width, height) of every pyramid level: each side divided by sqrt(2) and rounded, until one is < 12."""
    sizes = [(width, height)]
    while True:
        width, height = round(width / PYRAMID_STEP), round(height / PYRAMID_STEP)
        if width < MIN_LEVEL_SIDE or height < MIN_LEVEL_SIDE:
            return sizes
        sizes.append((width, height))


def closest_level(ratio: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """The coarsest level at most ``ratio`` times smaller than the photo (per element), within ``levels``."""
    level = torch.floor(torch.log(ratio.double()) / math.log(PYRAMID_STEP))
    return torch.minimum(level.clamp(min=0).long(), levels - 1)


def resize(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, height, width) uint8, antialiased bicubic like PIL's ``resize``.

    On the CPU torch has an 8-bit path that matches PIL's fixed-point one (measured: max 1 grey level apart on a
    640x480 photo, mean 0.003); elsewhere float, rounded back to 8 bits (max 2, mean 0.16)."""
    height, width = size
    if batch.device.type == "cpu":
        return F.interpolate(batch, size=(height, width), mode="bicubic", antialias=True, align_corners=False)
    out = F.interpolate(batch.float(), size=(height, width), mode="bicubic", antialias=True, align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def _cubic(x: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """PIL's bicubic kernel (a = -0.5)."""
    x = x.abs()
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return torch.where(x < 1.0, near, torch.where(x < 2.0, far, torch.zeros_like(x)))


def filter_weights(length: torch.Tensor, out: int, window: int) -> torch.Tensor:
    """(k, out, window) weights that resample ``length`` input pixels (per box, <= window) onto ``out`` pixels
    as PIL's bicubic ``resize`` does: filter widened by the scale when shrinking, clipped at the crop's edges and
    normalised per output pixel. Computed once per distinct length (a batch has ~20 among thousands of boxes)."""
    lengths, which = torch.unique(length, return_inverse=True)
    scale = lengths.double() / out
    widen = scale.clamp(min=1.0)
    center = (torch.arange(out, device=length.device, dtype=torch.float64) + 0.5)[None] * scale[:, None]
    low = torch.floor(center - 2.0 * widen[:, None] + 0.5).clamp(min=0)
    high = torch.minimum(torch.floor(center + 2.0 * widen[:, None] + 0.5), lengths[:, None].double())
    j = torch.arange(window, device=length.device, dtype=torch.float64)[None, None]
    weights = _cubic((j - center[..., None] + 0.5) / widen[:, None, None])
    weights = weights * ((j >= low[..., None]) & (j < high[..., None]))
    return (weights / weights.sum(-1, keepdim=True).clamp(min=1e-12)).float()[which]


def _round8(x: torch.Tensor) -> torch.Tensor:
    return torch.floor(x + 0.5).clamp_(0, 255)


def crop_resize(level: torch.Tensor, entry: torch.Tensor, box: torch.Tensor, out: int) -> torch.Tensor:
    """Crop integer boxes ``box`` (k, 4: left, top, right, bottom; may reach outside, read as black) from
    ``level[entry]`` (channels-last uint8) and resize each to ``out`` x ``out``: (k, 3, out, out) float 0..255.

    One gather and two batched matrix products for all boxes; horizontal pass first and 8-bit rounding in between,
    as PIL does."""
    count, height, width = len(box), level.shape[2], level.shape[3]
    crop_w, crop_h = (box[:, 2] - box[:, 0]).clamp(min=1), (box[:, 3] - box[:, 1]).clamp(min=1)
    win_w, win_h = int(crop_w.max()), int(crop_h.max())
    rows = box[:, 1, None] + torch.arange(win_h, device=box.device)[None]  # (k, win_h)
    cols = box[:, 0, None] + torch.arange(win_w, device=box.device)[None]  # (k, win_w)
    inside = ((cols >= 0) & (cols < width))[:, :, None] & ((rows >= 0) & (rows < height))[:, None]
    # Pixels gathered column-major, (k, win_w, win_h, 3), as whole RGB rows of the channels-last level, so the
    # horizontal pass is one batched matrix product; pixels outside the photo read as 0 like PIL's crop.
    index = (entry[:, None, None] * height + rows[:, None]) * width + cols[:, :, None]
    table = level.permute(0, 2, 3, 1).reshape(-1, 3)
    pixels = table.index_select(0, torch.where(inside, index, 0).flatten()).reshape(count, win_w, win_h, 3)
    pixels = (pixels * inside[..., None]).float().reshape(count, win_w, win_h * 3)
    horizontal = _round8(torch.bmm(filter_weights(crop_w, out, win_w), pixels))  # (k, out, win_h * 3)
    horizontal = horizontal.reshape(count, out, win_h, 3).transpose(1, 2).reshape(count, win_h, out * 3)
    vertical = _round8(torch.bmm(filter_weights(crop_h, out, win_h), horizontal))  # (k, out, out * 3)
    return vertical.reshape(count, out, out, 3).permute(0, 3, 1, 2)  # channels-last (k, 3, out, out)
