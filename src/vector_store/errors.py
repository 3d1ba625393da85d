"""Exceptions raised by the Milvus vector store."""

from __future__ import annotations

RECREATE_HINT = (
    "Pass recreate=True (Hydra: milvus.recreate=true) to drop the collection and build it "
    "again; this deletes every row stored in it."
)

START_SERVER_HINT = (
    "Start the server with `docker compose up -d` in the project root (gRPC on "
    "localhost:19540), or use Milvus Lite by giving a local file URI such as the default "
    "`milvus=lite` config (uri: <run dir>/gallery.db)."
)

AUTH_HINT = (
    "Check the token (user:password) or user / password given in the milvus config or in the "
    "environment variables MILVUS_TOKEN, MILVUS_USER, MILVUS_PASSWORD."
)


class MilvusStoreError(RuntimeError):
    """Base class of all vector-store errors."""


class MilvusUnavailableError(MilvusStoreError):
    """The Milvus server (or Milvus Lite file) could not be reached/opened."""


class MilvusAuthError(MilvusStoreError):
    """The server rejected the credentials (token or user/password)."""


class CollectionNotFoundError(MilvusStoreError):
    """The configured collection does not exist."""


class CollectionMismatchError(MilvusStoreError):
    """An existing collection differs from what the caller asked for (dim, schema, index...)."""
