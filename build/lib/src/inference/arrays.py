"""Write embeddings of an image set as ``embeddings.npy`` (rows) and ``names.json`` (row -> person_id, image_path)."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from src.inference.images import ImageSet
from src.inference.model import FaceModel


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
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {name: out_dir / name for name in ("embeddings.npy", "names.json", "skipped.json")}
    arrays = np.lib.format.open_memmap(files["embeddings.npy"], mode="w+", dtype=np.float32,
                                       shape=(len(images.paths), model.dim))
    start = time.perf_counter()
    for embeddings, index in model.stream(images.paths, batch_size, num_workers):
        arrays[index] = embeddings
    arrays.flush()
    seconds = time.perf_counter() - start
    names = [{"person_id": person, "image_path": str(path.resolve())}
             for path, person in zip(images.paths, images.person_ids)]
    files["names.json"].write_text(json.dumps(names, indent=1))
    skipped = [{"path": str(path), "reason": reason} for path, reason in images.skipped]
    files["skipped.json"].write_text(json.dumps(skipped, indent=1))
    return EmbedResult(embeddings_file=str(files["embeddings.npy"]), names_file=str(files["names.json"]),
                       skipped_file=str(files["skipped.json"]), images=len(images.paths), skipped=len(skipped),
                       dim=model.dim, seconds=seconds, images_per_sec=len(images.paths) / max(seconds, 1e-9))
