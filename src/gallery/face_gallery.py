"""The gallery: a Milvus collection of face embeddings used with the one model that built it.

Export, the end-of-training callback and the inference commands open it here; every write goes through
:func:`src.gallery.ingest.embed_into_store`.

The collection remembers the model and TTA mode that built it (``facerec-export``); opening it with
another one is refused, since similarities between embeddings of different models mean nothing.
Filters on ``person_id`` are built (escaped or templated) by the store, never here.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from src.alignment.preprocess import UNALIGNED
from src.embedding.model import FaceModel, load_model
from src.gallery.ingest import IngestStats, embed_into_store
from src.scoring.acceptance import accepts
from src.vector_store import (
    CollectionMismatchError,
    CollectionNotFoundError,
    GalleryMetadata,
    MilvusSettings,
    MilvusStore,
    SearchHit,
    check_keys,
    row_id,
)

log = logging.getLogger(__name__)
UNKNOWN = "unknown"
CREATE_HINT = ("Create it with `facerec-export ckpt_path=<ckpt> data.root=<faces> milvus.uri=<uri>` (or "
               "FaceGallery.open(..., create=True)), or point milvus.uri / milvus.collection at an existing gallery.")


@dataclass(frozen=True)
class Identification:
    """The answer for one query image: best match, or ``unknown`` below the threshold."""

    image_path: str
    person_id: str
    known: bool
    similarity: float | None
    matches: list[SearchHit] = field(default_factory=list)
    search_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "matches": [asdict(hit) for hit in self.matches]}


def milvus_settings(milvus: Mapping[str, Any] | str, collection: str | None = None) -> MilvusSettings:
    """Settings from a URI (Lite ``.db`` file or ``http://host:port``) or a ``milvus`` config node."""
    overrides = {"collection": collection} if collection else {}
    if isinstance(milvus, str):
        return MilvusSettings(uri=milvus, **overrides).with_env_credentials()
    return MilvusSettings.from_config(milvus, **overrides)


def check_same_model(meta: GalleryMetadata, model: FaceModel, where: str) -> None:
    """Raise CollectionMismatchError when the collection was built with another model, TTA mode or
    preprocessing (aligned faces vs plain crops: galleries from before alignment count as plain crops)."""
    checks = [("model", meta.model_id, model.model_id), ("TTA mode", meta.tta_mode, model.tta_mode),
              ("preprocessing", meta.extra.get("preprocessing", UNALIGNED), model.preprocessing)]
    problems = [f"{what}: collection has {stored!r}, loaded model gives {mine!r}"
                for what, stored, mine in checks if stored != mine]
    if problems:
        built_with = meta.extra.get("checkpoint", "unknown checkpoint")
        raise CollectionMismatchError(
            f"Collection {where} was built with another model; searching or enrolling with this one would "
            "compare incompatible embeddings:\n  - " + "\n  - ".join(problems) +
            f"\nUse the checkpoint ({built_with}), gallery.tta and align setting it was built with, or rebuild it "
            "for this model: facerec-export ckpt_path=<ckpt> milvus.recreate=true (deletes its rows).")


def open_existing(store: MilvusStore) -> GalleryMetadata:
    """Open the store's existing collection (CollectionNotFoundError says how to create one)."""
    if not store.has_collection():
        raise CollectionNotFoundError(f"Collection {store.collection_name!r} does not exist at "
                                      f"{store.settings.display_uri}. {CREATE_HINT}")
    return store.open_collection()


def remove_person(milvus: Mapping[str, Any] | str, person_id: str, collection: str | None = None) -> int:
    """Delete every row of ``person_id`` from an existing gallery (no model needed); returns rows deleted."""
    with MilvusStore(milvus_settings(milvus, collection)) as store:
        open_existing(store)
        return store.delete_person(person_id)


class FaceGallery:
    """A Milvus collection of face embeddings plus the model that built it (use as a context manager)."""

    def __init__(self, model: FaceModel, store: MilvusStore) -> None:
        self.model = model
        self.store = store

    @classmethod
    def open(cls, model: FaceModel | str | Path, milvus: Mapping[str, Any] | str, *, collection: str | None = None,
             tta_mode: str = "concat", create: bool = False) -> FaceGallery:
        """Open the gallery at ``milvus`` (URI or config node) for ``model`` (a FaceModel or a checkpoint path,
        loaded with ``tta_mode``).

        The collection must exist unless ``create`` (then it is created with this model's metadata); an
        existing one built with another model or TTA mode raises CollectionMismatchError.
        """
        if not isinstance(model, FaceModel):
            model = load_model(model, tta_mode)
        store = MilvusStore(milvus_settings(milvus, collection))
        try:
            if create:  # creates, or checks model, TTA mode, dim and index of the existing one
                store.ensure_collection(model.dim, model_id=model.model_id, tta_mode=model.tta_mode,
                                        extra=model.describe())
            else:
                check_same_model(open_existing(store), model,
                                 f"{store.collection_name!r} at {store.settings.display_uri}")
        except BaseException:
            store.close()
            raise
        return cls(model, store)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> FaceGallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def metadata(self) -> GalleryMetadata:
        """What the collection was built with (model id, TTA mode, dim, index...)."""
        return self.store.metadata()

    def count(self) -> int:
        """Rows in the gallery."""
        return self.store.count()

    def embed(self, paths: Sequence[str | Path], batch_size: int = 64) -> np.ndarray:
        """Embeddings ``(len(paths), dim)`` with the gallery's model and TTA mode."""
        return self.model.embed(paths, batch_size)

    def identify(self, paths: Sequence[str | Path], top_k: int = 5, threshold: float | None = None,
                 batch_size: int = 64) -> list[Identification]:
        """Top-``top_k`` matches per image; the best one names the person unless its similarity is below
        ``threshold`` (then ``unknown``; ``None`` never answers unknown). Each image is searched on its own,
        so ``search_seconds`` is a single-query latency."""
        paths = [Path(p) for p in paths]
        results: list[Identification | None] = [None] * len(paths)
        for embeddings, index in self.model.stream(paths, batch_size, description="identifying"):
            for vector, i in zip(embeddings, index, strict=True):
                start = time.perf_counter()
                hits = self.store.search(vector, top_k)[0]
                results[i] = _decide(paths[i], hits, threshold, time.perf_counter() - start)
        return [r for r in results if r is not None]

    def add(self, pairs: Sequence[tuple[str | Path, str]], batch_size: int = 64, num_workers: int = 0,
            out: np.ndarray | None = None, publish: bool = True, description: str = "adding",
            ids: Sequence[int] | None = None) -> IngestStats:
        """Embed and upsert ``(image path, person_id)`` pairs keyed by ``ids`` (see :func:`embed_into_store`)."""
        return embed_into_store(self.model, self.store, pairs, batch_size, num_workers, out=out, publish=publish,
                                description=description, ids=ids)

    def enroll(self, person_id: str, paths: Sequence[str | Path], batch_size: int = 64) -> int:
        """Add ``person_id``'s images, or replace their rows: a row is keyed by the image's content
        (:func:`row_id`), so an image already in the gallery is rewritten, never duplicated. One already stored
        under another person is relabelled to ``person_id``, with a warning naming that person. Returns rows
        written."""
        ids = self._enrollment_keys(person_id, paths)
        return self.add([(path, person_id) for path in paths], batch_size, publish=False,
                        description="enrolling", ids=ids).rows

    def enroll_embeddings(self, person_id: str, paths: Sequence[str | Path], embeddings: np.ndarray) -> int:
        """:meth:`enroll` for faces already embedded with this gallery's model (e.g. the aligned face crops a
        clustering run saved, one per face of a multi-face photo): same keys, checks and relabel warnings."""
        ids = self._enrollment_keys(person_id, paths)
        return self.store.upsert([str(path) for path in paths], [person_id] * len(paths), embeddings, ids=ids)

    def _enrollment_keys(self, person_id: str, paths: Sequence[str | Path]) -> list[int]:
        if not isinstance(person_id, str) or not person_id:
            raise ValueError(f"person_id must be a non-empty string, got {person_id!r}")
        if not paths:
            raise ValueError(f"No images to enroll for {person_id!r}.")
        ids = [row_id(path) for path in paths]
        check_keys(ids, [str(path) for path in paths])
        warn_relabelled(self.store, ids, [str(path) for path in paths], person_id)
        return ids

    def match(self, embeddings: np.ndarray, names: Sequence[str], top_k: int = 5,
              threshold: float | None = None) -> list[Identification]:
        """:meth:`identify` for embeddings already made with this gallery's model (``names`` label the results):
        one batched search, the same acceptance rule."""
        if not len(embeddings):
            return []
        start = time.perf_counter()
        hits = self.store.search(np.asarray(embeddings, np.float32), top_k)
        seconds = (time.perf_counter() - start) / len(embeddings)
        return [_decide(Path(name), found, threshold, seconds) for name, found in zip(names, hits, strict=True)]

    def remove(self, person_id: str) -> int:
        """Delete every row of ``person_id``; returns rows deleted."""
        return self.store.delete_person(person_id)


def warn_relabelled(store: MilvusStore, ids: Sequence[int], paths: Sequence[str], person_id: str) -> dict[str, str]:
    """Before enrolling ``paths`` (keyed ``ids``) as ``person_id``: warn about each image already stored under
    another person, naming that person; returns ``{path: previous person}``."""
    stored = store.get_people(ids)
    moved = {path: stored[key] for key, path in zip(ids, paths, strict=True)
             if key in stored and stored[key] != person_id}
    for path, previous in moved.items():
        log.warning("%s is already in the gallery as person %r; enrolling it as %r relabels that row (an image "
                    "shows one person, so it is never stored under two).", path, previous, person_id)
    return moved


def _decide(path: Path, hits: list[SearchHit], threshold: float | None, seconds: float) -> Identification:
    best = hits[0] if hits else None
    known = best is not None and (threshold is None or accepts(best.similarity, threshold))
    return Identification(image_path=str(path), person_id=best.person_id if known else UNKNOWN, known=known,
                          similarity=best.similarity if best else None, matches=hits, search_seconds=seconds)
