"""The model and the gallery behind the service, working on decoded images in memory.

``FaceGallery`` embeds and enrolls image *files*; a service receives bytes. This class does the same steps
on in-memory images with the gallery's own pieces (the model's TTA embedder, the evaluation transform, the
gallery's store), so embeddings equal those of ``FaceGallery.embed`` for the same image. Its methods are
called from one worker thread only (the store's client and the network are used by one caller at a time).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from src.datamodules.transforms import eval_transform
from src.gallery.face_gallery import warn_relabelled
from src.gallery.rows import check_person_id, person_counts, row_id
from src.inference import UNKNOWN, FaceGallery
from src.inference.threshold import Threshold
from src.scoring.acceptance import accepts
from src.serve.uploads import delete_uploads, person_folder, save_upload, upload_path


class NoFaceError(ValueError):
    """``align=true`` and the photo holds no usable face (answered 422, nothing written)."""


@dataclass(frozen=True)
class Face:
    """One image to enroll: its network input, and the bytes and format of the file to keep."""

    tensor: torch.Tensor
    data: bytes
    format: str
    name: str  # how error messages call it


@dataclass(frozen=True)
class Query:
    """One identify request as the batcher sees it."""

    image: torch.Tensor
    top_k: int
    threshold: Threshold


class Recognizer:
    """Embed, identify, enroll and remove on in-memory images (see the module docstring)."""

    def __init__(self, gallery: FaceGallery, threshold: Threshold, upload_dir: str | Path) -> None:
        self.gallery = gallery
        self.threshold = threshold
        self.upload_dir = Path(upload_dir)
        self.transform = eval_transform(gallery.model.image_size)

    def to_tensor(self, image: Image.Image) -> torch.Tensor:
        """The network input for one decoded image (safe to call from any thread); with ``align=true`` the photo's
        largest face, aligned onto the ArcFace template (NoFaceError when there is none)."""
        aligned = self.gallery.model.aligned
        if aligned is None:
            return self.transform(image)
        crops = aligned.aligner.align_rgb(image).crops
        if not crops:
            raise NoFaceError("No usable face found in the image (align=true: the service detects and aligns the "
                              "face; send a photo with a visible face, at least alignment.min_face_size px).")
        return self.transform(crops[0])

    def embed(self, images: Sequence[torch.Tensor]) -> np.ndarray:
        """Unit embeddings ``(len(images), dim)`` with the gallery's model and TTA mode."""
        return self.gallery.model.embedder.embed_batch(torch.stack(list(images))).numpy()

    def identify(self, queries: Sequence[Query]) -> list[dict[str, Any]]:
        """Embed all queries in one forward pass and search them in one call (at the largest ``top_k``)."""
        began = time.perf_counter()
        vectors = self.embed([q.image for q in queries])
        embedded = time.perf_counter()
        hits = self.gallery.store.search(vectors, max(q.top_k for q in queries))
        searched = time.perf_counter()
        timings = {"embed_ms": 1e3 * (embedded - began), "search_ms": 1e3 * (searched - embedded)}
        return [self._answer(query, found[:query.top_k], timings) for query, found in zip(queries, hits, strict=True)]

    @staticmethod
    def _answer(query: Query, hits: list, timings: dict[str, float]) -> dict[str, Any]:
        best = hits[0] if hits else None
        known = best is not None and accepts(best.similarity, query.threshold.value)
        return {"person_id": best.person_id if known else UNKNOWN, "known": known,
                "similarity": best.similarity if best else None, "threshold": query.threshold.value,
                "threshold_source": query.threshold.source,
                "matches": [{"person_id": h.person_id, "similarity": h.similarity, "image_path": h.image_path}
                            for h in hits], "timings_ms": dict(timings)}

    def enroll(self, person_id: str, faces: Sequence[Face], batch_size: int) -> dict[str, Any]:
        """Keep each image under ``upload_dir/<person_id>/`` and upsert its row; returns what was written, with
        the images that were stored under another person before (``relabelled``: each now belongs to
        ``person_id``, and its copy in the other person's folder is deleted)."""
        check_person_id(person_id)
        paths = [upload_path(self.upload_dir, person_id, face.data, face.format, face.name) for face in faces]
        first_of = {}
        for path, face in zip(paths, faces, strict=True):
            if path in first_of:
                raise ValueError(f"{face.name} is the same image as {first_of[path]}; send each image once.")
            first_of[path] = face.name
        vectors = np.concatenate([self.embed([face.tensor for face in faces[i:i + batch_size]])
                                  for i in range(0, len(faces), batch_size)])
        for path, face in zip(paths, faces, strict=True):
            save_upload(path, face.data)
        # A server keeps the rows durable in its log and visible to this client (session consistency) at once;
        # a flush per request would add 2-3 s there (README, ingestion benchmark) and seal tiny segments. Milvus
        # Lite flushes in ~0 s and has no such log, so there every enrollment is flushed.
        ids = [row_id(path) for path in paths]  # the content key of FaceGallery.enroll: the same image, the same row
        moved = warn_relabelled(self.gallery.store, ids, [str(p) for p in paths], person_id)
        rows = self.gallery.store.upsert([str(p) for p in paths], [person_id] * len(paths), vectors, ids=ids,
                                         flush=self.gallery.store.backend == "lite")
        delete_uploads(self.upload_dir, [str(person_folder(self.upload_dir, previous) / Path(path).name)
                                         for path, previous in moved.items()])
        return {"person_id": person_id, "rows_written": rows, "image_paths": [str(p) for p in paths],
                "relabelled": [{"image_path": path, "previous_person_id": previous}
                               for path, previous in moved.items()],
                "gallery_rows": self.gallery.count()}

    def remove(self, person_id: str) -> dict[str, Any]:
        """Delete the person's rows and the uploads they pointed to; returns the counts."""
        check_person_id(person_id)
        paths = [record.image_path for record in self.gallery.store.query_person(person_id)]
        rows = self.gallery.remove(person_id)
        return {"person_id": person_id, "rows_deleted": rows,
                "files_deleted": delete_uploads(self.upload_dir, paths), "gallery_rows": self.gallery.count()}

    def persons(self) -> dict[str, Any]:
        """Every person id with its row count."""
        counts = person_counts(self.gallery.store)
        return {"persons": [{"person_id": p, "rows": n} for p, n in counts.items()],
                "total_rows": sum(counts.values())}

    def close(self) -> None:
        """Flush what was enrolled since the start (sealed on disk), then close the gallery."""
        try:
            self.gallery.store.flush()
        finally:
            self.gallery.close()

    def warm_up(self) -> None:
        """One forward pass and one search, so the first request does not pay for lazy initialisation."""
        grey = torch.zeros(3, self.gallery.model.image_size, self.gallery.model.image_size)
        self.identify([Query(grey, 1, self.threshold)])
