"""facerec-bench: tiny runs of each benchmark write a complete result.json and a real PNG.

Speed is measured by the benchmarks themselves, never asserted here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from src.bench.cli import main
from src.bench.config import BenchConfigError, parse_overrides
from src.bench.ingest import IngestConfig
from src.bench.report import RESULT_KEYS
from src.bench.train_speed import main as train_speed
from src.bench.vectors import FaceLikeParams, cosine_stats, make_vectors
from src.evaluation.retrieval import exact_top_k
from tests.helpers import TINY


def run_bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    """Run ``facerec-bench`` in-process; check the common envelope and the PNG; return the JSON."""
    out = tmp_path / args[0]
    assert main([*args, f"out_dir={out}"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert set(RESULT_KEYS) <= set(result)
    assert result["benchmark"] == args[0] and result["command"].startswith(f"facerec-bench {args[0]}")
    assert result["machine"]["cpu_logical_cores"] >= 1 and result["resources"]["samples"] >= 2
    assert result["duration_s"] > 0 and result["data"]["kind"] in ("face_like", "random", "face_jpeg")
    png = Path(result["plots"][args[0]])
    assert png.parent == out and png.stat().st_size > 0
    with Image.open(png) as image:
        image.verify()
        assert image.format == "PNG" and image.size[0] > 100 and image.size[1] > 100
    return result


# ------------------------------------------------------------------ data

def test_face_like_vectors_cluster_by_identity() -> None:
    params = FaceLikeParams(images_per_id=5)
    vectors = make_vectors("face_like", 2000, 200, 1024, params, seed=3)
    assert vectors.gallery.shape == (2000, 1024) and vectors.queries.shape == (200, 1024)
    np.testing.assert_allclose(np.linalg.norm(vectors.gallery, axis=1), 1.0, atol=1e-5)
    assert vectors.description["identities"] == 400
    stats = cosine_stats(vectors)
    assert 0.5 < stats["same_identity_mean"] < 0.8
    assert abs(stats["different_identity_mean"]) < 0.05 and stats["different_identity_std"] < 0.2
    # queries are new images: none equals a gallery vector, yet their nearest neighbours are mates
    scores, rows = exact_top_k(vectors.queries, vectors.gallery, 5)
    assert scores[:, 0].max() < 0.95
    mates = vectors.gallery_labels[rows.numpy()] == vectors.query_labels[:, None]
    assert mates.mean() > 0.9


def test_random_vectors_have_no_identity_structure() -> None:
    vectors = make_vectors("random", 500, 50, 256, FaceLikeParams(), seed=1)
    stats = cosine_stats(vectors)
    assert stats["same_identity_mean"] is None and abs(stats["different_identity_mean"]) < 0.02
    assert vectors.description == {"kind": "random", "dim": 256, "seed": 1, "gallery": 500, "queries": 50}
    with pytest.raises(ValueError, match="face_like"):
        make_vectors("faces", 10, 1, 8, FaceLikeParams())


# ------------------------------------------------------------------ overrides

def test_overrides_are_typed_and_unknown_keys_rejected(capsys: pytest.CaptureFixture) -> None:
    cfg = parse_overrides(IngestConfig, ["n=7", "batch_sizes=[2,3]", "face_like.latent_dim=8"], "ingest")
    assert (cfg.n, cfg.batch_sizes, cfg.face_like.latent_dim, cfg.n_single) == (7, [2, 3], 8, 500)
    with pytest.raises(BenchConfigError, match=r"(?s)'nn'.*known keys: .*face_like.within_std.*batch_sizes"):
        parse_overrides(IngestConfig, ["nn=7"], "ingest")
    with pytest.raises(BenchConfigError, match="could not be converted"):
        parse_overrides(IngestConfig, ["n=many"], "ingest")
    with pytest.raises(BenchConfigError, match="key=value"):
        parse_overrides(IngestConfig, ["n"], "ingest")
    with pytest.raises(BenchConfigError, match="server_uri"):
        parse_overrides(IngestConfig, ["start_server=false"], "ingest")
    assert main(["search", "data=gaussian"]) == 2
    assert "data must be one of" in capsys.readouterr().err
    assert main(["embed", "variants=[tta]"]) == 2
    assert main(["nope"]) == 2 and "usage: facerec-bench" in capsys.readouterr().err


# ------------------------------------------------------------------ benchmarks

@pytest.mark.server
def test_ingest_single_vs_bulk(tmp_path: Path, milvus_server_uri: str) -> None:
    result = run_bench(tmp_path, "ingest", "n=300", "n_single=40", "batch_sizes=[1,100]",
                       f"server_uri={milvus_server_uri}")
    assert [b["name"] for b in result["backends"]] == ["lite", "server"]
    assert result["backends"][1]["uri"] == milvus_server_uri
    assert result["params"]["n"] == 300 and result["data"]["gallery"] == 300
    for name in ("lite", "server"):
        entry = result["results"][name]
        assert [(r["mode"], r["rows"], r["count_after"]) for r in entry["runs"]] == [
            ("single_row", 40, 40), ("bulk", 300, 300)]
        single, bulk = entry["runs"]
        assert (single["calls"], single["requests"], bulk["calls"], bulk["requests"]) == (40, 40, 3, 3)
        for run in entry["runs"]:
            assert run["count_ok"] and run["rows_per_s"] > 0 and run["flush_s"] >= 0
            assert run["call_latency_ms"]["count"] == run["calls"] and run["call_latency_ms"]["p50_ms"] > 0
        assert entry["speedup"] > 0 and entry["best_batch_size"] == 100
        assert result["summary"][name]["all_counts_ok"] is True


def test_ingest_masks_secrets_in_params(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "ingest", "n=20", "n_single=5", "batch_sizes=[1,10]", "backends=[lite]",
                       "server_uri=http://bob:hunter2@127.0.0.1:9", "data=random")
    assert result["params"]["server_uri"] == "http://bob:***@127.0.0.1:9"
    assert "hunter2" not in json.dumps(result)
    assert result["data"]["kind"] == "random" and list(result["results"]) == ["lite"]


@pytest.mark.server
def test_search_recall_latency_and_load(tmp_path: Path, milvus_server_uri: str) -> None:
    result = run_bench(tmp_path, "search", "sizes=[2000]", "efs=[16,64]", "ms=[8]", "queries=60",
                       "latency_queries=15", "load_queries=12", "clients=[1,3]", f"server_uri={milvus_server_uri}")
    points = result["results"]["points"]
    assert [(p["backend"], p["index"], p["M"], p["ef"]) for p in points] == [
        ("exact", "brute-force", None, None), ("lite", "FLAT", None, None),
        ("server", "HNSW", 8, 16), ("server", "HNSW", 8, 64)]
    for point in points:
        assert 0.0 <= point["recall_at_1"] <= 1.0 and 0.0 <= point["recall_at_10"] <= 1.0
        latency = point["latency_ms"]
        assert latency["count"] == 15 and 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"]
        assert point["batch_qps"] > 0
    assert points[0]["recall_at_10"] == 1.0 and points[1]["recall_at_10"] >= 0.99  # exact, FLAT
    builds = result["results"]["builds"]
    assert [(b["backend"], b["index_type"], b["count_after"]) for b in builds] == [
        ("lite", "FLAT", 2000), ("server", "HNSW", 2000)]
    assert all(b["index_build_s"] >= 0 and b["compact_s"] >= 0 and b["insert_s"] > 0 for b in builds)
    load = result["results"]["load"]
    assert [(p["backend"], p["clients"]) for p in load] == [(b, c) for b in ("exact", "lite", "server") for c in (1, 3)]
    assert all(p["qps"] > 0 and p["queries"] == 12 for p in load)
    [recommended] = result["summary"]["recommended"]
    assert (recommended["size"], recommended["M"]) == (2000, 8) and recommended["ef"] in (16, 64)
    assert result["summary"]["default_ef"] is None  # default_m=16 was not measured
    [data] = result["data"]["sets"]
    assert data["kind"] == "face_like" and data["cosine"]["same_identity_mean"] > 0.5


def test_embed_throughput(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "embed", "depth=18", "image_size=32", "batch_sizes=[2]", "channels_last=[true]",
                       "warmup=0", "min_iters=1", "min_time_s=0", "threads=1")
    runs = result["results"]["runs"]
    assert [(r["variant"], r["batch_size"]) for r in runs] == [("bare", 2), ("none", 2), ("concat", 2)]
    for run in runs:
        assert run["images_per_s"] > 0 and run["iters"] >= 1 and run["batch_latency_ms"]["p50_ms"] > 0
    assert runs[2]["network_images_per_s"] == pytest.approx(2 * runs[2]["images_per_s"])
    assert result["backends"][0]["device"] == "cpu" and result["backends"][0]["torch_threads"] == 1
    assert result["summary"]["tta_concat_over_bare"] > 0
    assert result["data"] == {"kind": "random", "what": "N(0, 1) input tensors (throughput only)",
                              "shape": [3, 32, 32]}


def test_loader_old_vs_new(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "loader", "images=200", "base_faces=100", "seconds=0.1", "workers=[0]",
                       "batch_size=16", "decoder_payloads=20", f"data_dir={tmp_path / 'data'}")
    assert result["data"]["images"] == 200
    rows = result["results"]["loader"]
    assert {(r["source"], r["pipeline"]) for r in rows} == {("folder", "old"), ("folder", "new"), ("rec", "old"),
                                                            ("rec", "new")}
    assert all(r["images"] > 0 and r["images_per_cpu_s"] > 0 for r in rows)
    assert {r["decoder"].split()[0] for r in result["results"]["decoders"]} == {"Pillow", "torchvision.io.decode_jpeg",
                                                                               "simplejpeg"}
    assert result["summary"]["rec_one_core"]["new_over_old"] > 0
    assert (result["results"]["cuda"] == []) == (not torch.cuda.is_available())


def test_train_speed_times_only_the_steps_after_warmup(tmp_path: Path) -> None:
    path = train_speed([f"out={tmp_path}", "precisions=32-true", "warmup=2", "steps=3", *TINY, "data=synthetic",
                        "data.num_identities=10", "data.images_per_identity=4", "data.batch_size=4",
                        f"paths.data_dir={tmp_path / 'data'}"])
    result = json.loads(path.read_text())
    assert [(r["feed"], r["precision"]) for r in result["runs"]] == [("loader", "32-true"), ("tensors", "32-true")]
    for run in result["runs"]:
        assert run["timed_steps"] == 3 and run["batch_size"] == 4 and run["images_per_sec"] > 0
    assert result["model"]["depth"] == 18 and result["data"]["image_size"] == 32
