"""The ArcFace five-point template and the similarity transform that maps detected landmarks onto it."""
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


def template(size: int) -> np.ndarray:
    """The five template points for a ``size`` x ``size`` crop (the 112 template scaled)."""
    if size < 16:
        raise ValueError(f"Aligned face size {size} is too small; use at least 16 (the model's input size).")
    return ARCFACE_112 * (size / 112.0)


def similarity(landmarks: np.ndarray, size: int) -> SimilarityTransform:
    """Least-squares similarity transform (rotation, uniform scale, translation) from image landmarks
    ``(5, 2)`` to the template of a ``size`` crop."""
    transform = SimilarityTransform.from_estimate(np.asarray(landmarks, np.float64), template(size))
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
