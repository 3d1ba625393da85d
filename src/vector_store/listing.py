"""Who is in a gallery: every ``person_id`` with its row count (``GET /v1/persons`` of facerec-serve).

Kept beside the store because it pages through the collection with pymilvus's query iterator
(primary-key order, so any gallery size works; a plain query stops at Milvus's 16,384-row window).
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from .schema import PERSON_FIELD

if TYPE_CHECKING:
    from .store import MilvusStore

PAGE_ROWS = 4096
# Milvus Lite answers the iterator's first (timestamp) request with an error that pymilvus logs as a
# warning on every listing, then falls back to a client-side timestamp; the listing is still complete.
logging.getLogger("pymilvus.orm.iterator").setLevel(logging.ERROR)


def person_counts(store: MilvusStore, page_rows: int = PAGE_ROWS) -> dict[str, int]:
    """``{person_id: rows}`` sorted by person id, read with strong consistency (includes the latest writes).

    The store's collection must be open (``open_collection`` / ``ensure_collection``)."""
    counts: Counter[str] = Counter()
    iterator = store._client.query_iterator(  # noqa: SLF001 - same package as the store
        store.collection_name, batch_size=page_rows, filter="", output_fields=[PERSON_FIELD],
        consistency_level="Strong", timeout=float(store.settings.request_timeout_s))
    try:
        while page := iterator.next():
            counts.update(row[PERSON_FIELD] for row in page)
    finally:
        iterator.close()
    return dict(sorted(counts.items()))
