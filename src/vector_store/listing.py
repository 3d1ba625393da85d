"""Whole-gallery listings: every ``person_id`` with its row count (``GET /v1/persons`` of facerec-serve) and every
primary key (what an export prunes).

Kept beside the store because it pages through the collection with pymilvus's query iterator
(primary-key order, so any gallery size works; a plain query stops at Milvus's 16,384-row window).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .schema import PERSON_FIELD, PK_FIELD

if TYPE_CHECKING:
    from .store import MilvusStore

PAGE_ROWS = 4096


def _pages(store: MilvusStore, field: str, page_rows: int) -> Iterator[list[dict[str, Any]]]:
    """Every row's ``field``, page by page, read with strong consistency (includes the latest writes)."""
    iterator = store._client.query_iterator(  # noqa: SLF001 - same package as the store
        store.collection_name, batch_size=page_rows, filter="", output_fields=[field],
        consistency_level="Strong", timeout=float(store.settings.request_timeout_s))
    try:
        while page := iterator.next():
            yield page
    finally:
        iterator.close()


def person_counts(store: MilvusStore, page_rows: int = PAGE_ROWS) -> dict[str, int]:
    """``{person_id: rows}`` sorted by person id. The store's collection must be open (``open_collection`` /
    ``ensure_collection``)."""
    counts: Counter[str] = Counter()
    for page in _pages(store, PERSON_FIELD, page_rows):
        counts.update(row[PERSON_FIELD] for row in page)
    return dict(sorted(counts.items()))


def all_ids(store: MilvusStore, page_rows: int = PAGE_ROWS) -> set[int]:
    """Every primary key of the store's open collection."""
    return {int(row[PK_FIELD]) for page in _pages(store, PK_FIELD, page_rows) for row in page}
