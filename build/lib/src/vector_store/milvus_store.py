"""Face gallery in Milvus: the only module of the project that imports ``pymilvus``.

Backends (chosen by the URI):

* Milvus Lite (``/path/gallery.db``, embedded, one process per file). Milvus Lite 2.5 refuses
  ``HNSW`` ("local mode only support FLAT IVF_FLAT AUTOINDEX"), so on Lite the collection gets
  an exact ``FLAT`` index (metric COSINE) and ``describe_index`` reports ``FLAT`` with no build
  params; ``ef`` is ignored there. Lite also has no filter templating and no ``GetVersion``.
* A Milvus server (``http(s)://host:port``): ``HNSW`` with ``M``/``efConstruction`` from config,
  metric COSINE, searched with ``ef``. Servers older than 2.5 (e.g. the 2.3.5 test server, the
  2.4 docker-compose server) have no filter templating either.

Filters on ``person_id`` therefore use ``filter_params`` templating on servers >= 2.5 and a
quoted, escaped string literal everywhere else (see :func:`quote_expr_string`); user text is
never pasted into an expression unescaped.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import re
import sys
import threading
import time
import types
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException

from .errors import (
    RECREATE_HINT,
    START_SERVER_HINT,
    CollectionMismatchError,
    CollectionNotFoundError,
    MilvusAuthError,
    MilvusStoreError,
    MilvusUnavailableError,
)
from .settings import MilvusSettings

log = logging.getLogger(__name__)

PK_FIELD, PERSON_FIELD, PATH_FIELD, VECTOR_FIELD = "id", "person_id", "image_path", "embedding"
PERSON_ID_MAX_BYTES = 256  # VARCHAR max_length counts UTF-8 bytes
IMAGE_PATH_MAX_BYTES = 2048
METRIC = "COSINE"
SERVER_INDEX, LITE_INDEX = "HNSW", "FLAT"
# Bytes per upsert call. The server accepts 64 MiB per gRPC message; 16 MiB keeps well clear.
# Milvus Lite 2.5.1 gets ~30x slower once one request carries more than ~6 MB (measured:
# 1000 rows x 1024-d: 2300 rows/s, 2000 rows: 120 rows/s), so Lite uses small requests.
SERVER_BATCH_BYTES = 16 * 2**20
LITE_BATCH_BYTES = 1 * 2**20
SEARCH_BATCH_BYTES = 8 * 2**20
MAX_QUERIES_PER_CALL = 1024
MAX_TOP_K = 16384  # Milvus limit on topk (and on nq)
METADATA_FORMAT = "facerec.gallery/v1"
_INT63_MASK = (1 << 63) - 1
_STRONG = {"consistency_level": "Strong"}
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# describe_index keys that are bookkeeping, not index build parameters.
_INDEX_INFO_KEYS = frozenset({
    "index_type", "metric_type", "field_name", "index_name", "total_rows", "indexed_rows",
    "pending_index_rows", "state", "dim", "params",
})


# --------------------------------------------------------------------------- plain results

@dataclass(frozen=True)
class SearchHit:
    """One search result; ``similarity`` is the cosine similarity (higher is closer)."""

    id: int
    similarity: float
    person_id: str | None = None
    image_path: str | None = None


@dataclass(frozen=True)
class GalleryRecord:
    """One stored row, as returned by :meth:`MilvusStore.query_person`."""

    id: int
    person_id: str
    image_path: str
    embedding: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class IndexInfo:
    """The vector index as reported by the server (``params`` holds only build parameters)."""

    field_name: str
    index_type: str
    metric_type: str
    params: dict[str, Any]
    raw: dict[str, Any]


@dataclass(frozen=True)
class GalleryMetadata:
    """What the gallery was built with; stored as JSON in the collection description."""

    model_id: str
    tta_mode: str
    dim: int
    metric: str
    index_type: str
    index_params: dict[str, Any]
    created_at: str
    extra: dict[str, Any] = field(default_factory=dict)
    format: str = METADATA_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> GalleryMetadata:
        """Parse a collection description; raises ValueError if it is not ours."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != METADATA_FORMAT:
            raise ValueError(f"description is not {METADATA_FORMAT} metadata")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})  # newer keys are ignored


# --------------------------------------------------------------------------- helpers

def path_to_id(image_path: str) -> int:
    """Deterministic positive int63 primary key: first 8 bytes of blake2b(path), masked."""
    digest = hashlib.blake2b(str(image_path).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & _INT63_MASK


def quote_expr_string(value: str) -> str:
    """Milvus expression string literal for ``value`` (backslashes and quotes escaped).

    Control characters are rejected: Milvus Lite does not match escaped control characters.
    """
    _check_no_control_chars(PERSON_FIELD, value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def person_filter(person_id: str, templated: bool) -> tuple[str, dict[str, Any]]:
    """Expression (and template params) selecting one person's rows."""
    if not isinstance(person_id, str) or not person_id:
        raise ValueError(f"person_id must be a non-empty string, got {person_id!r}")
    if templated:
        _check_no_control_chars(PERSON_FIELD, person_id)
        return f"{PERSON_FIELD} == {{pid}}", {"pid": person_id}
    return f"{PERSON_FIELD} == {quote_expr_string(person_id)}", {}


def supports_filter_templates(server_version: str | None) -> bool:
    """Filter templating (``filter_params``) exists from Milvus 2.5; Lite (None) lacks it."""
    match = re.match(r"v?(\d+)\.(\d+)", server_version or "")
    return bool(match) and (int(match[1]), int(match[2])) >= (2, 5)


def rows_per_upsert(row_bytes: int, server: bool, override: int | None = None) -> int:
    """Rows per upsert call: ``override`` (config insert_batch_rows) or a per-backend byte budget."""
    if override:
        return int(override)
    budget = SERVER_BATCH_BYTES if server else LITE_BATCH_BYTES
    return max(1, budget // max(1, row_bytes))


def _check_no_control_chars(field_name: str, value: str) -> None:
    if _CONTROL_CHARS.search(value):
        raise ValueError(f"{field_name} {value!r} contains control characters, which are not supported")


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _check_texts(field_name: str, values: Sequence[str], max_bytes: int) -> None:
    for value in values:
        size = _utf8_len(value)
        if size == 0:
            raise ValueError(f"empty {field_name} is not allowed")
        if size > max_bytes:
            raise ValueError(
                f"{field_name} {value[:80]!r}... is {size} bytes (UTF-8) but the collection "
                f"allows at most {max_bytes}; values are never truncated"
            )


def _check_unique(paths: Sequence[str]) -> None:
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            raise ValueError(f"image_path {path!r} appears twice in one upsert")
        seen.add(path)


def _chunks(n_rows: int, size: int) -> Iterator[slice]:
    for start in range(0, n_rows, size):
        yield slice(start, min(n_rows, start + size))


def _as_int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _field_specs(dim: int) -> dict[str, tuple[DataType, bool, int | None]]:
    """name -> (type, is_primary, max_length or dim); the single source of the schema."""
    return {
        PK_FIELD: (DataType.INT64, True, None),
        PERSON_FIELD: (DataType.VARCHAR, False, PERSON_ID_MAX_BYTES),
        PATH_FIELD: (DataType.VARCHAR, False, IMAGE_PATH_MAX_BYTES),
        VECTOR_FIELD: (DataType.FLOAT_VECTOR, False, dim),
    }


def _describe_fields(fields: Sequence[Mapping[str, Any]]) -> dict[str, tuple[DataType, bool, int | None]]:
    """Same shape as :func:`_field_specs`, from ``describe_collection()['fields']``."""
    found = {}
    for f in fields:
        params = f.get("params") or {}
        size = params.get("max_length", params.get("dim"))
        found[f["name"]] = (DataType(f["type"]), bool(f.get("is_primary")), _as_int(size))
    return found


def _fmt_fields(spec: Mapping[str, tuple[DataType, bool, int | None]]) -> str:
    return ", ".join(
        f"{name}:{dtype.name}{'(pk)' if pk else ''}{'' if size is None else f'[{size}]'}"
        for name, (dtype, pk, size) in spec.items()
    )


def _is_auth_error(exc: MilvusException) -> bool:
    text = str(getattr(exc, "message", exc)).lower()
    return any(word in text for word in ("auth", "credential", "password", "permission denied"))


def _short(exc: BaseException) -> str:
    return str(getattr(exc, "message", "") or exc).strip()[:300]


_F = TypeVar("_F", bound=Callable[..., Any])


def _translate_errors(method: _F) -> _F:
    """Re-raise pymilvus errors as MilvusStoreError / MilvusUnavailableError (callers cannot
    import pymilvus), naming the operation, collection and URI."""

    @functools.wraps(method)
    def wrapper(self: MilvusStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except MilvusException as exc:
            text = (f"Milvus {method.__name__} on collection {self.collection_name!r} at "
                    f"{self.settings.display_uri} failed: {_short(exc)}")
            if "unavailable" in text.lower() or "connect" in _short(exc).lower():
                raise MilvusUnavailableError(f"{text}. {START_SERVER_HINT}") from exc
            raise MilvusStoreError(text) from exc

    return wrapper  # type: ignore[return-value]


# --------------------------------------------------------------------------- Milvus Lite

_LITE_LOCK = threading.Lock()
_LITE_REFS: dict[str, int] = {}


def _import_milvus_lite() -> None:
    """Import milvus-lite 2.5.1, which reads its version via ``pkg_resources``.

    setuptools >= 81 no longer ships ``pkg_resources``; a stand-in exists only while the import
    runs, so nothing else in the process sees a fake module.
    """
    if "milvus_lite" in sys.modules:
        return
    try:
        import milvus_lite  # noqa: F401
        return
    except ModuleNotFoundError as exc:
        if exc.name != "pkg_resources":
            raise
    shim = types.ModuleType("pkg_resources")
    shim.DistributionNotFound = importlib.metadata.PackageNotFoundError  # type: ignore[attr-defined]
    shim.get_distribution = lambda name: types.SimpleNamespace(  # type: ignore[attr-defined]
        version=importlib.metadata.version(name))
    sys.modules["pkg_resources"] = shim
    try:
        import milvus_lite  # noqa: F401,F811
    finally:
        if sys.modules.get("pkg_resources") is shim:
            del sys.modules["pkg_resources"]


def _release_lite(path: str) -> None:
    """Stop the Milvus Lite process of ``path`` once no store of this process uses it."""
    with _LITE_LOCK:
        _LITE_REFS[path] -= 1
        if _LITE_REFS[path] > 0:
            return
        del _LITE_REFS[path]
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(path)


# --------------------------------------------------------------------------- connection

def _client_kwargs(settings: MilvusSettings, alias: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"uri": settings.uri, "alias": alias, "timeout": settings.connect_timeout_s}
    optional = {
        "token": settings.token, "user": settings.user, "password": settings.password,
        "db_name": settings.db_name, "server_pem_path": settings.server_pem_path,
        "server_name": settings.server_name,
    }
    kwargs.update({k: v for k, v in optional.items() if v})
    if settings.secure:
        kwargs["secure"] = True
    return kwargs


def _open_lite(settings: MilvusSettings, alias: str) -> tuple[MilvusClient, str]:
    path = Path(settings.uri).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    _import_milvus_lite()
    try:
        client = MilvusClient(uri=str(path), alias=alias)
    except MilvusException as exc:
        raise MilvusUnavailableError(
            f"Could not open the Milvus Lite file {path}: {_short(exc)}. Milvus Lite allows one "
            "process per file; is another process using it?"
        ) from exc
    with _LITE_LOCK:
        _LITE_REFS[str(path)] = _LITE_REFS.get(str(path), 0) + 1
    return client, str(path)


def _connect_server(settings: MilvusSettings, alias: str) -> MilvusClient:
    """Connect with a few short retries; total time is about attempts x connect_timeout_s."""
    kwargs = _client_kwargs(settings, alias)
    start, last_error = time.monotonic(), ""
    for attempt in range(1, settings.connect_attempts + 1):
        try:
            return MilvusClient(**kwargs)
        except MilvusException as exc:
            if _is_auth_error(exc):
                raise MilvusAuthError(
                    f"Milvus at {settings.display_uri} rejected the credentials ({_short(exc)}); "
                    "check the token / user / password in the config or in MILVUS_TOKEN, "
                    "MILVUS_USER, MILVUS_PASSWORD"
                ) from exc
            last_error = _short(exc)
            log.warning("Milvus at %s not reachable (attempt %d/%d): %s",
                        settings.display_uri, attempt, settings.connect_attempts, last_error)
        if attempt < settings.connect_attempts:
            time.sleep(settings.connect_backoff_s * 2 ** (attempt - 1))
    raise MilvusUnavailableError(
        f"Could not reach Milvus at {settings.display_uri} after {settings.connect_attempts} "
        f"attempt(s) in {time.monotonic() - start:.1f}s (last error: {last_error}). {START_SERVER_HINT}"
    )


# --------------------------------------------------------------------------- the store

class MilvusStore:
    """Gallery of face embeddings in one Milvus collection (see module docstring)."""

    def __init__(self, settings: MilvusSettings) -> None:
        self.settings = settings
        self._alias = f"facerec-{uuid.uuid4().hex[:12]}"
        self._lite_path: str | None = None
        if settings.is_server:
            self._client = _connect_server(settings, self._alias)
        else:
            self._client, self._lite_path = _open_lite(settings, self._alias)
        # pymilvus retries failed calls up to 75 times (minutes) unless told otherwise; an *int*
        # timeout would make it retry until that timeout. A float timeout is only the gRPC
        # deadline, and retry_times caps the retries.
        self._rpc = {"timeout": float(settings.request_timeout_s), "retry_times": 2}
        self.server_version = self._read_server_version()
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
        """Index this store builds: HNSW on a server, FLAT on Milvus Lite (no HNSW there)."""
        return SERVER_INDEX if self.settings.is_server else LITE_INDEX

    @property
    def uses_filter_templates(self) -> bool:
        """True when person filters go through ``filter_params`` (servers >= 2.5)."""
        return self._templated

    def __repr__(self) -> str:
        return (f"MilvusStore(backend={self.backend!r}, collection={self.collection_name!r}, "
                f"server_version={self.server_version!r}, settings={self.settings!r})")

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Drop the connection (and stop the Lite process when no other store uses the file)."""
        if self._client is None:
            return
        self._client.close()
        self._client = None  # type: ignore[assignment]
        if self._lite_path:
            _release_lite(self._lite_path)

    def __enter__(self) -> MilvusStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_server_version(self) -> str | None:
        if not self.settings.is_server:
            return None  # Milvus Lite does not implement GetVersion
        try:
            return str(self._client.get_server_version(**self._rpc))
        except MilvusException:
            return None

    # ----------------------------------------------------------------- collection
    @_translate_errors
    def has_collection(self) -> bool:
        return bool(self._client.has_collection(self.collection_name, **self._rpc))

    @_translate_errors
    def drop_collection(self) -> None:
        self._client.drop_collection(self.collection_name, **self._rpc)
        self._meta = None

    @_translate_errors
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

    @_translate_errors
    def open_collection(self) -> GalleryMetadata:
        """Use an existing gallery (for search); checks schema/index and loads it."""
        if not self.has_collection():
            raise CollectionNotFoundError(
                f"Collection {self.collection_name!r} does not exist at {self.settings.display_uri}; "
                "build (export) the gallery first"
            )
        return self._use_existing(self.metadata())

    @_translate_errors
    def metadata(self) -> GalleryMetadata:
        """The gallery metadata stored in the collection description."""
        desc = self._client.describe_collection(self.collection_name, **self._rpc)
        try:
            return GalleryMetadata.from_json(desc.get("description") or "")
        except (ValueError, TypeError) as exc:
            raise CollectionMismatchError(
                f"Collection {self.collection_name!r} at {self.settings.display_uri} has no "
                f"{METADATA_FORMAT} metadata in its description (not created by this project?). "
                + RECREATE_HINT
            ) from exc

    @_translate_errors
    def index_info(self) -> IndexInfo:
        """The vector index exactly as the backend describes it."""
        names = self._client.list_indexes(self.collection_name, field_name=VECTOR_FIELD, **self._rpc)
        if not names:
            raise CollectionMismatchError(
                f"Collection {self.collection_name!r} has no index on {VECTOR_FIELD!r}. " + RECREATE_HINT)
        raw = dict(self._client.describe_index(self.collection_name, names[0], **self._rpc))
        nested = raw.get("params")
        flat = {**(json.loads(nested) if isinstance(nested, str) else nested or {}), **raw}
        return IndexInfo(
            field_name=str(raw.get("field_name", VECTOR_FIELD)),
            index_type=str(flat.get("index_type")),
            metric_type=str(flat.get("metric_type")),
            params={k: _as_int(v) for k, v in flat.items() if k not in _INDEX_INFO_KEYS},
            raw=raw,
        )

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
        schema = MilvusClient.create_schema(
            auto_id=False, enable_dynamic_field=False, description=meta.to_json())
        for name, (dtype, primary, size) in _field_specs(meta.dim).items():
            kwargs: dict[str, Any] = {"is_primary": True} if primary else {}
            if dtype == DataType.VARCHAR:
                kwargs["max_length"] = size
            elif dtype == DataType.FLOAT_VECTOR:
                kwargs["dim"] = size
            schema.add_field(name, dtype, **kwargs)
        index = MilvusClient.prepare_index_params()
        index.add_index(field_name=VECTOR_FIELD, index_name=VECTOR_FIELD, index_type=self.index_type,
                        metric_type=METRIC, params=self._index_build_params())
        # With index_params, create_collection also builds the index and loads the collection.
        self._client.create_collection(
            self.collection_name, schema=schema, index_params=index,
            consistency_level=self.settings.consistency_level, **self._rpc)

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
        found_fields = _describe_fields(desc.get("fields", []))
        found_dim = (found_fields.get(VECTOR_FIELD) or (None, None, None))[2]
        # The dim has its own line below; compare the rest of the schema at the found dim.
        expected_fields = _field_specs(found_dim if isinstance(found_dim, int) else wanted.dim)
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
        if found_fields != expected_fields:
            problems.append(f"schema: expected [{_fmt_fields(expected_fields)}], "
                            f"found [{_fmt_fields(found_fields)}]")
        return problems

    def _require_meta(self) -> GalleryMetadata:
        if self._meta is None:
            self.open_collection()
        assert self._meta is not None
        return self._meta

    # ----------------------------------------------------------------- writes
    @_translate_errors
    def upsert(
        self,
        image_paths: Sequence[str],
        person_ids: Sequence[str],
        embeddings: np.ndarray,
        *,
        flush: bool = True,
    ) -> int:
        """Insert or replace rows keyed by image path (re-export never duplicates).

        Sends batches sized well under the gRPC limit, then flushes. Returns rows written.
        """
        dim = self._require_meta().dim
        paths, pids = [str(p) for p in image_paths], [str(p) for p in person_ids]
        vectors = self._check_vectors(embeddings, dim)
        if not len(paths) == len(pids) == len(vectors):
            raise ValueError(f"got {len(paths)} paths, {len(pids)} person ids, {len(vectors)} embeddings")
        for pid in pids:
            _check_no_control_chars(PERSON_FIELD, pid)
        _check_texts(PERSON_FIELD, pids, PERSON_ID_MAX_BYTES)
        _check_texts(PATH_FIELD, paths, IMAGE_PATH_MAX_BYTES)
        _check_unique(paths)
        if not paths:
            return 0
        for part in _chunks(len(paths), self.rows_per_request(paths, pids)):
            rows = [
                {PK_FIELD: path_to_id(path), PERSON_FIELD: pid, PATH_FIELD: path, VECTOR_FIELD: vec}
                for path, pid, vec in zip(paths[part], pids[part], vectors[part])
            ]
            self._client.upsert(self.collection_name, rows, **self._rpc)
        if flush:
            self.flush()
        return len(paths)

    def rows_per_request(self, image_paths: Sequence[str], person_ids: Sequence[str]) -> int:
        """Rows that :meth:`upsert` sends per request for these rows (config or byte budget)."""
        dim = self._require_meta().dim
        texts = max(map(_utf8_len, image_paths), default=0) + max(map(_utf8_len, person_ids), default=0)
        return rows_per_upsert(4 * dim + 8 + 32 + texts, self.settings.is_server, self.settings.insert_batch_rows)

    @_translate_errors
    def flush(self) -> None:
        """Persist growing segments (the server then builds the index on them)."""
        self._client.flush(self.collection_name, **self._rpc)

    @_translate_errors
    def load(self) -> None:
        """Load the collection into memory for search (idempotent)."""
        self._client.load_collection(self.collection_name, **self._rpc)

    @_translate_errors
    def release(self) -> None:
        """Release the collection from memory (a later :meth:`load` reads the built index)."""
        self._client.release_collection(self.collection_name, **self._rpc)

    @_translate_errors
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

    @_translate_errors
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

    def publish(self) -> None:
        """Make written rows searchable through the index: flush, wait for the index build and (on a
        server) reload, since segments loaded before their index was built are searched brute force."""
        self.flush()
        self.wait_for_index()
        if self.settings.is_server:
            self.release()
        self.load()

    @_translate_errors
    def delete_person(self, person_id: str) -> int:
        """Delete every row of ``person_id``; returns how many rows were deleted."""
        expr, params = person_filter(person_id, self._templated)
        result = self._client.delete(self.collection_name, filter=expr,
                                     **self._filter_kwargs(params), **self._rpc)
        if isinstance(result, Mapping):  # servers >= 2.3.2: {"delete_count": n} (0 omitted)
            return int(result.get("delete_count", 0))
        return len(result)  # Milvus Lite 2.5.1 returns the deleted primary keys

    # ----------------------------------------------------------------- reads
    @_translate_errors
    def count(self) -> int:
        """Number of live rows (strongly consistent ``count(*)``)."""
        rows = self._client.query(self.collection_name, filter="", output_fields=["count(*)"],
                                  **_STRONG, **self._rpc)
        return int(rows[0]["count(*)"])

    @_translate_errors
    def query_person(self, person_id: str, *, with_embeddings: bool = False) -> list[GalleryRecord]:
        """All rows of ``person_id`` sorted by image path."""
        expr, params = person_filter(person_id, self._templated)
        fields = [PK_FIELD, PERSON_FIELD, PATH_FIELD] + ([VECTOR_FIELD] if with_embeddings else [])
        rows = self._client.query(self.collection_name, filter=expr, output_fields=fields,
                                  **self._filter_kwargs(params), **_STRONG, **self._rpc)
        records = [
            GalleryRecord(
                id=int(r[PK_FIELD]), person_id=r[PERSON_FIELD], image_path=r[PATH_FIELD],
                embedding=np.asarray(r[VECTOR_FIELD], dtype=np.float32) if with_embeddings else None,
            )
            for r in rows
        ]
        return sorted(records, key=lambda rec: rec.image_path)

    @_translate_errors
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
        vectors = self._check_vectors(queries, dim, allow_single=True)
        k = int(top_k or self.settings.top_k)
        if not 1 <= k <= MAX_TOP_K:
            raise ValueError(f"top_k must be in [1, {MAX_TOP_K}], got {k}")
        unknown = set(output_fields) - {PERSON_FIELD, PATH_FIELD}
        if unknown:
            raise ValueError(f"unsupported output fields {sorted(unknown)}")
        params = self._search_params(k, ef)
        per_call = max(1, min(MAX_QUERIES_PER_CALL, SEARCH_BATCH_BYTES // (4 * dim)))
        hits: list[list[SearchHit]] = []
        for part in _chunks(len(vectors), per_call):
            result = self._client.search(
                self.collection_name, data=list(vectors[part]), limit=k, anns_field=VECTOR_FIELD,
                output_fields=list(output_fields), search_params=params, **self._rpc)
            hits.extend([self._to_hit(hit) for hit in per_query] for per_query in result)
        return hits

    def _search_params(self, top_k: int, ef: int | None) -> dict[str, Any]:
        if self.index_type == LITE_INDEX:
            return {"metric_type": METRIC, "params": {}}
        return {"metric_type": METRIC, "params": {"ef": max(int(ef or self.settings.search_ef), top_k)}}

    @staticmethod
    def _to_hit(hit: Mapping[str, Any]) -> SearchHit:
        entity = hit.get("entity") or {}
        return SearchHit(id=int(hit["id"]), similarity=float(hit["distance"]),
                         person_id=entity.get(PERSON_FIELD), image_path=entity.get(PATH_FIELD))

    @staticmethod
    def _filter_kwargs(params: Mapping[str, Any]) -> dict[str, Any]:
        return {"filter_params": dict(params)} if params else {}

    @staticmethod
    def _check_vectors(data: np.ndarray, dim: int, allow_single: bool = False) -> np.ndarray:
        vectors = np.asarray(data, dtype=np.float32)
        if allow_single and vectors.ndim == 1:
            vectors = vectors[None, :]
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            raise ValueError(f"expected vectors of shape (n, {dim}), got {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise ValueError("vectors contain NaN or inf")
        if len(vectors) and not (np.linalg.norm(vectors, axis=1) > 0).all():
            raise ValueError("zero vectors have no cosine similarity")
        return np.ascontiguousarray(vectors)
