"""How many rows / queries go into one request (byte budgets measured per backend)."""

from __future__ import annotations

from collections.abc import Iterator

# Bytes per upsert call. The server accepts 64 MiB per gRPC message; 16 MiB keeps well clear.
# Milvus Lite 2.5.1 gets ~30x slower once one request carries more than ~6 MB (measured:
# 1000 rows x 1024-d: 2300 rows/s, 2000 rows: 120 rows/s), so Lite uses small requests (kept for
# Lite 3, whose upsert cost was not re-measured).
SERVER_BATCH_BYTES = 16 * 2**20
LITE_BATCH_BYTES = 1 * 2**20
SEARCH_BATCH_BYTES = 8 * 2**20
MAX_QUERIES_PER_CALL = 1024
MAX_TOP_K = 16384  # Milvus limit on topk (and on nq)
# Primary keys per delete/query by id: the filter `id in [...]` is ~20 bytes a key, and a query answers at most
# 16,384 rows, so 4096 keys stay far from both limits.
IDS_PER_REQUEST = 4096


def rows_per_upsert(row_bytes: int, server: bool, override: int | None = None) -> int:
    """Rows per upsert call: ``override`` (config insert_batch_rows) or a per-backend byte budget."""
    if override:
        return int(override)
    budget = SERVER_BATCH_BYTES if server else LITE_BATCH_BYTES
    return max(1, budget // max(1, row_bytes))


def queries_per_search(dim: int) -> int:
    """Query vectors per search call (at most MAX_QUERIES_PER_CALL, within SEARCH_BATCH_BYTES)."""
    return max(1, min(MAX_QUERIES_PER_CALL, SEARCH_BATCH_BYTES // (4 * dim)))


def chunks(n_rows: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` rows covering ``range(n_rows)``."""
    for start in range(0, n_rows, size):
        yield slice(start, min(n_rows, start + size))
