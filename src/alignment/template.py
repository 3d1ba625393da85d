"""The five-point templates (ArcFace 112 px, dlib's 150 px chip) and the similarity transform that maps detected
landmarks onto one."""
from __future__ import annotations

import numpy as np
from PIL import Image
from skimage.transform import SimilarityTransform

TEMPLATE_NAME = "arcface-5pt-112"
# Eye centres, nose tip and mouth corners (image left first) in a 112x112 crop: the template InsightFace's
# ArcFace models are trained on, and the one face-recognition crops in the field follow.
ARCFACE_112 = np.array([
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
], dtype=np.float64)

DLIB_TEMPLATE_NAME = "dlib-5pt-150"
# dlib's 150 px chip (get_face_chip, padding 0.25, from its own detector and 5 landmarks) in the project
# detector's points: the mean MTCNN landmarks on dlib's chips of 145 ORL photos of 15 people (src/bench/dlib_chips.py,
# docs/performance/dlib_alignment.json); per-point std 1.6 px (eyes) to 4.7 px (mouth corners).
DLIB_150 = np.array([
    [46.24, 45.32],
    [101.96, 45.26],
    [73.93, 74.29],
    [50.86, 101.91],
    [96.83, 102.15],
], dtype=np.float64)
TEMPLATES: dict[str, tuple[np.ndarray, int]] = {TEMPLATE_NAME: (ARCFACE_112, 112), DLIB_TEMPLATE_NAME: (DLIB_150, 150)}
TEMPLATE_ALIASES = {"arcface": TEMPLATE_NAME, "dlib": DLIB_TEMPLATE_NAME}


def template_name(name: str) -> str:
    """The full template name of ``arcface`` / ``dlib`` (or of a full name)."""
    full = TEMPLATE_ALIASES.get(name, name)
    if full not in TEMPLATES:
        raise ValueError(f"Unknown alignment template {name!r}; set alignment.template=arcface or dlib.")
    return full


def template(size: int, name: str = TEMPLATE_NAME) -> np.ndarray:
    """The five points of template ``name`` for a ``size`` x ``size`` crop (the template scaled)."""
    if size < 16:
        raise ValueError(f"Aligned face size {size} is too small; use at least 16 (the model's input size).")
    points, side = TEMPLATES[template_name(name)]
    return points * (size / side)


def similarity(landmarks: np.ndarray, size: int, name: str = TEMPLATE_NAME) -> SimilarityTransform:
    """Least-squares similarity transform (rotation, uniform scale, translation) from image landmarks
    ``(5, 2)`` to template ``name`` at a ``size`` crop."""
    transform = SimilarityTransform.from_estimate(np.asarray(landmarks, np.float64), template(size, name))
    if not transform:
        raise ValueError(f"Degenerate landmarks (cannot fit a similarity transform): {landmarks.tolist()}")
    return transform


def warp(image: Image.Image, matrix: np.ndarray, size: int) -> Image.Image:
    """The ``size`` x ``size`` RGB crop that ``matrix`` (3x3, photo -> crop pixels) maps ``image`` onto; outside
    the photo is black.

    PIL samples only the output pixels, so a huge photo is never converted to a float array.
    """
    # Landmarks are pixel indices; PIL's AFFINE maps output to input in continuous coordinates, where pixel i
    # spans [i, i + 1): shift by half a pixel on both sides so scaled crops do not drift by up to 0.5 px.
    half = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    inverse = np.linalg.inv(half @ matrix @ np.linalg.inv(half))  # output -> source, as PIL expects
    return image.transform((size, size), Image.Transform.AFFINE, data=tuple(inverse[:2].ravel()),
                           resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
