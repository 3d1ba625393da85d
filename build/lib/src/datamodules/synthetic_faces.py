"""Deterministic synthetic identities: face-like drawings with per-identity geometry and colours.

Each identity fixes the face shape, skin/hair/eye/background colours and the layout of eyes, brows, nose
and mouth. Each image of it varies pose (rotation, shift, scale), lighting (brightness and a gradient),
expression (mouth curve, eye opening) and sensor noise. Nothing is downloaded; the same seed gives the same
pixels, so the whole pipeline can run on a fresh machine.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

log = logging.getLogger(__name__)

_CANVAS = 112


def _identity_params(rng: np.random.Generator) -> dict:
    return {
        "face_w": rng.uniform(0.30, 0.40), "face_h": rng.uniform(0.40, 0.48),
        "skin": rng.uniform(60, 235, 3), "hair": rng.uniform(0, 160, 3), "iris": rng.uniform(0, 200, 3),
        "hair_h": rng.uniform(0.05, 0.22),
        "eye_dx": rng.uniform(0.11, 0.18), "eye_y": rng.uniform(-0.10, 0.0), "eye_r": rng.uniform(0.035, 0.06),
        "brow_tilt": rng.uniform(-0.04, 0.04), "brow_w": rng.integers(1, 5),
        "nose_len": rng.uniform(0.08, 0.18), "nose_w": rng.uniform(0.02, 0.06),
        "mouth_w": rng.uniform(0.10, 0.22), "mouth_y": rng.uniform(0.18, 0.27),
        "beard": rng.random() < 0.3, "glasses": rng.random() < 0.25,
    }


def _draw_face(p: dict, rng: np.random.Generator) -> Image.Image:
    c = _CANVAS
    image = Image.new("RGB", (c, c), tuple(int(v) for v in rng.uniform(0, 255, 3)))
    d = ImageDraw.Draw(image)
    cx, cy = c / 2, c / 2 + 4

    def box(x: float, y: float, rx: float, ry: float) -> tuple[float, float, float, float]:
        return (cx + (x - rx) * c, cy + (y - ry) * c, cx + (x + rx) * c, cy + (y + ry) * c)

    skin = tuple(int(v) for v in p["skin"])
    hair = tuple(int(v) for v in p["hair"])
    d.ellipse(box(0, -p["face_h"] + p["hair_h"] / 2, p["face_w"] + 0.02, p["hair_h"] + 0.06), fill=hair)
    d.ellipse(box(0, 0, p["face_w"], p["face_h"]), fill=skin)
    if p["beard"]:
        d.chord(box(0, 0.05, p["face_w"], p["face_h"] - 0.05), 20, 160, fill=hair)
    openness = rng.uniform(0.4, 1.0)
    for side in (-1, 1):
        ex, ey, er = side * p["eye_dx"], p["eye_y"], p["eye_r"]
        d.ellipse(box(ex, ey, er * 1.4, er * openness), fill=(245, 245, 245))
        d.ellipse(box(ex, ey, er * 0.6, er * 0.6 * openness), fill=tuple(int(v) for v in p["iris"]))
        by = ey - er * 1.8
        d.line([cx + (ex - er * 1.5) * c, cy + (by + side * p["brow_tilt"]) * c,
                cx + (ex + er * 1.5) * c, cy + (by - side * p["brow_tilt"]) * c], fill=hair, width=int(p["brow_w"]))
        if p["glasses"]:
            d.ellipse(box(ex, ey, er * 2.0, er * 1.7), outline=(20, 20, 20), width=2)
    shade = tuple(int(v * 0.75) for v in p["skin"])
    d.polygon([(cx, cy + (p["eye_y"] + 0.03) * c), (cx - p["nose_w"] * c, cy + (p["eye_y"] + p["nose_len"]) * c),
               (cx + p["nose_w"] * c, cy + (p["eye_y"] + p["nose_len"]) * c)], fill=shade)
    smile = rng.uniform(-0.03, 0.06)
    mw, my = p["mouth_w"], p["mouth_y"]
    d.line([cx - mw * c, cy + (my - smile) * c, cx, cy + (my + smile) * c, cx + mw * c, cy + (my - smile) * c],
           fill=(150, 40, 50), width=3, joint="curve")
    return image


def _vary(image: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """Pose, lighting and noise on top of one drawing."""
    scale = rng.uniform(0.9, 1.1)
    image = image.rotate(rng.uniform(-12, 12), resample=Image.BILINEAR,
                         translate=tuple(rng.uniform(-5, 5, 2)), fillcolor=image.getpixel((0, 0)))
    size = int(_CANVAS * scale)
    image = image.resize((size, size), Image.BILINEAR)
    pad = abs(size - _CANVAS) // 2
    image = image.crop((pad, pad, pad + _CANVAS, pad + _CANVAS)) if size >= _CANVAS else _paste_center(image)
    pixels = np.asarray(image, dtype=np.float32)
    ramp = np.linspace(-1, 1, _CANVAS, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    gradient = np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None]
    light = rng.uniform(0.7, 1.2) + rng.uniform(0, 0.25) * gradient
    pixels = pixels * light[..., None] + rng.normal(0, rng.uniform(2, 10), pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _paste_center(image: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (_CANVAS, _CANVAS), image.getpixel((0, 0)))
    offset = (_CANVAS - image.size[0]) // 2
    canvas.paste(image, (offset, offset))
    return canvas


def render_synthetic_faces(
    root: str | Path, num_identities: int, images_per_identity: int, image_size: int = 112, seed: int = 0
) -> Path:
    """Write ``root/id_XXXXX/NNN.png`` for every identity and image; skip when already rendered.

    A ``.synthetic.json`` marker with the parameters is written last, so an interrupted render is redone.
    """
    root = Path(root)
    params = {"num_identities": num_identities, "images_per_identity": images_per_identity,
              "image_size": image_size, "seed": seed}
    marker = root / ".synthetic.json"
    if marker.is_file() and json.loads(marker.read_text()) == params:
        return root
    log.info("Rendering %d synthetic identities x %d images into %s", num_identities, images_per_identity, root)
    for identity in range(num_identities):
        identity_rng = np.random.default_rng([seed, identity])
        face = _identity_params(identity_rng)
        folder = root / f"id_{identity:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(images_per_identity):
            rng = np.random.default_rng([seed, identity, n + 1])
            pixels = _vary(_draw_face(face, rng), rng)
            image = Image.fromarray(pixels)
            if image_size != _CANVAS:
                image = image.resize((image_size, image_size), Image.BILINEAR)
            image.save(folder / f"{n:03d}.png")
    marker.write_text(json.dumps(params))
    return root
