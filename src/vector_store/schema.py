"""The gallery collection's schema and index: field specs, row checks, and comparing what a
backend reports with what the store expects."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pymilvus import CollectionSchema, DataType, MilvusClient
from pymilvus.milvus_client import IndexParams

from .records import IndexInfo

PK_FIELD, PERSON_FIELD, PATH_FIELD, VECTOR_FIELD = "id", "person_id", "image_path", "embedding"
PERSON_ID_MAX_BYTES = 256  # VARCHAR max_length counts UTF-8 bytes
IMAGE_PATH_MAX_BYTES = 2048
METRIC = "COSINE"
SERVER_INDEX, LITE_INDEX = "HNSW", "FLAT"
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# describe_index keys that are bookkeeping, not index build parameters.
_INDEX_INFO_KEYS = frozenset({
    "index_type", "metric_type", "field_name", "index_name", "total_rows", "indexed_rows",
    "pending_index_rows", "state", "dim", "params",
})

FieldSpec = tuple[DataType, bool, "int | None"]


def field_specs(dim: int) -> dict[str, FieldSpec]:
    """name -> (type, is_primary, max_length or dim); the single source of the schema."""
    return {
        PK_FIELD: (DataType.INT64, True, None),
        PERSON_FIELD: (DataType.VARCHAR, False, PERSON_ID_MAX_BYTES),
        PATH_FIELD: (DataType.VARCHAR, False, IMAGE_PATH_MAX_BYTES),
        VECTOR_FIELD: (DataType.FLOAT_VECTOR, False, dim),
    }


def build_schema(dim: int, description: str) -> CollectionSchema:
    """The collection schema for ``dim``-d embeddings (metadata JSON in the description)."""
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description=description)
    for name, (dtype, primary, size) in field_specs(dim).items():
        kwargs: dict[str, Any] = {"is_primary": True} if primary else {}
        if dtype == DataType.VARCHAR:
            kwargs["max_length"] = size
        elif dtype == DataType.FLOAT_VECTOR:
            kwargs["dim"] = size
        schema.add_field(name, dtype, **kwargs)
    return schema


def build_index(index_type: str, build_params: Mapping[str, int]) -> IndexParams:
    """Index parameters for the vector field (cosine metric)."""
    index = MilvusClient.prepare_index_params()
    index.add_index(field_name=VECTOR_FIELD, index_name=VECTOR_FIELD, index_type=index_type,
                    metric_type=METRIC, params=dict(build_params))
    return index


def describe_fields(fields: Sequence[Mapping[str, Any]]) -> dict[str, FieldSpec]:
    """Same shape as :func:`field_specs`, from ``describe_collection()['fields']``."""
    found = {}
    for f in fields:
        params = f.get("params") or {}
        size = params.get("max_length", params.get("dim"))
        found[f["name"]] = (DataType(f["type"]), bool(f.get("is_primary")), as_int(size))
    return found


def format_fields(spec: Mapping[str, FieldSpec]) -> str:
    return ", ".join(
        f"{name}:{dtype.name}{'(pk)' if pk else ''}{'' if size is None else f'[{size}]'}"
        for name, (dtype, pk, size) in spec.items()
    )


def schema_mismatch(wanted_dim: int, fields: Sequence[Mapping[str, Any]]) -> tuple[Any, str | None]:
    """(dim found, a 'schema: expected/found' line or None) for ``describe_collection()['fields']``."""
    found_fields = describe_fields(fields)
    found_dim = (found_fields.get(VECTOR_FIELD) or (None, None, None))[2]
    # The dim is reported on its own line by the caller; compare the rest of the schema at the found dim.
    expected = field_specs(found_dim if isinstance(found_dim, int) else wanted_dim)
    if found_fields == expected:
        return found_dim, None
    return found_dim, f"schema: expected [{format_fields(expected)}], found [{format_fields(found_fields)}]"


def parse_index(raw: Mapping[str, Any]) -> IndexInfo:
    """IndexInfo from ``describe_index`` (params may be nested as JSON text or a dict)."""
    raw = dict(raw)
    nested = raw.get("params")
    flat = {**(json.loads(nested) if isinstance(nested, str) else nested or {}), **raw}
    return IndexInfo(
        field_name=str(raw.get("field_name", VECTOR_FIELD)),
        index_type=str(flat.get("index_type")),
        metric_type=str(flat.get("metric_type")),
        params={k: as_int(v) for k, v in flat.items() if k not in _INDEX_INFO_KEYS},
        raw=raw,
    )


def as_int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


# --------------------------------------------------------------------------- row checks

def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def check_no_control_chars(field_name: str, value: str) -> None:
    if _CONTROL_CHARS.search(value):
        raise ValueError(f"{field_name} {value!r} contains control characters, which are not supported")


def check_text(field_name: str, value: str, max_bytes: int) -> None:
    """One VARCHAR value as Milvus stores it: valid UTF-8, not empty, at most ``max_bytes``."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"{field_name} {value!r} is not valid UTF-8 (a file or folder name the file "
                         "system could not decode?); rename it") from None
    if size == 0:
        raise ValueError(f"empty {field_name} is not allowed")
    if size > max_bytes:
        raise ValueError(
            f"{field_name} {value[:80]!r}... is {size} bytes (UTF-8) but the collection "
            f"allows at most {max_bytes}; values are never truncated"
        )


# Unicode categories of characters that do not show: format characters (zero-width space and joiners,
# right-to-left and other bidi controls, the BOM), line/paragraph separators, private-use and surrogates.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zl", "Zp", "Co", "Cs"})


def check_person_id(person_id: str) -> None:
    """A person id as the gallery stores it (no control characters, 1-256 UTF-8 bytes, no invisible or bidi
    control characters, which would make an id that looks like another person's); ValueError says why."""
    check_no_control_chars(PERSON_FIELD, person_id)
    check_text(PERSON_FIELD, person_id, PERSON_ID_MAX_BYTES)  # first: a lone surrogate is "not valid UTF-8"
    hidden = sorted({f"U+{ord(c):04X}" for c in person_id if unicodedata.category(c) in _INVISIBLE_CATEGORIES})
    if hidden:
        raise ValueError(f"{PERSON_FIELD} {person_id!r} contains invisible or bidi control characters "
                         f"({', '.join(hidden)}): such an id can look like another person's. Use visible characters "
                         "only.")


def check_keys(keys: Sequence[int], paths: Sequence[str]) -> None:
    """ValueError when two rows of one upsert have the same key (the same image twice), naming both paths."""
    if len(keys) != len(paths):
        raise ValueError(f"got {len(keys)} ids for {len(paths)} paths")
    first: dict[int, str] = {}
    for key, path in zip(keys, paths, strict=True):
        if key in first:
            raise ValueError(f"{path!r} is the same image as {first[key]!r} (same row key); write each image once.")
        first[key] = path


def check_rows(paths: Sequence[str], person_ids: Sequence[str], shown: int = 5) -> None:
    """Every check :meth:`MilvusStore.upsert` makes on the text columns, over the whole batch: one
    ValueError counting every row Milvus would reject (the first ``shown`` of them spelled out)."""
    if len(paths) != len(person_ids):
        raise ValueError(f"got {len(paths)} paths and {len(person_ids)} person ids")
    problems: list[str] = []
    for path, pid in zip(paths, person_ids, strict=True):
        try:
            check_person_id(pid)
        except ValueError as exc:
            problems.append(f"{exc} (image {path!r})")
        try:
            check_text(PATH_FIELD, path, IMAGE_PATH_MAX_BYTES)
        except ValueError as exc:
            problems.append(str(exc))
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            problems.append(f"image_path {path!r} appears twice in one upsert")
        seen.add(path)
    if problems:
        more = f"\n  ... and {len(problems) - shown} more" if len(problems) > shown else ""
        raise ValueError(f"{len(problems)} of {len(paths)} rows cannot be stored in Milvus (nothing was "
                         "written; a person id is its identity folder's name: rename the folder):\n  - "
                         + "\n  - ".join(problems[:shown]) + more)


def check_vectors(data: np.ndarray, dim: int, allow_single: bool = False) -> np.ndarray:
    """Contiguous float32 ``(n, dim)`` finite, non-zero vectors (cosine needs a norm)."""
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
