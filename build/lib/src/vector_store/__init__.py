"""Vector store for the face gallery (Milvus Lite or a Milvus server).

``src.vector_store.milvus_store`` is the only module of the project that imports pymilvus.
"""

from .errors import (
    CollectionMismatchError,
    CollectionNotFoundError,
    MilvusAuthError,
    MilvusStoreError,
    MilvusUnavailableError,
)
from .milvus_store import (
    GalleryMetadata,
    GalleryRecord,
    IndexInfo,
    MilvusStore,
    SearchHit,
    path_to_id,
)
from .settings import MilvusSettings

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
