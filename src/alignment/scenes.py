"""Test scenes for detection and alignment: face photos pasted onto face-free backgrounds at a random scale,
rotation and position (scikit-image's bundled photos as backgrounds, so nothing is downloaded), and the pixel
descriptor that compares aligned crops."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from skimage import data

# Bundled scikit-image photos without faces (the cameraman and astronaut photos have one).
BACKGROUNDS = ("coffee", "rocket", "brick", "grass", "gravel", "hubble_deep_field")


def background(index: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """The ``index``-th face-free background (cycling), resized to ``size`` (width, height) RGB."""
    return Image.fromarray(getattr(data, BACKGROUNDS[index % len(BACKGROUNDS)])()).convert("RGB").resize(
        size, Image.Resampling.BILINEAR)


@dataclass(frozen=True)
class Placement:
    """How a face photo was pasted: scale of its width, degrees counter-clockwise, top-left corner."""

    scale: float
    angle: float
    x: int
    y: int


def paste(face: Image.Image, scene: Image.Image, placement: Placement) -> Image.Image:
    """A copy of ``scene`` with ``face`` scaled, rotated (only photo pixels, no black corners) and pasted."""
    face = face.convert("RGB")
    size = (round(face.width * placement.scale), round(face.height * placement.scale))
    face = face.resize(size, Image.Resampling.BICUBIC)
    mask = Image.new("L", size, 255).rotate(placement.angle, Image.Resampling.BILINEAR, expand=True)
    face = face.rotate(placement.angle, Image.Resampling.BICUBIC, expand=True)
    out = scene.copy()
    out.paste(face, (placement.x, placement.y), mask)
    return out


def random_scene(face: Image.Image, index: int, rng: np.random.Generator, scale: tuple[float, float] = (1.0, 2.5),
                 max_angle: float = 20.0, size: tuple[int, int] = (640, 480)) -> tuple[Image.Image, Placement]:
    """``face`` pasted whole onto background ``index`` at a random scale, angle and position."""
    s = float(rng.uniform(*scale))
    angle = float(rng.uniform(-max_angle, max_angle))
    theta = np.radians(abs(angle))
    w, h = face.width * s, face.height * s
    rotated = (w * np.cos(theta) + h * np.sin(theta), w * np.sin(theta) + h * np.cos(theta))
    x = int(rng.integers(0, max(1, int(size[0] - rotated[0]))))
    y = int(rng.integers(0, max(1, int(size[1] - rotated[1]))))
    placement = Placement(s, angle, x, y)
    return paste(face, background(index, size), placement), placement


# The face area of a 112 crop (eyebrows to chin, between the cheeks): around the five landmarks, away from the
# corners where a tight face photo (ORL: 92x112) ends and a scene's background begins.
FACE_AREA = (slice(28, 104), slice(20, 92))


def face_vector(crop: Image.Image) -> np.ndarray:
    """Zero-mean unit-norm grey pixels of a 112 crop's face area: the dot product of two is their pixel
    correlation (alignment consistency), and nearest neighbours give a plain pixel identification."""
    x = np.asarray(crop.convert("L"), np.float64)[FACE_AREA].ravel()
    x = x - x.mean()
    return x / np.linalg.norm(x)
