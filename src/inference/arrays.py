"""`facerec-embed`'s output: an image set as ``embeddings.npy`` + ``names.json`` (written by
:func:`src.gallery.arrays.gallery_arrays`) and ``skipped.json`` (path, reason)."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from src.embedding.model import FaceModel
from src.gallery.arrays import EMBEDDINGS_FILE, NAMES_FILE, gallery_arrays
from src.inference.images import ImageSet

SKIPPED_FILE = "skipped.json"


@dataclass
class EmbedResult:
    """Where the arrays went and how many images were embedded or skipped, how fast."""

    embeddings_file: str
    names_file: str
    skipped_file: str
    images: int
    skipped: int
    dim: int
    seconds: float
    images_per_sec: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def save_embeddings(model: FaceModel, images: ImageSet, out_dir: str | Path, batch_size: int = 64,
                    num_workers: int = 0) -> EmbedResult:
    """Stream ``images`` through ``model`` into ``out_dir/embeddings.npy`` (a memory map, so large folders
    never sit in memory), with ``names.json`` aligned to its rows and ``skipped.json`` (path, reason)."""
    out_dir = Path(out_dir)
    start = time.perf_counter()
    with gallery_arrays(out_dir, list(zip(images.paths, images.person_ids, strict=True)), model.dim) as out:
        model.embed(images.paths, batch_size, num_workers, out=out)
    seconds = time.perf_counter() - start
    skipped = [{"path": str(path), "reason": reason} for path, reason in images.skipped]
    (out_dir / SKIPPED_FILE).write_text(json.dumps(skipped, indent=1))
    return EmbedResult(embeddings_file=str(out_dir / EMBEDDINGS_FILE), names_file=str(out_dir / NAMES_FILE),
                       skipped_file=str(out_dir / SKIPPED_FILE), images=len(images.paths), skipped=len(skipped),
                       dim=model.dim, seconds=seconds, images_per_sec=len(images.paths) / max(seconds, 1e-9))
