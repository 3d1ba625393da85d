"""Milvus gallery store on both backends: Milvus Lite and a real Milvus 2.3.5 standalone server.

What each backend really reports (asserted below, not papered over):
* On Lite the store builds FLAT (exact search); describe_index says FLAT/COSINE, no params.
* The 2.3.5 server builds HNSW and reports M/efConstruction as configured, metric COSINE.
* Neither supports filter templating (Milvus >= 2.5 servers only): person filters are escaped
  string literals there, which the injection test checks end to end.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from src.vector_store import (
    CollectionMismatchError,
    CollectionNotFoundError,
    MilvusSettings,
    MilvusStore,
    MilvusStoreError,
    MilvusUnavailableError,
    batching,
    expressions,
    path_to_id,
)

DIM = 1024
CONF_DIR = Path(__file__).resolve().parents[1] / "conf" / "milvus"
TRICKY_PERSON_IDS = [
    'x" or person_id != "',
    '" || id > 0 || "',
    'quote"inside',
    "it's",
    "back\\slash\\",
    '\\"',
    "uni é 漢 👤",
]


def unit_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make_store(uri: str, collection: str, **overrides) -> MilvusStore:
    return MilvusStore(MilvusSettings(uri=uri, collection=collection, **overrides))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Gallery:
    store: MilvusStore
    paths: list[str]
    person_ids: list[str]
    vectors: np.ndarray


@pytest.fixture(scope="module")
def gallery(milvus_module_uri: str) -> Iterator[Gallery]:
    """200 rows (50 people x 4 images) on one backend, shared by the read-only tests."""
    store = make_store(milvus_module_uri, "read_tests", index_m=24, index_ef_construction=96)
    store.ensure_collection(DIM, model_id="resnet50-cosface@epoch=7-abc123", tta_mode="flip",
                            extra={"image_size": 112}, recreate=True)
    paths = [f"/faces/p{i // 4:03d}/img_{i:04d}.jpg" for i in range(200)]
    person_ids = [f"p{i // 4:03d}" for i in range(200)]
    vectors = unit_vectors(200)
    assert store.upsert(paths, person_ids, vectors) == 200
    yield Gallery(store, paths, person_ids, vectors)
    store.drop_collection()
    store.close()


@pytest.fixture
def store(milvus_uri: str, milvus_collection: str) -> Iterator[MilvusStore]:
    """An empty store on a collection of its own (dropped afterwards)."""
    st = make_store(milvus_uri, milvus_collection)
    yield st
    if st.has_collection():
        st.drop_collection()
    st.close()


# ------------------------------------------------------------------ read-only, shared gallery

def test_count_metadata_and_backend_facts(gallery: Gallery) -> None:
    store = gallery.store
    assert store.count() == 200
    meta = store.metadata()
    assert (meta.model_id, meta.tta_mode, meta.dim, meta.metric) == (
        "resnet50-cosface@epoch=7-abc123", "flip", DIM, "COSINE")
    assert meta.extra == {"image_size": 112}
    assert datetime.fromisoformat(meta.created_at).tzinfo is not None
    # Neither Lite nor the 2.3.5 server has filter templating.
    assert store.uses_filter_templates is False
    if store.backend == "lite":
        assert store.server_version is None
        assert (meta.index_type, meta.index_params) == ("FLAT", {})
    else:
        assert store.server_version.startswith("v2.3.5")
        assert (meta.index_type, meta.index_params) == ("HNSW", {"M": 24, "efConstruction": 96})


def test_index_as_reported_by_backend(gallery: Gallery) -> None:
    info = gallery.store.index_info()
    assert info.field_name == "embedding"
    assert info.metric_type == "COSINE"
    if gallery.store.backend == "lite":
        # Milvus Lite 3 reports the row counts a server reports (Lite 2.5.1 echoed the dim instead).
        assert (info.index_type, info.params) == ("FLAT", {})
        assert (int(info.raw["total_rows"]), int(info.raw["pending_index_rows"])) == (200, 0)
    else:
        assert (info.index_type, info.params) == ("HNSW", {"M": 24, "efConstruction": 96})
        assert (info.raw["M"], info.raw["efConstruction"]) == ("24", "96")


def test_search_with_stored_vector_returns_it_first(gallery: Gallery) -> None:
    hits = gallery.store.search(gallery.vectors[:5], top_k=5, ef=64)
    assert len(hits) == 5
    for i, per_query in enumerate(hits):
        assert len(per_query) == 5
        best = per_query[0]
        assert best.id == path_to_id(gallery.paths[i])
        assert best.image_path == gallery.paths[i]
        assert best.person_id == gallery.person_ids[i]
        assert best.similarity == pytest.approx(1.0, abs=1e-4)
        sims = [h.similarity for h in per_query]
        assert sims == sorted(sims, reverse=True)
        assert sims[1] < 0.5  # random 1024-d unit vectors are nearly orthogonal


def test_single_query_and_output_fields(gallery: Gallery) -> None:
    [hits] = gallery.store.search(gallery.vectors[7], top_k=1, output_fields=("person_id",))
    assert hits[0].person_id == gallery.person_ids[7] and hits[0].image_path is None
    with pytest.raises(ValueError, match="shape"):
        gallery.store.search(np.ones((1, DIM + 1), dtype=np.float32))


def test_batched_search_splits_many_queries(gallery: Gallery, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "MAX_QUERIES_PER_CALL", 3)
    hits = gallery.store.search(gallery.vectors[10:20], top_k=2)
    assert [h[0].image_path for h in hits] == gallery.paths[10:20]


def test_query_person(gallery: Gallery) -> None:
    records = gallery.store.query_person("p007", with_embeddings=True)
    assert [r.image_path for r in records] == gallery.paths[28:32]
    assert {r.person_id for r in records} == {"p007"}
    assert [r.id for r in records] == [path_to_id(p) for p in gallery.paths[28:32]]
    np.testing.assert_allclose(np.stack([r.embedding for r in records]), gallery.vectors[28:32], atol=1e-6)
    assert gallery.store.query_person("p0") == []  # prefix of existing ids matches nothing


def test_reopen_existing_collection(gallery: Gallery) -> None:
    original = gallery.store.metadata()
    other = make_store(gallery.store.settings.uri, "read_tests", index_m=24, index_ef_construction=96)
    try:
        assert other.open_collection() == original
        again = other.ensure_collection(DIM, model_id=original.model_id, tta_mode="flip")
        assert again.created_at == original.created_at  # existing collection kept, not rebuilt
        assert other.count() == 200
    finally:
        other.close()


def test_values_too_long_or_invalid_are_rejected_not_truncated(gallery: Gallery) -> None:
    store, vec = gallery.store, gallery.vectors[:1]
    with pytest.raises(ValueError, match=r"person_id .* 257 bytes .* at most 256"):
        store.upsert(["/x/long.jpg"], ["p" * 257], vec)
    with pytest.raises(ValueError, match="258 bytes"):  # UTF-8 bytes, not characters
        store.upsert(["/x/long.jpg"], ["é" * 129], vec)
    with pytest.raises(ValueError, match=r"image_path .* at most 2048"):
        store.upsert(["/" + "d" * 2048], ["p1"], vec)
    with pytest.raises(ValueError, match="control characters"):
        store.upsert(["/x/tab.jpg"], ["tab\there"], vec)
    with pytest.raises(ValueError, match="twice"):
        store.upsert(["/x/a.jpg", "/x/a.jpg"], ["p1", "p1"], gallery.vectors[:2])
    with pytest.raises(ValueError, match="zero vectors"):
        store.upsert(["/x/zero.jpg"], ["p1"], np.zeros((1, DIM), dtype=np.float32))
    assert store.count() == 200


# ------------------------------------------------------------------ writes, own collection

def test_reupsert_never_duplicates(store: MilvusStore) -> None:
    store = make_store(store.settings.uri, store.collection_name, insert_batch_rows=16)
    store.ensure_collection(DIM, model_id="m", tta_mode="none")
    paths = [f"/faces/p{i % 10}/{i}.jpg" for i in range(60)]
    people = [f"p{i % 10}" for i in range(60)]
    store.upsert(paths, people, unit_vectors(60, seed=1))
    assert store.count() == 60

    moved = unit_vectors(60, seed=2)  # same paths, new embeddings and labels: replaced in place
    store.upsert(paths, ["q"] * 60, moved)
    assert store.count() == 60
    [[best]] = store.search(moved[3], top_k=1)
    assert (best.image_path, best.person_id) == (paths[3], "q")
    assert best.similarity == pytest.approx(1.0, abs=1e-4)
    assert store.query_person("p3") == []

    new_paths = [f"/faces/new/{i}.jpg" for i in range(7)]
    store.upsert(paths[:5] + new_paths, ["q"] * 12, unit_vectors(12, seed=3), flush=False)
    assert store.count() == 67
    store.close()


def test_delete_person_and_injection_safe_filters(store: MilvusStore) -> None:
    store.ensure_collection(DIM, model_id="m", tta_mode="none")
    people = ["alice"] * 3 + ["x"] * 2 + [pid for pid in TRICKY_PERSON_IDS for _ in range(2)]
    paths = [f"/faces/{i}.jpg" for i in range(len(people))]
    store.upsert(paths, people, unit_vectors(len(people), seed=4), flush=False)
    total = len(people)
    assert store.count() == total
    assert store.delete_person("nobody") == 0

    for pid in TRICKY_PERSON_IDS:
        records = store.query_person(pid)
        assert [r.person_id for r in records] == [pid, pid], pid
        assert store.delete_person(pid) == 2, pid
        assert store.query_person(pid) == []
    assert store.count() == total - 2 * len(TRICKY_PERSON_IDS)
    assert [r.person_id for r in store.query_person("alice")] == ["alice"] * 3
    assert len(store.query_person("x")) == 2
    assert store.delete_person("alice") == 3
    assert store.count() == 2


def test_mismatch_is_explained_and_recreate_rebuilds(store: MilvusStore) -> None:
    store.ensure_collection(64, model_id="model-a", tta_mode="none")
    store.upsert(["/a.jpg", "/b.jpg"], ["a", "b"], unit_vectors(2, dim=64), flush=False)
    uri, name = store.settings.uri, store.collection_name

    with make_store(uri, name) as other:
        with pytest.raises(CollectionMismatchError) as err:
            other.ensure_collection(128, model_id="model-b", tta_mode="flip")
    text = str(err.value)
    assert "embedding dim: expected 128, found 64" in text
    assert "model: expected 'model-b', found 'model-a'" in text
    assert "TTA mode: expected 'flip', found 'none'" in text
    assert "recreate=True" in text and name in text and uri in text

    with make_store(uri, name, index_m=8, recreate=True) as rebuilt:  # recreate from settings
        meta = rebuilt.ensure_collection(128, model_id="model-b", tta_mode="flip")
        assert (meta.dim, meta.model_id, meta.tta_mode) == (128, "model-b", "flip")
        assert rebuilt.metadata() == meta
        assert rebuilt.count() == 0
        rebuilt.upsert(["/c.jpg"], ["c"], unit_vectors(1, dim=128), flush=False)
        assert rebuilt.count() == 1
        if rebuilt.backend == "server":
            assert rebuilt.index_info().params == {"M": 8, "efConstruction": 200}

    if store.backend == "server":  # Lite has no index build params that could differ
        with make_store(uri, name) as default_m:
            with pytest.raises(CollectionMismatchError,
                               match=r"index params: expected \{'M': 16, 'efConstruction': 200\}, "
                                     r"found \{'M': 8, 'efConstruction': 200\}"):
                default_m.ensure_collection(128, model_id="model-b", tta_mode="flip")


def test_wait_for_index_compact_release_and_load(store: MilvusStore) -> None:
    store.ensure_collection(DIM, model_id="m", tta_mode="none")
    paths = [f"/faces/{i}.jpg" for i in range(200)]
    store.upsert(paths, ["p"] * 200, unit_vectors(200, seed=5), flush=False)
    if store.backend == "server":  # unflushed rows are not indexed yet
        with pytest.raises(MilvusStoreError, match=r"not built after 0s \(0/200 rows indexed"):
            store.wait_for_index(timeout_s=0.0)
    store.flush()
    assert store.wait_for_index(timeout_s=60.0) >= 0.0
    assert store.compact(timeout_s=60.0) >= 0.0  # upserts leave deletes for compaction to apply
    assert store.wait_for_index(timeout_s=60.0) >= 0.0
    assert store.count() == 200
    if store.backend == "server":
        raw = store.index_info().raw
        assert (int(raw["indexed_rows"]), int(raw["pending_index_rows"])) == (200, 0)
    store.release()
    if store.backend == "server":  # Lite answers searches on a released collection
        with pytest.raises(MilvusStoreError, match="search"):
            store.search(unit_vectors(1))
    store.load()
    [[best]] = store.search(unit_vectors(200, seed=5)[7], top_k=1)
    assert best.image_path == paths[7]


def test_rows_per_request_follows_byte_budget_or_config(store: MilvusStore) -> None:
    store.ensure_collection(DIM, model_id="m", tta_mode="none")
    paths, people = ["/faces/a.jpg", "/faces/longer_name.jpg"], ["p1", "p22"]
    row = 4 * DIM + 8 + 32 + len(paths[1]) + len(people[1])
    assert store.rows_per_request(paths, people) == batching.rows_per_upsert(row, server=store.backend == "server")
    with make_store(store.settings.uri, store.collection_name, insert_batch_rows=7) as fixed:
        assert fixed.rows_per_request(paths, people) == 7


def test_open_missing_collection(store: MilvusStore) -> None:
    with pytest.raises(CollectionNotFoundError, match=store.collection_name):
        store.open_collection()
    with pytest.raises(CollectionNotFoundError):
        store.search(unit_vectors(1))
    assert not store.has_collection()


def test_backend_errors_surface_as_store_errors(store: MilvusStore) -> None:
    store.ensure_collection(8, model_id="m", tta_mode="none")
    with make_store(store.settings.uri, store.collection_name) as other:
        other.drop_collection()  # dropped behind the first store's back
    with pytest.raises(MilvusStoreError, match=rf"Milvus count on collection '{store.collection_name}' at "):
        store.count()


# ------------------------------------------------------------------ connection and config

def test_unreachable_server_fails_fast_with_hint(caplog: pytest.LogCaptureFixture) -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    settings = MilvusSettings(uri=uri, token="tok-SECRET-1", user="bob", password="pw-SECRET-2")
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG), pytest.raises(MilvusUnavailableError) as err:
        MilvusStore(settings)
    elapsed = time.monotonic() - started
    assert elapsed < 15.0
    message = str(err.value)
    assert uri in message and "docker compose up -d" in message and "3 attempt(s)" in message
    for secret in ("tok-SECRET-1", "pw-SECRET-2"):
        assert secret not in message and secret not in caplog.text

    port = closed_port()  # a password inside the URI is masked too
    with pytest.raises(MilvusUnavailableError) as err:
        MilvusStore(MilvusSettings(uri=f"http://bob:pw-SECRET-3@127.0.0.1:{port}",
                                   connect_attempts=1, connect_timeout_s=0.5))
    assert f"http://bob:***@127.0.0.1:{port}" in str(err.value) and "1 attempt(s)" in str(err.value)
    assert "pw-SECRET-3" not in str(err.value) + caplog.text


def test_secrets_masked_in_repr_and_uri() -> None:
    settings = MilvusSettings(uri="https://bob:pw-SECRET@db.example:19530", token="tok-SECRET",
                              password="pw-SECRET")
    text = repr(settings) + str(settings)
    assert "SECRET" not in text
    assert "https://bob:***@db.example:19530" in text and "token='***'" in text
    assert "SECRET" not in settings.display_uri


def _load_conf(name: str, output_dir: Path):
    root = OmegaConf.create({"paths": {"output_dir": str(output_dir)}})
    root.milvus = OmegaConf.load(CONF_DIR / f"{name}.yaml")
    return root.milvus


def test_standalone_config_reads_credentials_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MILVUS_TOKEN", "env-SECRET-token")
    monkeypatch.setenv("MILVUS_PASSWORD", "env-SECRET-pw")
    monkeypatch.setenv("MILVUS_USER", "alice")
    settings = MilvusSettings.from_config(_load_conf("standalone", tmp_path))
    assert settings.uri == "http://localhost:19540" and settings.backend == "server"
    assert (settings.token, settings.user, settings.password) == ("env-SECRET-token", "alice", "env-SECRET-pw")
    assert (settings.index_m, settings.index_ef_construction, settings.search_ef, settings.top_k) == (16, 200, 64, 10)
    assert "SECRET" not in repr(settings)
    monkeypatch.delenv("MILVUS_TOKEN")
    assert MilvusSettings.from_config(_load_conf("standalone", tmp_path)).token is None


def test_lite_config_opens_gallery_file(tmp_path: Path) -> None:
    cfg = _load_conf("lite", tmp_path / "run")
    with MilvusStore.from_config(cfg, collection="cfg_test") as store:
        assert store.backend == "lite" and store.settings.uri == str(tmp_path / "run" / "gallery.db")
        store.ensure_collection(4, model_id="m", tta_mode="none")
        store.upsert(["/a.jpg"], ["a"], np.ones((1, 4), dtype=np.float32))
        assert store.count() == 1
    assert (tmp_path / "run" / "gallery.db").exists()
    with pytest.raises(ValueError, match="unknown milvus config keys"):
        MilvusSettings.from_config({**OmegaConf.to_container(cfg, resolve=True), "colection": "x"})
    with pytest.raises(ValueError, match="ending in '.db'"):
        MilvusSettings(uri=str(tmp_path / "gallery.sqlite"))


# ------------------------------------------------------------------ pure helpers

def test_primary_key_is_deterministic_positive_int63() -> None:
    ids = {path_to_id(f"/faces/{i}.jpg") for i in range(1000)}
    assert len(ids) == 1000 and all(0 <= i < 2**63 for i in ids)
    digest = hashlib.blake2b(b"/faces/1.jpg", digest_size=8).digest()
    assert path_to_id("/faces/1.jpg") == int.from_bytes(digest, "big") & (2**63 - 1)


def test_filter_building() -> None:
    assert expressions.person_filter('a"b\\c', templated=False) == (r'person_id == "a\"b\\c"', {})
    assert expressions.person_filter('a"b', templated=True) == ("person_id == {pid}", {"pid": 'a"b'})
    assert expressions.supports_filter_templates("v2.5.4") and expressions.supports_filter_templates("2.6.0")
    assert not expressions.supports_filter_templates("v2.4.24")
    assert not expressions.supports_filter_templates("v2.3.5-lite") and not expressions.supports_filter_templates(None)
    with pytest.raises(ValueError):
        expressions.person_filter("", templated=False)


def test_upsert_batches_stay_well_under_grpc_limit() -> None:
    row = 4 * DIM + 8 + 32 + 80 + 10
    server_rows = batching.rows_per_upsert(row, server=True)
    assert 16 * 2**20 - row < server_rows * row <= 16 * 2**20 < 64 * 2**20
    assert batching.rows_per_upsert(row, server=False) * row <= 1 * 2**20
    assert batching.rows_per_upsert(row, server=True, override=500) == 500
