"""The previous detector, kept only as the reference the project's MTCNN is compared with: faceie's NumPy MTCNN
(GPL-3.0, in the ``dev`` extra), one photo at a time, behind the same ``FaceDetector`` interface and options.
Imported only by ``facerec-bench align`` (when faceie is installed) and tests/test_detector.py."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from faceie.mtcnn import detect_faces
from PIL import Image

from src.alignment.detector import PNET_WINDOW, Face, FaceDetector


class FaceieDetector(FaceDetector):
    """``FaceDetector`` answered by faceie's ``detect_faces`` (what ``detect`` did before the own MTCNN)."""

    def _detect_batch(self, images: Sequence[Image.Image]) -> list[list[Face]]:
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: Image.Image) -> list[Face]:
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

