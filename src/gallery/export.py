"""Embed gallery images with flip TTA and upsert them into the Milvus collection, streaming in batches."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from src.embedding.checkpoint import LoadedEmbedder
from src.embedding.images import stream_embeddings
from src.embedding.tta import TTAEmbedder
from src.vector_store import MilvusStore

log = logging.getLogger(__name__)


@dataclass
class ExportResult:
    """What an export did: rows written, rows now in the collection, speed and where it went."""

    uri: str
    collection: str
    images: int
    rows_in_collection: int
    dim: int
    tta_mode: str
    seconds: float
    images_per_sec: float
    embeddings_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_id(loaded: LoadedEmbedder) -> str:
    """How a collection remembers its model: architecture and checkpoint content hash."""
    family = "iresnet" if getattr(loaded.model, "arch", "") == "iresnet" else "resnet"  # torchvision ids unchanged
    return f"{family}{loaded.model.depth}-{loaded.model.embedding_dim}d@{loaded.fingerprint}"


def export_gallery(
    loaded: LoadedEmbedder,
    gallery: list[tuple[Path, str]],
    milvus_cfg: Mapping[str, Any],
    image_size: int,
    tta_mode: str = "concat",
    batch_size: int = 64,
    num_workers: int = 0,
    arrays_dir: Path | None = None,
) -> ExportResult:
    """Embed ``(image path, person_id)`` pairs and upsert them keyed by image path.

    Embeddings go to Milvus batch by batch; with ``arrays_dir`` they are also written as
    ``embeddings.npy`` (rows in gallery order) and ``names.json`` (row -> person_id, image_path).
    """
    embedder = TTAEmbedder(loaded.model, mode=tta_mode)
    paths = [Path(p) for p, _ in gallery]
    people = [person for _, person in gallery]
    arrays = np.lib.format.open_memmap(arrays_dir / "embeddings.npy", mode="w+", dtype=np.float32,
                                       shape=(len(paths), embedder.dim)) if arrays_dir else None
    start = time.perf_counter()
    with MilvusStore.from_config(milvus_cfg) as store:
        store.ensure_collection(embedder.dim, model_id=model_id(loaded), tta_mode=tta_mode,
                                extra={"checkpoint": loaded.checkpoint, "image_size": image_size})
        for embeddings, index in stream_embeddings(embedder, paths, image_size, batch_size, num_workers,
                                                   description="exporting gallery"):
            store.upsert([str(paths[i].resolve()) for i in index], [people[i] for i in index], embeddings,
                         flush=False)
            if arrays is not None:
                arrays[index] = embeddings
        store.publish()
        rows = store.count()
        seconds = time.perf_counter() - start
        result = ExportResult(
            uri=store.settings.display_uri, collection=store.collection_name, images=len(paths),
            rows_in_collection=rows, dim=embedder.dim, tta_mode=tta_mode, seconds=seconds,
            images_per_sec=len(paths) / max(seconds, 1e-9),
        )
    if arrays is not None:
        arrays.flush()
        names = [{"person_id": person, "image_path": str(path.resolve())} for path, person in zip(paths, people)]
        (arrays_dir / "names.json").write_text(json.dumps(names, indent=1))
        result.embeddings_file = str(arrays_dir / "embeddings.npy")
    log.info("Exported %d images to %s (collection %s, %d rows) in %.1fs (%.1f images/s).", result.images,
             result.uri, result.collection, rows, seconds, result.images_per_sec)
    return result


def gallery_from_datamodule(datamodule: Any, identities: str = "all") -> list[tuple[Path, str]]:
    """``(path, person_id)`` of every usable image of the chosen identities (``all``, ``train``, ``held_out``)
    of a set-up face datamodule, in a stable order."""
    chosen = datamodule.select_identities(identities)
    return [(path, person) for person in sorted(chosen) for path in chosen[person]]
