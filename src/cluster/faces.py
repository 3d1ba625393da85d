"""Every face of a pile of photos, embedded: find the photos (any nesting), detect and align each face (a photo
with three people gives three faces), save each face's crop and embed it.

Results are cached per photo under ``<output>/cache/<model key>/`` keyed by the photo's content hash, so a run
on a large folder that stops (or a later run with more photos) embeds only the photos it has not seen.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from src.alignment.aligner import FaceAligner
from src.alignment.workers import map_batches
from src.datamodules.face_dataset import load_rgb
from src.datamodules.folder_scan import IMAGE_EXTENSIONS
from src.embedding.images import progress_bar
from src.embedding.model import FaceModel
from src.gallery.rows import content_digest

log = logging.getLogger(__name__)
CHUNK = 64  # photos detected and embedded between two cache writes: a stop loses at most this much work


@dataclass(frozen=True)
class FaceRecord:
    """One face: its id (``<photo hash>_<k>``), the photo it is in, its box there and its saved crop."""

    face: str
    image: str
    box: list[float]
    crop: str  # relative to the output dir


@dataclass
class FaceSet:
    """The faces found (rows of ``embeddings``) and the files skipped, with why."""

    faces: list[FaceRecord]
    embeddings: np.ndarray
    skipped: list[tuple[str, str]]
    photos: int

    def skipped_reasons(self) -> dict[str, int]:
        return dict(Counter(reason.split(":")[0] for _, reason in self.skipped))

    def summary(self) -> dict[str, Any]:
        return {"photos": self.photos, "faces": len(self.faces), "skipped_files": len(self.skipped),
                "skipped_reasons": self.skipped_reasons()}


def find_photos(root: str | Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Image files under ``root`` at any depth (sorted; hidden names left out) and the other files, skipped."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"input={root} is not a folder; pass input=<folder of photos (any nesting)>.")
    photos, skipped = [], []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(n for n in names if not n.startswith(".")):
            path = Path(folder) / name
            (photos if path.suffix.lower() in IMAGE_EXTENSIONS else skipped).append(path)
    return photos, [(str(p), "not an image file") for p in skipped]


Found = tuple[list[list[float]], list[np.ndarray], str]  # boxes, RGB crops, why there are none


def _no_face(aligner: FaceAligner, cut: int) -> str:
    border = f", {cut} cut by the border" if cut else ""
    return (f"no face: none found with alignment.min_face_size={aligner.detector.min_face_size}{border}; lower it "
            "for small faces, or align=false for photos that are already face crops")


def detect(paths: list[Path], aligner: FaceAligner | None) -> list[Found]:
    """Boxes and crops of every face of each photo (without ``aligner``: the whole image is the face), or why
    there is none. Module level: it runs in the aligner's worker processes, a batch of photos at a time."""
    images: dict[int, Image.Image] = {}
    found: list[Found] = []
    for k, path in enumerate(paths):
        try:
            images[k] = load_rgb(path)
            found.append(([[0.0, 0.0, float(images[k].width), float(images[k].height)]], [np.asarray(images[k])], ""))
        except Exception as error:  # PIL and the decoder raise many types for broken files
            found.append(([], [], f"unreadable image: {type(error).__name__}: {error}"))
    if aligner is None or not images:
        return found
    for k, result in zip(images, aligner.align_many(list(images.values())), strict=True):
        boxes = [[round(float(v), 1) for v in face.box] for face in result.faces]
        found[k] = (boxes, [np.asarray(crop) for crop in result.crops],
                    "" if result.crops else _no_face(aligner, result.cut_by_border))
    return found


class FaceCache:
    """Per-photo results under ``<output>/cache/<model key>/<digest>.json|.npy``; face crops under
    ``<output>/faces/<model key>/``."""

    def __init__(self, output: Path, key: str) -> None:
        self.output = output
        self.key = key
        self.folder = output / "cache" / key
        self.folder.mkdir(parents=True, exist_ok=True)
        (output / "faces" / key).mkdir(parents=True, exist_ok=True)

    def crop(self, digest: str, k: int) -> str:
        """Where the ``k``-th face of a photo is saved, relative to the output dir."""
        return f"faces/{self.key}/{digest}_{k}.png"

    def load(self, digest: str) -> tuple[dict[str, Any], np.ndarray] | None:
        meta = self.folder / f"{digest}.json"
        if not meta.exists():
            return None
        record = json.loads(meta.read_text())
        vectors = np.load(self.folder / f"{digest}.npy") if record["boxes"] else None
        return record, vectors

    def save(self, digest: str, boxes: list[list[float]], crops: list[np.ndarray], vectors: np.ndarray | None,
             reason: str) -> None:
        for k, crop in enumerate(crops):
            Image.fromarray(crop).save(self.output / self.crop(digest, k))
        if vectors is not None:
            np.save(self.folder / f"{digest}.npy", vectors.astype(np.float32))
        # written last: a photo counts as done only when its crops and vectors are on disk
        (self.folder / f"{digest}.json").write_text(json.dumps({"boxes": boxes, "reason": reason}))


def model_key(model: FaceModel, aligner: FaceAligner | None) -> str:
    """What the cached vectors depend on: the model, its TTA mode and the face-finding options."""
    options = {"model": model.model_id, "tta": model.tta_mode, "align": aligner.options if aligner else None}
    return hashlib.blake2b(json.dumps(options, sort_keys=True).encode(), digest_size=8).hexdigest()


def every_face_aligner(model: FaceModel) -> FaceAligner | None:
    """The model's aligner (its template and detector options) keeping every face of a photo, or None."""
    if model.aligned is None:
        return None
    aligner = copy.copy(model.aligned.aligner)
    aligner.multi_face = "all"
    return aligner


def _chunks(items: Sequence[Path], size: int) -> Iterator[Sequence[Path]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def embed_faces(model: FaceModel, root: str | Path, output: Path, workers: int = 0, batch_size: int = 64) -> FaceSet:
    """Every face under ``root`` embedded with ``model`` (see the module docstring); photos done in an earlier run
    are read from the cache."""
    photos, skipped = find_photos(root)
    aligner = every_face_aligner(model)
    cache = FaceCache(output, model_key(model, aligner))
    digests = {path: content_digest(path) for path in photos}
    todo = [path for path in photos if cache.load(digests[path]) is None]
    if len(todo) < len(photos):
        log.info("%d of %d photos are cached (%s); detecting and embedding %d.", len(photos) - len(todo),
                 len(photos), cache.folder, len(todo))
    processes = workers or os.cpu_count() or 1
    with progress_bar("finding and embedding faces") as progress:
        task = progress.add_task("faces", total=len(todo))
        for chunk in _chunks(todo, CHUNK):
            found = list(detect(list(chunk), None)) if aligner is None else list(
                map_batches(detect, list(chunk), aligner, processes))
            crops = [Image.fromarray(crop) for _, photo_crops, _ in found for crop in photo_crops]
            vectors = model.embed_images(crops, batch_size) if crops else np.zeros((0, model.dim), np.float32)
            start = 0
            for path, (boxes, photo_crops, reason) in zip(chunk, found, strict=True):
                part = vectors[start:start + len(photo_crops)] if photo_crops else None
                cache.save(digests[path], boxes, photo_crops, part, reason)
                start += len(photo_crops)
            progress.advance(task, len(chunk))
    return _assemble(photos, digests, cache, skipped)


def _assemble(photos: Sequence[Path], digests: dict[Path, str], cache: FaceCache,
              skipped: list[tuple[str, str]]) -> FaceSet:
    faces: list[FaceRecord] = []
    parts: list[np.ndarray] = []
    seen: dict[str, str] = {}
    for path in photos:
        digest = digests[path]
        if digest in seen:  # the same photo twice would make its faces their own perfect neighbours
            skipped.append((str(path), f"duplicate: same content as {seen[digest]}"))
            continue
        seen[digest] = str(path)
        record, vectors = cache.load(digest)  # type: ignore[misc]
        if not record["boxes"]:
            skipped.append((str(path), record["reason"]))
            continue
        faces += [FaceRecord(f"{digest}_{k}", str(path), box, cache.crop(digest, k))
                  for k, box in enumerate(record["boxes"])]
        parts.append(vectors)
    if not faces:
        raise ValueError(f"No face found in any photo under the input ({len(photos)} photos, {len(skipped)} files "
                         "skipped). Pass photos with visible faces, align=true for raw photos, or lower "
                         "alignment.min_face_size for small faces.")
    return FaceSet(faces, np.concatenate(parts).astype(np.float32), skipped, len(photos))


def face_dicts(faces: Sequence[FaceRecord]) -> list[dict[str, Any]]:
    return [asdict(face) for face in faces]
