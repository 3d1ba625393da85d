"""Export a gallery: embed ``(image path, person_id)`` pairs with flip TTA into the Milvus collection, streaming
in batches (``facerec-export`` and the end-of-training callback).

An export is a sync of its source folder: rows are keyed by path relative to the data root plus content
(:func:`src.vector_store.row_id`), so a moved dataset maps onto the same rows, and with ``prune`` (the default) the
collection's rows that this export did not write (images deleted, edited or moved out of the folder, people
removed, and rows enrolled from elsewhere into this collection) are deleted afterwards. ``gallery.prune=false``
keeps them.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from src.embedding.model import FaceModel
from src.gallery.arrays import EMBEDDINGS_FILE, gallery_arrays
from src.gallery.face_gallery import FaceGallery
from src.vector_store import row_id

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
    no_face: int = 0  # align=true: photos without a usable face, left out (paths in the log)
    rows_added: int = 0  # keys this export wrote that were not in the collection
    rows_updated: int = 0  # keys it rewrote (the same image from the same relative path)
    rows_pruned: int = 0  # rows not written by this export, deleted (prune=true)
    rows_kept: int = 0  # rows not written by this export, kept (prune=false)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_gallery(
    model: FaceModel, gallery: list[tuple[Path, str]], milvus_cfg: Mapping[str, Any] | str, batch_size: int = 64,
    num_workers: int = 0, arrays_dir: Path | None = None, root: Path | None = None, prune: bool = True,
) -> ExportResult:
    """Embed ``(image path, person_id)`` pairs and upsert them keyed by :func:`row_id` relative to ``root`` (the
    data root; default: each image's folder's parent), creating the collection (or checking that an
    existing one was built with this model and TTA mode). With ``prune``, rows this export did not write are
    deleted after the upserts (so searches keep answering while it runs).

    With ``arrays_dir`` the embeddings are also written as ``embeddings.npy`` (rows in gallery order) and
    ``names.json`` (row -> person_id, image_path).
    """
    start = time.perf_counter()
    with FaceGallery.open(model, milvus_cfg, create=True) as target:  # connects and checks before embedding
        gallery, no_face = _with_faces(model, gallery)
        ids = _row_ids(gallery, root)
        before = target.store.all_ids()
        arrays = gallery_arrays(arrays_dir, gallery, model.dim) if arrays_dir else contextlib.nullcontext()
        with arrays as out:
            target.add(gallery, batch_size, num_workers, out=out, description="exporting gallery", ids=ids)
        stale = before - set(ids)
        pruned = target.store.delete_ids(stale) if prune and stale else 0
        rows = target.count()
        seconds = time.perf_counter() - start
        result = ExportResult(
            uri=target.store.settings.display_uri, collection=target.store.collection_name, images=len(gallery),
            rows_in_collection=rows, dim=model.dim, tta_mode=model.tta_mode, seconds=seconds,
            images_per_sec=len(gallery) / max(seconds, 1e-9),
            embeddings_file=str(Path(arrays_dir) / EMBEDDINGS_FILE) if arrays_dir else None, no_face=no_face,
            rows_added=len(set(ids) - before), rows_updated=len(set(ids) & before),
            rows_pruned=pruned, rows_kept=0 if prune else len(stale),
        )
    log.info("Exported %d images to %s (collection %s, %d rows) in %.1fs (%.1f images/s); %s.", result.images,
             result.uri, result.collection, rows, seconds, result.images_per_sec, sync_summary(result))
    return result


def sync_summary(result: ExportResult) -> str:
    """``"12 rows added, 3 updated, 2 pruned"`` (or ``... 2 kept (gallery.prune=false)``) for the command lines."""
    gone = (f"{result.rows_kept} not in this export kept (gallery.prune=false)" if result.rows_kept
            else f"{result.rows_pruned} pruned")
    return f"{result.rows_added} rows added, {result.rows_updated} updated, {gone}"


def _row_ids(gallery: list[tuple[Path, str]], root: Path | None) -> list[int]:
    """Each pair's row key relative to ``root``; without one, relative to the folder above the image's folder,
    which is the data root of a flat ``<root>/<person_id>/<image>`` folder (the same keys as with its root)."""
    return [row_id(path, Path(path).absolute().parent.parent if root is None else root) for path, _ in gallery]


def _with_faces(model: FaceModel, gallery: list[tuple[Path, str]]) -> tuple[list[tuple[Path, str]], int]:
    """With ``align=true``: the pairs whose photo has a usable face, and how many were left out (logged)."""
    faceless = model.faceless([path for path, _ in gallery])
    if not faceless:
        return gallery, 0
    log.warning("align=true: %d of %d photos have no usable face and are left out of the gallery.", len(faceless),
                len(gallery))
    for path, reason in faceless:
        log.info("No face: %s (%s)", path, reason)
    dropped = {path for path, _ in faceless}
    return [(path, person) for path, person in gallery if path not in dropped], len(faceless)


def gallery_from_datamodule(datamodule: Any, identities: str = "all") -> list[tuple[Path, str]]:
    """``(path, person_id)`` of every usable image of the chosen identities (``all``, ``train``, ``held_out``)
    of a set-up face datamodule, in a stable order."""
    chosen = datamodule.select_identities(identities)
    return [(path, person) for person in sorted(chosen) for path in chosen[person]]
