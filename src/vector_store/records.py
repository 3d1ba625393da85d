"""Plain results of the store (no pymilvus types leave the package) and the row key."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

METADATA_FORMAT = "facerec.gallery/v1"
# Collection property holding the metadata JSON. Milvus Lite 3 keeps properties but drops the
# collection description, so the description (where galleries built before kept it) is the fallback.
METADATA_PROPERTY = "facerec.gallery"
_INT63_MASK = (1 << 63) - 1


@dataclass(frozen=True)
class SearchHit:
    """One search result; ``similarity`` is the cosine similarity (higher is closer)."""

    id: int
    similarity: float
    person_id: str | None = None
    image_path: str | None = None

    @classmethod
    def from_milvus(cls, hit: Mapping[str, Any], person_field: str, path_field: str) -> SearchHit:
        """Build from one pymilvus search hit (``{"id", "distance", "entity": {...}}``)."""
        entity = hit.get("entity") or {}
        return cls(id=int(hit["id"]), similarity=float(hit["distance"]),
                   person_id=entity.get(person_field), image_path=entity.get(path_field))


@dataclass(frozen=True)
class GalleryRecord:
    """One stored row, as returned by :meth:`MilvusStore.query_person`."""

    id: int
    person_id: str
    image_path: str
    embedding: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class IndexInfo:
    """The vector index as reported by the server (``params`` holds only build parameters)."""

    field_name: str
    index_type: str
    metric_type: str
    params: dict[str, Any]
    raw: dict[str, Any]


@dataclass(frozen=True)
class GalleryMetadata:
    """What the gallery was built with; stored as JSON in the collection description."""

    model_id: str
    tta_mode: str
    dim: int
    metric: str
    index_type: str
    index_params: dict[str, Any]
    created_at: str
    extra: dict[str, Any] = field(default_factory=dict)
    format: str = METADATA_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> GalleryMetadata:
        """Parse a collection description; raises ValueError if it is not ours."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != METADATA_FORMAT:
            raise ValueError(f"description is not {METADATA_FORMAT} metadata")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})  # newer keys are ignored

    @classmethod
    def from_collection(cls, described: Mapping[str, Any]) -> GalleryMetadata:
        """Parse ``describe_collection()``: the metadata property, else the description."""
        properties = described.get("properties") or {}
        return cls.from_json(properties.get(METADATA_PROPERTY) or described.get("description") or "")


def _int63(text: str) -> int:
    """Positive int63 primary key: the first 8 bytes of blake2b(text), masked."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & _INT63_MASK


def path_to_id(image_path: str) -> int:
    """Key of a row that has no image file behind it (benchmarks, synthetic rows): the hash of its path.
    Rows of real images are keyed by :func:`row_id`."""
    return _int63(str(image_path))


def content_digest(path: str | Path) -> str:
    """blake2b-128 of the file's bytes (read in 1 MiB blocks), hex."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def row_id(path: str | Path, root: str | Path | None = None) -> int:
    """The primary key of an image file's row: the one key function of every writer (export, the training
    callback, enrollment, the evaluation gallery, facerec-serve's uploads).

    * With ``root`` (a folder export): hash of (path relative to ``root``, content hash of the bytes). The
      relative path makes a moved or re-mounted dataset the same rows (an absolute path would store every image
      twice) and keeps two identical photos in different people's folders two rows; the content hash makes an
      edited photo a new row (the old one is pruned by the export as gone).
    * Without ``root`` (enrollment, uploads): the content hash alone, so the same image is one row wherever its
      file lives: enrolling it again replaces its row, never duplicates it, and enrolling it under another person
      relabels that row (FaceGallery.enroll warns) rather than storing one photo under two names, which would
      make a search of it a tie answered by chance.
    """
    digest = content_digest(path)
    if root is None:
        return _int63(f"content:{digest}")
    relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    return _int63(f"{relative}\0{digest}")
