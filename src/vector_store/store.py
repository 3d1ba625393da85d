"""The gallery facade: one Milvus collection of face embeddings (Milvus Lite file or server).

Backends (chosen by the URI):

* Milvus Lite 3 (``/path/gallery.db``, a directory; embedded, one process per file): an exact
  ``FLAT`` index (metric COSINE; galleries there are small and exact search needs no build) and
  ``describe_index`` reports ``FLAT`` with no build params; ``ef`` is ignored there. Lite has no
  filter templating, and ``server_version`` is None for it.
* A Milvus server (``http(s)://host:port``): ``HNSW`` with ``M``/``efConstruction`` from config,
  metric COSINE, searched with ``ef``.

The helpers live beside it: :mod:`.records` (results), :mod:`.schema` (fields, checks),
:mod:`.expressions` (filters), :mod:`.connection` (connect, errors), :mod:`.batching` (request
sizes) and :mod:`.maintenance` (flush, load, index build, publish: a mixin of the store).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import MilvusClient

from . import batching
from .connection import connect_server, lite_path, open_lite, release_lite, server_version, translate_errors
from .errors import RECREATE_HINT, CollectionMismatchError, CollectionNotFoundError, MilvusStoreError
from .expressions import filter_kwargs, person_filter, supports_filter_templates
from .listing import all_ids
from .maintenance import SegmentMaintenance
from .records import (
    METADATA_FORMAT,
    METADATA_PROPERTY,
    GalleryMetadata,
    GalleryRecord,
    IndexInfo,
    SearchHit,
    path_to_id,
)
from .schema import (
    LITE_INDEX,
    METRIC,
    PATH_FIELD,
    PERSON_FIELD,
    PK_FIELD,
    SERVER_INDEX,
    VECTOR_FIELD,
    build_index,
    build_schema,
    check_keys,
    check_rows,
    check_vectors,
    parse_index,
    schema_mismatch,
    utf8_len,
)
from .settings import MilvusSettings

log = logging.getLogger(__name__)

_STRONG = {"consistency_level": "Strong"}


class MilvusStore(SegmentMaintenance):
    """Gallery of face embeddings in one Milvus collection (see module docstring)."""

    def __init__(self, settings: MilvusSettings) -> None:
        self.settings = settings
        self._alias = f"facerec-{uuid.uuid4().hex[:12]}"
        self._lite_path: Path | None = None
        self._closed = False
        # pymilvus retries failed calls up to 75 times (minutes) unless told otherwise; an *int*
        # timeout would make it retry until that timeout. A float timeout is only the gRPC
        # deadline, and retry_times caps the retries.
        self._rpc = {"timeout": float(settings.request_timeout_s), "retry_times": 2}
        self._conn: MilvusClient | None = None
        if settings.is_server:
            self._conn = connect_server(settings, self._alias)
        else:
            # A Lite gallery that does not exist yet is created by ensure_collection only, so a
            # mistyped path given to identify/remove/enroll leaves no empty gallery behind.
            self._lite_path = lite_path(settings)
            if self._lite_path.exists():
                self._attach_lite()
        self.server_version = server_version(self._conn, settings, self._rpc)
        self._templated = supports_filter_templates(self.server_version)
        self._meta: GalleryMetadata | None = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], **overrides: Any) -> MilvusStore:
        """Connect using the Hydra ``milvus`` node (``overrides`` replace single settings)."""
        return cls(MilvusSettings.from_config(cfg, **overrides))

    # ----------------------------------------------------------------- properties
    @property
    def backend(self) -> str:
        """``"lite"`` or ``"server"``."""
        return self.settings.backend

    @property
    def collection_name(self) -> str:
        return self.settings.collection

    @property
    def index_type(self) -> str:
        """Index this store builds: HNSW on a server, exact FLAT on Milvus Lite (small galleries)."""
        return SERVER_INDEX if self.settings.is_server else LITE_INDEX

    @property
    def uses_filter_templates(self) -> bool:
        """True when person filters go through ``filter_params`` (servers >= 2.5)."""
        return self._templated

    def __repr__(self) -> str:
        return (f"MilvusStore(backend={self.backend!r}, collection={self.collection_name!r}, "
                f"server_version={self.server_version!r}, settings={self.settings!r})")

    @property
    def _client(self) -> MilvusClient:
        """The open connection; a Lite gallery that does not exist has none (nothing is created)."""
        if self._conn is not None:
            return self._conn
        if self._closed:
            raise MilvusStoreError(f"the store for {self.settings.display_uri} is closed")
        assert self._lite_path is not None  # only a Lite store opens late
        if self._lite_path.exists():  # created meanwhile by another store of this process
            return self._attach_lite()
        raise self._missing_lite_error()

    def _attach_lite(self) -> MilvusClient:
        """Open (or create) the Lite gallery. Lite 3 reopens a gallery with its collections released
        (a server keeps them loaded), so the store's collection is loaded to read as on a server."""
        assert self._lite_path is not None
        self._conn = open_lite(self._lite_path, self._alias)
        if self._conn.has_collection(self.collection_name, **self._rpc):
            self.load()
        return self._conn

    def _missing_lite_error(self) -> CollectionNotFoundError:
        return CollectionNotFoundError(
            f"Collection {self.collection_name!r} cannot be opened: the Milvus Lite gallery {self._lite_path} "
            "does not exist (mistyped milvus.uri?); nothing was created. Build it with facerec-export, or "
            "give the path of an existing gallery.")

    def _lite_missing(self) -> bool:
        """True for an open Lite store whose gallery does not exist (yet)."""
        return self._conn is None and not self._closed and self._lite_path is not None \
            and not self._lite_path.exists()

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Drop the connection (and stop the Lite process when no other store uses the file)."""
        self._closed = True
        if self._conn is None:
            return
        self._conn.close()
        self._conn = None
        if self._lite_path:
            release_lite(self._lite_path)

    def __enter__(self) -> MilvusStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- collection
    @translate_errors
    def has_collection(self) -> bool:
        if self._lite_missing():
            return False
        return bool(self._client.has_collection(self.collection_name, **self._rpc))

    @translate_errors
    def drop_collection(self) -> None:
        if self._lite_missing():
            return
        self._client.drop_collection(self.collection_name, **self._rpc)
        self._meta = None

    @translate_errors
    def ensure_collection(
        self,
        dim: int,
        *,
        model_id: str,
        tta_mode: str,
        extra: Mapping[str, Any] | None = None,
        recreate: bool | None = None,
    ) -> GalleryMetadata:
        """Create the collection, or check that the existing one matches; then load it.

        Raises CollectionMismatchError (expected vs found) when dim, schema, index, metric,
        model or TTA mode differ, unless ``recreate`` (default: settings.recreate) is True,
        which drops and recreates the collection.
        """
        wanted = self._new_metadata(int(dim), model_id, tta_mode, extra)
        if self._lite_missing():
            self._attach_lite()  # creates the gallery
        recreate = self.settings.recreate if recreate is None else recreate
        if self.has_collection():
            if not recreate:
                return self._use_existing(wanted)
            log.warning("recreate=True: dropping collection %r at %s",
                        self.collection_name, self.settings.display_uri)
            self.drop_collection()
        self._create(wanted)
        self._meta = wanted
        return wanted

    @translate_errors
    def open_collection(self) -> GalleryMetadata:
        """Use an existing gallery (for search); checks schema/index and loads it."""
        if self._lite_missing():
            raise self._missing_lite_error()
        if not self.has_collection():
            raise CollectionNotFoundError(
                f"Collection {self.collection_name!r} does not exist at {self.settings.display_uri}; "
                "build (export) the gallery first"
            )
        return self._use_existing(self.metadata())

    @translate_errors
    def metadata(self) -> GalleryMetadata:
        """The gallery metadata stored with the collection (property, or description before v3 Lite)."""
        desc = self._client.describe_collection(self.collection_name, **self._rpc)
        try:
            return GalleryMetadata.from_collection(desc)
        except (ValueError, TypeError) as exc:
            raise CollectionMismatchError(
                f"Collection {self.collection_name!r} at {self.settings.display_uri} has no "
                f"{METADATA_FORMAT} metadata (not created by this project?). " + RECREATE_HINT
            ) from exc

    @translate_errors
    def update_extra(self, values: Mapping[str, Any]) -> GalleryMetadata:
        """Merge ``values`` into the open collection's metadata ``extra`` (e.g. a calibrated threshold)."""
        meta = self.metadata()
        meta.extra.update(values)
        self._client.alter_collection_properties(self.collection_name, properties={METADATA_PROPERTY: meta.to_json()},
                                                 **self._rpc)
        self._meta = meta
        return meta

    @translate_errors
    def index_info(self) -> IndexInfo:
        """The vector index exactly as the backend describes it."""
        names = self._client.list_indexes(self.collection_name, field_name=VECTOR_FIELD, **self._rpc)
        if not names:
            raise CollectionMismatchError(
                f"Collection {self.collection_name!r} has no index on {VECTOR_FIELD!r}. " + RECREATE_HINT)
        return parse_index(self._client.describe_index(self.collection_name, names[0], **self._rpc))

    def _index_build_params(self) -> dict[str, int]:
        if self.index_type == LITE_INDEX:
            return {}
        return {"M": int(self.settings.index_m), "efConstruction": int(self.settings.index_ef_construction)}

    def _new_metadata(self, dim: int, model_id: str, tta_mode: str,
                      extra: Mapping[str, Any] | None) -> GalleryMetadata:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        meta = GalleryMetadata(
            model_id=str(model_id), tta_mode=str(tta_mode), dim=dim, metric=METRIC,
            index_type=self.index_type, index_params=self._index_build_params(),
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            extra=dict(extra or {}),
        )
        meta.to_json()  # fail early when extra is not JSON-serialisable
        return meta

    def _create(self, meta: GalleryMetadata) -> None:
        schema = build_schema(meta.dim, description=meta.to_json())
        index = build_index(self.index_type, self._index_build_params())
        # With index_params, create_collection also builds the index and loads the collection.
        self._client.create_collection(
            self.collection_name, schema=schema, index_params=index,
            consistency_level=self.settings.consistency_level,
            properties={METADATA_PROPERTY: meta.to_json()}, **self._rpc)

    def _use_existing(self, wanted: GalleryMetadata) -> GalleryMetadata:
        found = self.metadata()
        problems = self._mismatches(wanted, found)
        if problems:
            raise CollectionMismatchError(
                f"Collection {self.collection_name!r} at {self.settings.display_uri} does not match "
                "the requested gallery:\n  - " + "\n  - ".join(problems) + "\n" + RECREATE_HINT)
        self._client.load_collection(self.collection_name, **self._rpc)
        self._meta = found
        return found

    def _mismatches(self, wanted: GalleryMetadata, found: GalleryMetadata) -> list[str]:
        """Human-readable 'expected X, found Y' lines (empty when everything matches)."""
        desc = self._client.describe_collection(self.collection_name, **self._rpc)
        found_dim, schema_problem = schema_mismatch(wanted.dim, desc.get("fields", []))
        index = self.index_info()
        build_params = self._index_build_params()
        # Only the parameters we set are compared; servers may report extra keys.
        found_params = {k: index.params.get(k) for k in build_params}
        checks = [
            ("embedding dim", wanted.dim, found_dim),
            ("metric", METRIC, index.metric_type),
            ("index type", self.index_type, index.index_type),
            ("index params", build_params, found_params),
            ("model", wanted.model_id, found.model_id),
            ("TTA mode", wanted.tta_mode, found.tta_mode),
        ]
        problems = [f"{what}: expected {exp!r}, found {got!r}" for what, exp, got in checks if exp != got]
        if schema_problem:
            problems.append(schema_problem)
        return problems

    def _require_meta(self) -> GalleryMetadata:
        if self._meta is None:
            self.open_collection()
        assert self._meta is not None
        return self._meta

    # ----------------------------------------------------------------- writes
    @translate_errors
    def upsert(
        self,
        image_paths: Sequence[str],
        person_ids: Sequence[str],
        embeddings: np.ndarray,
        *,
        ids: Sequence[int] | None = None,
        flush: bool = True,
    ) -> int:
        """Insert or replace rows keyed by ``ids`` (from :func:`row_id`, so re-export never duplicates; without
        ``ids``, rows with no image file behind them are keyed by :func:`path_to_id`).

        Sends batches sized well under the gRPC limit, then flushes. Returns rows written.
        """
        dim = self._require_meta().dim
        paths, pids = [str(p) for p in image_paths], [str(p) for p in person_ids]
        vectors = check_vectors(embeddings, dim)
        if not len(paths) == len(pids) == len(vectors):
            raise ValueError(f"got {len(paths)} paths, {len(pids)} person ids, {len(vectors)} embeddings")
        check_rows(paths, pids)
        keys = [int(i) for i in ids] if ids is not None else [path_to_id(path) for path in paths]
        check_keys(keys, paths)
        if not paths:
            return 0
        for part in batching.chunks(len(paths), self.rows_per_request(paths, pids)):
            rows = [
                {PK_FIELD: key, PERSON_FIELD: pid, PATH_FIELD: path, VECTOR_FIELD: vec}
                for key, path, pid, vec in zip(keys[part], paths[part], pids[part], vectors[part], strict=True)
            ]
            self._client.upsert(self.collection_name, rows, **self._rpc)
        if flush:
            self.flush()
        return len(paths)

    @staticmethod
    def check_rows(image_paths: Sequence[str], person_ids: Sequence[str]) -> None:
        """Check a whole export's paths and person ids before embedding anything: one ValueError
        counting every row Milvus would reject. :meth:`upsert` makes the same checks per call."""
        check_rows([str(p) for p in image_paths], [str(p) for p in person_ids])

    def rows_per_request(self, image_paths: Sequence[str], person_ids: Sequence[str]) -> int:
        """Rows that :meth:`upsert` sends per request for these rows (config or byte budget)."""
        dim = self._require_meta().dim
        texts = max(map(utf8_len, image_paths), default=0) + max(map(utf8_len, person_ids), default=0)
        return batching.rows_per_upsert(4 * dim + 8 + 32 + texts, self.settings.is_server,
                                        self.settings.insert_batch_rows)

    @translate_errors
    def delete_person(self, person_id: str) -> int:
        """Delete every row of ``person_id``; returns how many rows were deleted."""
        expr, params = person_filter(person_id, self._templated)
        return _deleted(self._client.delete(self.collection_name, filter=expr, **filter_kwargs(params), **self._rpc))

    @translate_errors
    def delete_ids(self, ids: Iterable[int]) -> int:
        """Delete the rows with these primary keys (missing ones are ignored); returns rows deleted."""
        keys = sorted(int(i) for i in ids)
        deleted = 0
        for part in batching.chunks(len(keys), batching.IDS_PER_REQUEST):
            deleted += _deleted(self._client.delete(self.collection_name, ids=keys[part], **self._rpc))
        return deleted

    @translate_errors
    def get_people(self, ids: Iterable[int]) -> dict[int, str]:
        """``{primary key: person_id}`` of the stored rows among ``ids`` (absent keys are left out)."""
        keys = sorted({int(i) for i in ids})
        people: dict[int, str] = {}
        for part in batching.chunks(len(keys), batching.IDS_PER_REQUEST):
            rows = self._client.query(self.collection_name, ids=keys[part], output_fields=[PK_FIELD, PERSON_FIELD],
                                      **_STRONG, **self._rpc)
            people.update({int(row[PK_FIELD]): row[PERSON_FIELD] for row in rows})
        return people

    # ----------------------------------------------------------------- reads
    @translate_errors
    def count(self) -> int:
        """Number of live rows (strongly consistent ``count(*)``)."""
        rows = self._client.query(self.collection_name, filter="", output_fields=["count(*)"],
                                  **_STRONG, **self._rpc)
        return int(rows[0]["count(*)"])

    @translate_errors
    def all_ids(self) -> set[int]:
        """Every primary key in the collection (paged with the query iterator, so any size)."""
        return all_ids(self)

    @translate_errors
    def query_person(self, person_id: str, *, with_embeddings: bool = False) -> list[GalleryRecord]:
        """All rows of ``person_id`` sorted by image path."""
        expr, params = person_filter(person_id, self._templated)
        fields = [PK_FIELD, PERSON_FIELD, PATH_FIELD] + ([VECTOR_FIELD] if with_embeddings else [])
        rows = self._client.query(self.collection_name, filter=expr, output_fields=fields,
                                  **filter_kwargs(params), **_STRONG, **self._rpc)
        records = [
            GalleryRecord(
                id=int(r[PK_FIELD]), person_id=r[PERSON_FIELD], image_path=r[PATH_FIELD],
                embedding=np.asarray(r[VECTOR_FIELD], dtype=np.float32) if with_embeddings else None,
            )
            for r in rows
        ]
        return sorted(records, key=lambda rec: rec.image_path)

    @translate_errors
    def search(
        self,
        queries: np.ndarray,
        top_k: int | None = None,
        *,
        ef: int | None = None,
        output_fields: Sequence[str] = (PERSON_FIELD, PATH_FIELD),
    ) -> list[list[SearchHit]]:
        """Nearest gallery rows for each query vector (one list of hits per query, best first).

        ``ef`` (default settings.search_ef, raised to at least ``top_k``) applies to HNSW only;
        Milvus Lite searches exactly (FLAT). Many queries are sent in batches.
        """
        dim = self._require_meta().dim
        vectors = check_vectors(queries, dim, allow_single=True)
        k = int(top_k or self.settings.top_k)
        if not 1 <= k <= batching.MAX_TOP_K:
            raise ValueError(f"top_k must be in [1, {batching.MAX_TOP_K}], got {k}")
        unknown = set(output_fields) - {PERSON_FIELD, PATH_FIELD}
        if unknown:
            raise ValueError(f"unsupported output fields {sorted(unknown)}")
        params = self._search_params(k, ef)
        hits: list[list[SearchHit]] = []
        for part in batching.chunks(len(vectors), batching.queries_per_search(dim)):
            result = self._client.search(
                self.collection_name, data=list(vectors[part]), limit=k, anns_field=VECTOR_FIELD,
                output_fields=list(output_fields), search_params=params, **self._rpc)
            hits.extend([SearchHit.from_milvus(hit, PERSON_FIELD, PATH_FIELD) for hit in per_query]
                        for per_query in result)
        return hits

    def _search_params(self, top_k: int, ef: int | None) -> dict[str, Any]:
        if self.index_type == LITE_INDEX:
            return {"metric_type": METRIC, "params": {}}
        return {"metric_type": METRIC, "params": {"ef": max(int(ef or self.settings.search_ef), top_k)}}


def _deleted(result: Any) -> int:
    """Rows a delete removed: servers >= 2.3.2 answer ``{"delete_count": n}`` (0 omitted), Milvus Lite 2.5.1 the
    deleted primary keys."""
    if isinstance(result, Mapping):
        return int(result.get("delete_count", 0))
    return len(result)
