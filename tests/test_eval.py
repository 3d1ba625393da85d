"""The evaluation stage end to end: a trained tiny model, a gallery in Milvus, probes searched, a report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from src.eval import evaluate
from src.evaluation.report import REPORT_KEYS
from tests.helpers import TRAINED_RUN_OVERRIDES, compose_config

FAST_LATENCY = ["evaluation.latency.queries=30", "evaluation.latency.warmup=3", "evaluation.latency.sweep_queries=10",
                "evaluation.latency.batch_sizes=[1,8]", "evaluation.latency.ef_sweep=[16,64]",
                "evaluation.num_workers=0", "evaluation.max_pairs=500"]


@pytest.fixture(scope="module")
def eval_report(trained_run, milvus_module_uri, tmp_path_factory):
    _, objects = trained_run
    out = tmp_path_factory.mktemp("eval")
    cfg = compose_config("eval", [*TRAINED_RUN_OVERRIDES, *FAST_LATENCY, f"ckpt_path={objects['best_ckpt']}",
                                  f"milvus.uri={milvus_module_uri}", f"milvus.collection=eval_{out.name}",
                                  "evaluation.identities=all"], out)
    return cfg, evaluate(cfg)


def test_milvus_agrees_with_exact_search(eval_report):
    cfg, report = eval_report
    ident = report["identification"]
    assert abs(ident["milvus"]["rank1"] - ident["exact"]["rank1"]) <= 0.01
    assert report["search_vs_exact"]["recall_at_1"] >= 0.99
    assert ident["milvus"]["rank1"] > 0.2  # 24 enrolled identities: chance is ~0.04
    assert report["milvus"]["rows"] == report["data"]["gallery_images"]
    if report["milvus"]["backend"] == "server":
        assert report["milvus"]["index"]["type"] == "HNSW"
        assert report["latency"]["ef"] == cfg.milvus.search.ef
        assert [row["ef"] for row in report["latency"]["ef_sweep"]] == [16, 64]
    else:
        assert report["milvus"]["index"]["type"] == "FLAT" and report["latency"]["ef_sweep"] == []


def test_report_files_and_keys(eval_report):
    cfg, report = eval_report
    out = Path(cfg.evaluation.output_dir)
    saved = json.loads((out / "report.json").read_text())
    assert tuple(saved) == REPORT_KEYS
    assert saved["data"]["probes_unenrolled"] > 0 and saved["identification"]["recommended_threshold"] is not None
    assert saved["latency"]["single_query"]["count"] == 30
    assert all(row["queries_per_sec"] > 0 for row in saved["latency"]["batched"])
    assert 0.5 <= saved["verification"]["roc_auc"] <= 1.0
    for path in saved["plots"].values():
        with Image.open(path) as image:
            assert image.size[0] > 100 and image.getextrema() != ((255, 255),) * len(image.getbands())
    tensorboard = Path(cfg.paths.output_dir) / "tensorboard"
    assert any(tensorboard.glob("events.out.tfevents.*"))


def test_pairs_file_verification(trained_run, milvus_lite_uri, tmp_path):
    _, objects = trained_run
    root = objects["datamodule"].root
    people = sorted(p.name for p in root.iterdir() if p.is_dir())[:4]
    lines = ["2 2", *(f"{p} 0 1" for p in people[:2]), f"{people[0]} 0 {people[2]} 1", f"{people[1]} 2 {people[3]} 3"]
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("\n".join(lines) + "\n")
    cfg = compose_config("eval", [*TRAINED_RUN_OVERRIDES, *FAST_LATENCY, f"ckpt_path={objects['best_ckpt']}",
                                  f"milvus.uri={milvus_lite_uri}", f"evaluation.pairs_file={pairs}"], tmp_path)
    verification = evaluate(cfg)["verification"]
    assert verification["source"] == str(pairs)
    assert verification["pairs"] == 4 and verification["genuine_pairs"] == 2 and verification["folds"] == 4
