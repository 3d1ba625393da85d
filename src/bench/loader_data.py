"""The loader benchmark's data: many 112 px face JPEGs as an image folder and as a packed ``.rec``, made quickly.

Rendering a synthetic face costs ~13 ms here, so 100,000 renders would take 20+ minutes on 2 shared cores. The set
renders ``base_faces`` faces once and stores ``copies`` variants of each: a per-copy colour offset (+-12 per
channel) and a horizontal shift (+-3 px), JPEG-encoded again (quality 95, 4:2:0 like Pillow's default), so every
record is a distinct JPEG of a face-like picture (~7 KB). The same bytes go to
``folder/<identity>/<n>.jpg`` and, through facerec-pack's writer (:func:`write_face_records`), to ``rec/train.rec``.
"""
from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import simplejpeg

from src.datamodules.image_decode import load_rgb
from src.datamodules.recordio.writer import write_face_records
from src.datamodules.synthetic_faces import render_synthetic_faces

log = logging.getLogger(__name__)

FACES_PER_IDENTITY = 10  # rendered faces per identity; all copies of an identity's faces share its label


def _variants(faces: list[tuple[np.ndarray, int]], copies: int, seed: int) -> Iterator[tuple[bytes, int]]:
    rng = np.random.default_rng(seed)
    for face, label in faces:
        offsets = rng.integers(-12, 13, size=(copies, 1, 1, 3))
        shifts = rng.integers(-3, 4, size=copies)
        for offset, shift in zip(offsets, shifts, strict=True):
            pixels = np.clip(np.roll(face, int(shift), axis=1).astype(np.int16) + offset, 0, 255).astype(np.uint8)
            yield simplejpeg.encode_jpeg(pixels, quality=95, colorsubsampling="420"), label


def make_loader_data(root: Path, base_faces: int, copies: int, seed: int = 0) -> tuple[Path, Path]:
    """``(image folder, rec folder)`` with ``base_faces * copies`` images; reused when already made."""
    params = {"base_faces": base_faces, "copies": copies, "seed": seed, "image_size": 112}
    marker = root / "loader_data.json"
    folder, rec = root / "folder", root / "rec"
    if marker.is_file() and json.loads(marker.read_text()) == params:
        return folder, rec
    identities = max(1, base_faces // FACES_PER_IDENTITY)
    rendered = render_synthetic_faces(root / "base", identities, FACES_PER_IDENTITY, 112, seed)
    people = sorted(path for path in rendered.iterdir() if path.is_dir())
    faces = [(np.asarray(load_rgb(path)), label) for label, person in enumerate(people)
             for path in sorted(person.glob("*.png"))][:base_faces]
    log.info("loader bench: writing %d JPEGs (%d faces x %d copies) to %s", len(faces) * copies, len(faces), copies,
             root)
    counts: dict[int, int] = {}

    def to_folder(stream: Iterator[tuple[bytes, int]]) -> Iterator[tuple[bytes, int]]:
        for data, label in stream:
            n = counts[label] = counts.get(label, -1) + 1
            path = folder / f"id_{label:05d}" / f"{n:05d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            yield data, label

    for stale in (folder, rec):  # a set of another size (or an interrupted one) must not leave files behind
        shutil.rmtree(stale, ignore_errors=True)
    rec.mkdir(parents=True)
    write_face_records(rec / "train.rec", to_folder(_variants(faces, copies, seed)), len(faces) * copies, identities)
    marker.write_text(json.dumps(params))
    return folder, rec
