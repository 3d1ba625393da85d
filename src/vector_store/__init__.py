"""Vector store for the face gallery (Milvus Lite or a Milvus server).

The only package of the project that imports pymilvus (``tests/test_store_imports.py`` checks).
:class:`MilvusStore` (``store.py``) is the facade; beside it ``records`` (results and the row key
``row_id``), ``listing`` (whole-gallery listings), ``schema`` (fields, row checks), ``expressions`` (person
filters), ``connection`` (connect, Lite open/release, error translation), ``batching`` (request sizes),
``maintenance`` (flush, load, index build, publish) and ``settings``.
"""

from .errors import (
    CollectionMismatchError,
    CollectionNotFoundError,
    MilvusAuthError,
    MilvusStoreError,
    MilvusUnavailableError,
)
from .listing import all_ids, person_counts
from .records import GalleryMetadata, GalleryRecord, IndexInfo, SearchHit, content_digest, path_to_id, row_id
from .schema import check_keys, check_person_id
from .settings import MilvusSettings
from .store import MilvusStore

__all__ = [
    "CollectionMismatchError",
    "CollectionNotFoundError",
    "GalleryMetadata",
    "GalleryRecord",
    "IndexInfo",
    "MilvusAuthError",
    "MilvusSettings",
    "MilvusStore",
    "MilvusStoreError",
    "MilvusUnavailableError",
    "SearchHit",
    "all_ids",
    "check_keys",
    "check_person_id",
    "content_digest",
    "path_to_id",
    "person_counts",
    "row_id",
]
