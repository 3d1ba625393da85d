"""Vector store for the face gallery (Milvus Lite or a Milvus server).

The only package of the project that imports pymilvus (``tests/test_store_imports.py`` checks).
:class:`MilvusStore` (``store.py``) is the facade; beside it ``records`` (results and row key),
``schema`` (fields, row checks), ``expressions`` (person filters), ``connection`` (connect,
Lite open/release, error translation), ``batching`` (request sizes), ``maintenance`` (flush, load,
index build, publish) and ``settings``.
"""

from .errors import (
    CollectionMismatchError,
    CollectionNotFoundError,
    MilvusAuthError,
    MilvusStoreError,
    MilvusUnavailableError,
)
from .records import GalleryMetadata, GalleryRecord, IndexInfo, SearchHit, path_to_id
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
    "path_to_id",
]
