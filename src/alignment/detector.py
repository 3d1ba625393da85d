"""Face detection with five landmarks: the project's batched PyTorch MTCNN (src/alignment/mtcnn.py) with the
MIT-licensed weights shipped in the package (``weights/mtcnn.pt``), on the CPU or a CUDA GPU."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.ops import nms

from src.alignment.mtcnn import Found, detect_batch
from src.alignment.mtcnn_nets import load_nets

# P-Net scans 12x12 windows; the pyramid level it starts on sets the smallest face it can see.
PNET_WINDOW = 12
ROTATION_IOU = 0.25  # overlapping faces (also found at several search angles) are one face
DEVICES = ("cpu", "cuda", "auto")


@dataclass(frozen=True)
class Face:
    """One detected face in the coordinates of the photo it was found in."""

    box: np.ndarray  # (4,) x1, y1, x2, y2
    landmarks: np.ndarray  # (5, 2) eye centres, nose tip, mouth corners; image-left first
    confidence: float

    @property
    def size(self) -> float:
        """The longer side of the box in pixels (what ``min_face_size`` compares with)."""
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    def scaled(self, factor: float) -> Face:
        return Face(self.box * factor, self.landmarks * factor, self.confidence)

    def inside(self, width: int, height: int) -> bool:
        """True when all five landmarks lie in the photo (a face cut by the border has some outside)."""
        x, y = self.landmarks[:, 0], self.landmarks[:, 1]
        return bool((x >= 0).all() and (y >= 0).all() and (x < width).all() and (y < height).all())


def pick_device(device: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (CUDA when present) -> a torch device; CUDA asked for but absent is refused."""
    if device not in DEVICES:
        raise ValueError(f"alignment.device={device!r}: use one of {', '.join(DEVICES)}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("alignment.device=cuda but torch sees no CUDA GPU; use alignment.device=cpu (or auto).")
    return torch.device(device)


def _turn(points: np.ndarray, angle: float, source: tuple[int, int], target: tuple[int, int]) -> np.ndarray:
    """(..., 2) points of a photo of size ``source`` rotated by ``angle`` radians about its centre, in the
    coordinates of the unrotated photo of size ``target`` (PIL's ``rotate(expand=True)`` undone)."""
    c, s = np.cos(angle), np.sin(angle)
    p = points - np.array(source, np.float64) / 2
    return np.stack([c * p[..., 0] - s * p[..., 1], s * p[..., 0] + c * p[..., 1]], -1) + np.array(target) / 2


class FaceDetector:
    """MTCNN with the thresholds, smallest face and search rotations as options.

    Args:
        min_face_size: smallest face (box side, pixels of the detection copy) to look for and to keep.
            Smaller values search finer pyramid levels and cost time.
        thresholds: P-, R- and O-Net face probabilities a candidate must reach.
        rotations_deg: in-plane angles the photo is searched at. Measured on pasted ORL faces: ``[0]`` found
            31/33 tilted up to 30 degrees, 13/16 at 30-45, 3/11 at 45-60; ``[-45, 0, 45]`` found 59/60 up to
            60 degrees at about 3x the time.
        max_side: photos are detected on a copy whose longer side is at most this (bounded time and memory);
            the landmarks are scaled back, and the crop is warped from the full-resolution photo.
        device: ``cpu``, ``cuda`` or ``auto`` (CUDA when torch sees a GPU).
        batch_size: photos ``detect_many`` runs through the networks together (memory: about 2 x 3 bytes per
            pixel of the detection copies of one batch, on the device). On the CPU 8 was fastest per CPU-second
            (3.7x faceie on 640x480 scenes; 32: 3.5x, 1: 2.5x).
    """

    def __init__(self, min_face_size: int = 40, thresholds: Sequence[float] = (0.6, 0.7, 0.8),
                 rotations_deg: Sequence[float] = (0.0,), max_side: int = 1024, device: str = "cpu",
                 batch_size: int = 8) -> None:
        if min_face_size < PNET_WINDOW:
            raise ValueError(f"min_face_size={min_face_size} is below MTCNN's {PNET_WINDOW}-pixel window; "
                             f"use align.min_face_size>={PNET_WINDOW} (upscale tiny photos first).")
        if len(thresholds) != 3 or not all(0.0 < t < 1.0 for t in thresholds):
            raise ValueError(f"thresholds={list(thresholds)}: give three probabilities in (0, 1) for P-, R-, O-Net.")
        if batch_size < 1:
            raise ValueError(f"alignment.batch_size={batch_size}: give at least 1.")
        self.min_face_size = int(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.rotations_deg = [float(a) for a in rotations_deg]
        self.max_side = int(max_side)
        self.device = pick_device(device)
        self.batch_size = int(batch_size)
        self._nets = load_nets(self.device)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_nets": None}  # worker processes load their own copy

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._nets = load_nets(self.device)

    @property
    def options(self) -> dict[str, Any]:
        """The settings that change what is found (recorded in reports; a re-run resumes only with the same)."""
        return {"min_face_size": self.min_face_size, "thresholds": list(self.thresholds),
                "rotations_deg": self.rotations_deg, "max_side": self.max_side}

    def detection_copy(self, image: Image.Image) -> tuple[Image.Image, float]:
        """``image`` shrunk to ``max_side`` (or itself) and the factor from its coordinates to the photo's."""
        longest = max(image.size)
        if longest <= self.max_side:
            return image, 1.0
        factor = longest / self.max_side
        size = (max(1, round(image.width / factor)), max(1, round(image.height / factor)))
        return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0), factor

    def detect(self, image: Image.Image) -> list[Face]:
        """Faces in an RGB photo, largest first, in the photo's pixel coordinates."""
        return self.detect_many([image])[0]

    def detect_many(self, images: Sequence[Image.Image]) -> list[list[Face]]:
        """``detect`` for many photos, ``batch_size`` at a time through the networks (same answers)."""
        out: list[list[Face]] = []
        for start in range(0, len(images), self.batch_size):
            out.extend(self._detect_batch(images[start:start + self.batch_size]))
        return out

    def _detect_batch(self, images: Sequence[Image.Image]) -> list[list[Face]]:
        copies = [self.detection_copy(im if im.mode == "RGB" else im.convert("RGB")) for im in images]
        turned = [[small if angle == 0 else small.rotate(angle, Image.Resampling.BICUBIC, expand=True)
                   for angle in self.rotations_deg] for small, _ in copies]
        found = detect_batch(self._nets, [np.asarray(t) for views in turned for t in views], self.min_face_size,
                             self.thresholds, self.device)
        per_view = len(self.rotations_deg)
        return [self._faces([found[i * per_view + k] for k in range(per_view)], turned[i], small, factor)
                for i, (small, factor) in enumerate(copies)]

    def _faces(self, found: list[Found], views: list[Image.Image], small: Image.Image, factor: float) -> list[Face]:
        """One photo's detections at every search angle, in its own coordinates, overlaps merged, filtered by size
        and sorted largest first."""
        probs, boxes, marks, squares = [], [], [], []
        for result, view, angle in zip(found, views, np.radians(self.rotations_deg), strict=True):
            corners = result.boxes.reshape(-1, 2, 2).astype(np.float64)
            points = result.landmarks.astype(np.float64)
            side = (corners[:, 1] - corners[:, 0]).max(1, keepdims=True) / 2
            centre = corners.mean(1)
            if angle != 0:
                corners, points = (_turn(p, angle, view.size, small.size) for p in (corners, points))
                centre = _turn(centre, angle, view.size, small.size)
            probs.append(result.probabilities)
            boxes.append(corners.reshape(-1, 4))
            marks.append(points)
            squares.append(np.concatenate([centre - side, centre + side], 1))
        prob = np.concatenate(probs)
        keep = nms(torch.from_numpy(np.concatenate(squares)), torch.from_numpy(prob).double(), ROTATION_IOU).numpy()
        faces = [Face(box, mark, float(p)).scaled(factor) for box, mark, p in
                 zip(np.concatenate(boxes)[keep], np.concatenate(marks)[keep], prob[keep], strict=True)]
        faces = [f for f in faces if f.size >= self.min_face_size * factor]
        return sorted(faces, key=lambda f: f.size, reverse=True)
