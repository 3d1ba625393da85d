"""Keep a successful run's console free of Milvus Lite's harmless third-party noise (issue 24: users read it as
failures). Filtered at the loggers that emit it; the project's own loggers are untouched.

* ``grpc._server`` ERROR "Exception calling application: Method not implemented!" with a traceback: Lite 3's
  in-process server has no ``AllocTimestamp``, which pymilvus calls while waiting for an index build
  (``create_collection`` with index params); pymilvus then carries on, and the collection is complete. Only
  records of that exact message are dropped: any other gRPC server error still shows.
* ``faiss.loader`` INFO "Could not load library with AVX512/AVX2 support": faiss trying its builds in turn.
* pymilvus' query iterator WARNING "failed to get mvccTs ..., use client-side ts instead": the same missing
  method; the listing it pages through is still complete (tests/test_vector_store.py checks the counts).
"""
from __future__ import annotations

import logging

_UNIMPLEMENTED = "Method not implemented"


class _DropUnimplemented(logging.Filter):
    """Drops the gRPC server's "Method not implemented" records, keeps every other one."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (_UNIMPLEMENTED in record.getMessage() or isinstance(exc, NotImplementedError))


def quiet_lite_loggers() -> None:
    """Install the filters (idempotent)."""
    server = logging.getLogger("grpc._server")
    if not any(isinstance(f, _DropUnimplemented) for f in server.filters):
        server.addFilter(_DropUnimplemented())
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
