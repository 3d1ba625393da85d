"""Batched MTCNN: the image pyramids of many photos at once, P-Net on padded batches per pyramid level, R- and
O-Net on all candidates of the batch together, NMS with ``torchvision.ops.batched_nms``; everything stays on the
device. The box, crop and threshold conventions are the reference detector's (faceie 0.0.5), so the answers
match it (tests/test_detector.py measures how closely)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.ops import batched_nms

from src.alignment.mtcnn_nets import ONet, PNet, RNet
from src.alignment.mtcnn_resample import (
    MIN_LEVEL_SIDE,
    PYRAMID_STEP,
    closest_level,
    crop_resize,
    level_sizes,
    resize,
)

NMS_IOU = 0.5  # within and between pyramid levels and after R- and O-Net
WINDOW = 11.0  # P-Net's 12-pixel window, as inclusive coordinates 0..11
STRIDE = 2  # P-Net output cells are 2 pixels apart


@dataclass
class Found:
    """What one photo (``entry``) gave: probabilities (n,), boxes (n, 4) and landmarks (n, 5, 2), on the CPU."""

    probabilities: np.ndarray
    boxes: np.ndarray
    landmarks: np.ndarray


class Pyramid:
    """Every level of every photo of a batch as one zero-padded (N, 3, H, W) uint8 tensor per level."""

    def __init__(self, images: list[np.ndarray], device: torch.device) -> None:
        self.sizes = [level_sizes(im.shape[1], im.shape[0]) for im in images]
        self.count = torch.tensor([len(s) for s in self.sizes], device=device)
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, image in enumerate(images):  # photos of one size are resized together
            groups.setdefault(image.shape, []).append(index)
        # (N, H, W, 3) uint8 seen as (N, 3, H, W) is channels-last: torch's fast 8-bit resize path (2x NCHW's).
        stacks = {shape: [torch.from_numpy(np.stack([images[i] for i in members])).to(device).permute(0, 3, 1, 2)]
                  for shape, members in groups.items()}
        for shape, levels in stacks.items():
            for width, height in self.sizes[groups[shape][0]][1:]:
                levels.append(resize(levels[-1], (height, width)))
        if len(groups) == 1:
            self.levels = next(iter(stacks.values()))
            return
        self.levels = []
        for level in range(max(len(s) for s in self.sizes)):  # zero-padded to the largest photo of the level
            height = max(s[level][1] for s in self.sizes if len(s) > level)
            width = max(s[level][0] for s in self.sizes if len(s) > level)
            self.levels.append(torch.zeros((len(images), height, width, 3), dtype=torch.uint8,
                                           device=device).permute(0, 3, 1, 2))
            for shape, members in groups.items():
                if len(stacks[shape]) > level:
                    part = stacks[shape][level]
                    self.levels[level][torch.tensor(members, device=device), :, :part.shape[2], :part.shape[3]] = part

    def valid(self, level: int) -> list[int]:
        """The photos that have ``level``."""
        return [i for i, s in enumerate(self.sizes) if len(s) > level]


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    """0..255 -> the nets' input range [-1, 1), channels last (the nets' memory format)."""
    return ((pixels.float() - 127.5) / 128.0).contiguous(memory_format=torch.channels_last)


def propose(pnet: PNet, pyramid: Pyramid, first: list[int], threshold: float) -> tuple[torch.Tensor, ...]:
    """P-Net over the levels of each photo from its ``first`` level on: (entry, probability, box) of the windows
    above ``threshold`` left by NMS within each level, then between levels, in photo coordinates."""
    device = pyramid.levels[0].device
    entries, probs, boxes = [], [], []
    for level, batch in enumerate(pyramid.levels):
        rows = [i for i in pyramid.valid(level) if first[i] <= level]
        if not rows:
            continue
        prob, offset = pnet(normalise(batch if len(rows) == len(batch) else batch[rows]))
        # Cells whose window reaches into another photo's padding: beyond (side - 2) / 2 - 4 (P-Net's valid size).
        limits = torch.tensor([[-(-(pyramid.sizes[i][level][k] - 2) // 2) - 4 for k in (1, 0)] for i in rows],
                              device=device)
        ys = torch.arange(prob.shape[1], device=device)
        xs = torch.arange(prob.shape[2], device=device)
        keep = (prob > threshold) & (ys[None, :, None] < limits[:, 0, None, None]) & \
            (xs[None, None, :] < limits[:, 1, None, None])
        n, y, x = keep.nonzero(as_tuple=True)
        corner = torch.stack([x, y, x, y], 1).float() * STRIDE
        box = corner + (offset[n, :, y, x] + torch.tensor([0.0, 0.0, 1.0, 1.0], device=device)) * WINDOW
        entry = torch.tensor(rows, device=device)[n]
        box, p = box.float(), prob[n, y, x]
        kept = batched_nms(box, p, entry, NMS_IOU)
        entries.append(entry[kept])
        probs.append(p[kept])
        boxes.append(box[kept] * PYRAMID_STEP ** level)
    if not entries:
        empty = torch.zeros(0, device=device)
        return empty.long(), empty, empty.reshape(0, 4)
    entry, prob, box = torch.cat(entries), torch.cat(probs), torch.cat(boxes)
    kept = batched_nms(box, prob, entry, NMS_IOU)
    return entry[kept], prob[kept], box[kept]


def square(box: torch.Tensor) -> torch.Tensor:
    """Boxes grown to squares of their longer side around their centres."""
    centre = (box[:, :2] + box[:, 2:]) / 2
    half = (box[:, 2:] - box[:, :2]).max(1).values[:, None] / 2
    return torch.cat([centre - half, centre + half], 1)


def crops(pyramid: Pyramid, entry: torch.Tensor, box: torch.Tensor, size: int) -> torch.Tensor:
    """The ``size`` x ``size`` net inputs of square boxes (inclusive corners), each read from the coarsest pyramid
    level that still has at least ``size`` pixels across it (cheap and sharp)."""
    span = torch.stack([box[:, 2] + 1 - box[:, 0], box[:, 3] + 1 - box[:, 1]], 1).round()
    level = closest_level(span.min(1).values / size, pyramid.count[entry])
    out = torch.empty((len(box), 3, size, size), device=box.device)
    for lv in level.unique().tolist():
        rows = (level == lv).nonzero(as_tuple=True)[0]
        corners = torch.cat([box[rows, :2], box[rows, 2:] + 1], 1)  # right and bottom exclusive
        corners = (corners * PYRAMID_STEP ** -lv).round().long()
        out[rows] = crop_resize(pyramid.levels[lv], entry[rows], corners, size)
    return normalise(out)


def place(relative: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """Net outputs relative to square ``box`` (x, y pairs in box units) -> photo coordinates."""
    size = (box[:, 2:] - box[:, :2]).repeat(1, relative.shape[1] // 2)
    return box[:, :2].repeat(1, relative.shape[1] // 2) + relative * size


@torch.inference_mode()
def detect_batch(nets: tuple[PNet, RNet, ONet], images: list[np.ndarray], min_face_size: float,
                 thresholds: tuple[float, float, float], device: torch.device) -> list[Found]:
    """Faces in each (H, W, 3) uint8 photo, before the caller's own size filter; photos smaller than 12 px give
    none."""
    pnet, rnet, onet = nets
    results = [Found(np.zeros(0, np.float32), np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32))
               for _ in images]
    usable = [i for i, im in enumerate(images) if min(im.shape[:2]) >= MIN_LEVEL_SIDE]
    if not usable:
        return results
    pyramid = Pyramid([images[i] for i in usable], device)
    start = np.log(min_face_size / MIN_LEVEL_SIDE) / np.log(PYRAMID_STEP)
    first = [min(len(s) - 1, max(0, int(np.floor(start)))) for s in pyramid.sizes]
    entry, prob, box = propose(pnet, pyramid, first, thresholds[0])
    marks = torch.zeros((0, 10), device=device)
    for stage, (net, size) in enumerate(((rnet, 24), (onet, 48)), start=1):
        if not len(box):
            break
        sq = square(box)
        out = net(crops(pyramid, entry, sq, size))
        keep = out[0] >= thresholds[stage]
        prob, entry, sq = out[0][keep], entry[keep], sq[keep]
        box = place(out[1][keep] + torch.tensor([0.0, 0.0, 1.0, 1.0], device=device), sq)
        if stage == 2:  # O-Net landmarks come as x1..x5, y1..y5
            marks = place(out[2][keep].reshape(-1, 2, 5).transpose(1, 2).reshape(-1, 10), sq)
        kept = batched_nms(box, prob, entry, NMS_IOU)
        entry, prob, box = entry[kept], prob[kept], box[kept]
        marks = marks[kept] if stage == 2 else marks
    entry_np, prob_np, box_np = entry.cpu().numpy(), prob.float().cpu().numpy(), box.float().cpu().numpy()
    marks_np = marks.float().cpu().numpy().reshape(-1, 5, 2)
    for k, index in enumerate(usable):
        sel = entry_np == k
        results[index] = Found(prob_np[sel], box_np[sel], marks_np[sel])
    return results
