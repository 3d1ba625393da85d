"""Segment upkeep of the gallery collection: flush, load/release, compaction, index build and
publishing written rows (a mixin of :class:`~src.vector_store.store.MilvusStore`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pymilvus import MilvusClient, MilvusException

from .connection import translate_errors
from .errors import MilvusStoreError
from .records import IndexInfo
from .schema import LITE_INDEX
from .settings import MilvusSettings

# Milvus Lite 3.2.2 writes segment index files from a background thread, unlocked and not
# atomically; a load soon after a release can read one half-written ("file seems not fully
# written?", 1 run in ~8 of the release/load test). The writer finishes it: load tries again.
LITE_LOAD_ATTEMPTS = 4


class SegmentMaintenance:
    """flush / load / release / compact / wait_for_index / publish for one collection."""

    # Provided by MilvusStore (annotations only: the store's properties and methods fill them).
    settings: MilvusSettings
    collection_name: str
    index_type: str
    _client: MilvusClient
    _rpc: dict[str, Any]
    count: Callable[[], int]
    index_info: Callable[[], IndexInfo]

    @translate_errors
    def flush(self) -> None:
        """Persist growing segments (the server then builds the index on them)."""
        self._client.flush(self.collection_name, **self._rpc)

    @translate_errors
    def load(self) -> None:
        """Load the collection into memory for search (idempotent)."""
        attempts = 1 if self.settings.is_server else LITE_LOAD_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                self._client.load_collection(self.collection_name, **self._rpc)
                return
            except MilvusException:
                if attempt == attempts:
                    raise
                time.sleep(0.2 * attempt)

    @translate_errors
    def release(self) -> None:
        """Release the collection from memory (a later :meth:`load` reads the built index)."""
        self._client.release_collection(self.collection_name, **self._rpc)

    @translate_errors
    def compact(self, timeout_s: float = 600.0, poll_s: float = 0.5) -> float:
        """Merge small segments and apply deletes now, and wait; returns the seconds taken.

        A server compacts only indexed segments, then indexes the result again, so call
        :meth:`wait_for_index` before and after for a settled gallery. Milvus Lite: no-op.
        """
        start = time.monotonic()
        if not self.settings.is_server:
            return 0.0
        job = self._client.compact(self.collection_name, **self._rpc)
        while self._client.get_compaction_state(job, **self._rpc) != "Completed":
            if time.monotonic() - start > timeout_s:
                raise MilvusStoreError(f"compaction of {self.collection_name!r} at "
                                       f"{self.settings.display_uri} not done after {timeout_s:.0f}s")
            time.sleep(poll_s)
        return time.monotonic() - start

    @translate_errors
    def wait_for_index(self, timeout_s: float = 600.0, poll_s: float = 0.5) -> float:
        """Wait until every row is indexed; returns the seconds waited.

        A server builds HNSW asynchronously after :meth:`flush`; Milvus Lite (FLAT) has nothing
        to build and returns at once. Raises MilvusStoreError after ``timeout_s``.
        """
        start = time.monotonic()
        if self.index_type == LITE_INDEX:
            return 0.0
        rows = self.count()
        while True:
            raw = self.index_info().raw
            indexed, pending = int(raw.get("indexed_rows", 0)), int(raw.get("pending_index_rows", 0))
            if indexed >= rows and pending == 0:
                return time.monotonic() - start
            if time.monotonic() - start > timeout_s:
                raise MilvusStoreError(
                    f"index of {self.collection_name!r} at {self.settings.display_uri} not built after "
                    f"{timeout_s:.0f}s ({indexed}/{rows} rows indexed, {pending} pending)")
            time.sleep(poll_s)

    def publish(self, timeout_s: float = 600.0) -> None:
        """Make written rows searchable through the index, without a moment where searches fail.

        Flushes, waits for the index build, then (on a server) asks the query nodes to load the
        newly indexed segments beside the ones they serve (``refresh`` load). The collection is never
        released: searches keep answering from the old segments until the new ones are in, and a
        second exporter publishing the same gallery at the same time is harmless. (Releasing and
        loading again, as before, made every search fail for the seconds the reload took.)
        Segments sealed after the refresh (a concurrent writer, compaction) are indexed and swapped
        in by the server on its own (~13 s on the 2.3.5 test server); searches there are exact meanwhile.
        """
        self.flush()
        self.wait_for_index(timeout_s)
        if self.settings.is_server:
            self._refresh_load()
        else:
            self.load()

    @translate_errors
    def _refresh_load(self) -> None:
        """Load segments indexed since the last load into the loaded collection (returns when loaded)."""
        self._client.refresh_load(self.collection_name, **self._rpc)
