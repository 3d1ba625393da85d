"""What users of the gallery need about its rows without importing the store: the error every gallery failure
derives from, the person-id check, the row key (and the content hash behind it) and per-person counts.

The service (src/serve) and clustering (src/cluster) import these from here, so only the gallery package reaches
into ``src.vector_store`` (tests/test_layout.py checks the arrows).
"""
from __future__ import annotations

from src.vector_store import (
    CollectionNotFoundError,
    MilvusStoreError,
    check_person_id,
    content_digest,
    person_counts,
    row_id,
)

GalleryError = MilvusStoreError  # the gallery (Milvus) failed, is unreachable, or refused the request

__all__ = ["CollectionNotFoundError", "GalleryError", "check_person_id", "content_digest", "person_counts", "row_id"]
