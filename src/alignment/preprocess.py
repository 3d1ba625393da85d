"""Alignment as an image-preprocessing step for embedding: find the face of every photo once (in worker
processes), then hand the embedding loader an aligned crop per path instead of the photo."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from src.alignment.aligner import Alignment, FaceAligner
from src.alignment.template import similarity, warp
from src.alignment.workers import map_batches
from src.datamodules.face_dataset import load_rgb

log = logging.getLogger(__name__)
UNALIGNED: dict[str, Any] = {"aligned": False}  # the preprocessing record of galleries built from plain crops


def locate_many(paths: list[Path], aligner: FaceAligner) -> list[tuple[np.ndarray | None, str]]:
    """For each path, the similarity matrix (3x3) of the face ``aligner`` keeps, else ``None`` and why."""
    out: list[tuple[np.ndarray | None, str]] = [(None, "")] * len(paths)
    images = {}
    for k, path in enumerate(paths):
        try:
            images[k] = load_rgb(path)
        except Exception as error:  # PIL and the decoder raise many types for broken files
            out[k] = None, f"unreadable image: {type(error).__name__}: {error}"
    for k, result in zip(images, aligner.align_many(list(images.values())), strict=True):
        out[k] = _transform(result, aligner)
    return out


def _transform(result: Alignment, aligner: FaceAligner) -> tuple[np.ndarray | None, str]:
    if result.crops:
        return similarity(result.faces[0].landmarks, aligner.size, aligner.template).params, ""
    if result.status == "multiple_faces":
        return None, f"several faces: {result.detected} faces and alignment.multi_face=skip"
    border = f", {result.cut_by_border} cut by the border (alignment.allow_border=true keeps them)" \
        if result.cut_by_border else ""
    return None, (f"no face: none found with alignment.min_face_size={aligner.detector.min_face_size}{border}; "
                  "lower it for small faces, or use align=false for photos that are already face crops")


class AlignedLoader:
    """Path -> aligned RGB crop, the loader the embedding dataset calls instead of plain decoding.

    ``prepare`` detects faces once for many paths and keeps each face's transform, so loading only decodes and
    warps (also in DataLoader worker processes, which inherit the transforms). A path not prepared is detected
    on first load; one without a face raises ValueError.
    """

    def __init__(self, aligner: FaceAligner, workers: int = 0) -> None:
        if aligner.multi_face == "all":
            raise ValueError("alignment.multi_face=all gives several crops per photo; embedding takes one face "
                             "per photo: use largest or skip (or facerec-align first, then embed its output).")
        self.aligner = aligner
        self.workers = workers
        self.transforms: dict[Path, np.ndarray] = {}

    def prepare(self, paths: Sequence[Path]) -> list[tuple[Path, str]]:
        """Detect the faces of ``paths``; returns the ``(path, reason)`` pairs without a usable face."""
        todo = [Path(p) for p in paths if Path(p) not in self.transforms]
        skipped = []
        for path, (matrix, reason) in zip(todo, map_batches(locate_many, todo, self.aligner, self.workers),
                                          strict=True):
            if matrix is None:
                skipped.append((path, reason))
            else:
                self.transforms[path] = matrix
        return skipped

    def __call__(self, path: str | Path) -> Image.Image:
        path = Path(path)
        if path not in self.transforms:
            missing = self.prepare([path])
            if missing:
                raise ValueError(f"{path}: {missing[0][1]}")
        return warp(load_rgb(path), self.transforms[path], self.aligner.size)
