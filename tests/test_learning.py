"""Training really learns: held-out rank-1 rises above chance and above the untrained network."""
from __future__ import annotations

import json
from pathlib import Path

import hydra
import lightning as L
import pytest
from tests.helpers import TINY, compose_config, orl_root

from src.datamodules.build import build_datamodule
from src.train import train

SYNTHETIC = ["experiment=quickstart", *TINY, "data.num_identities=40", "data.images_per_identity=8",
             "trainer.max_epochs=8", "~callbacks.progress_bar", "~callbacks.milvus_export", "eval=false"]


def _untrained_rank1(cfg) -> float:
    """val/rank1 of the freshly initialized network on the same held-out identities."""
    datamodule = build_datamodule(cfg.data)
    L.seed_everything(cfg.seed)  # the same initial weights as the training run of `cfg`
    model = hydra.utils.instantiate(cfg.model, num_classes=datamodule.num_classes, _recursive_=False)
    trainer = hydra.utils.instantiate(cfg.trainer, logger=False, enable_progress_bar=False, callbacks=[])
    return trainer.validate(model, datamodule=datamodule, verbose=False)[0]["val/rank1"]


@pytest.fixture(scope="module")
def synthetic_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("learning")
    return {
        "cosface": train(compose_config("train", SYNTHETIC, out / "cosface"))[0]["val/rank1"],
        "untrained": _untrained_rank1(compose_config("train", SYNTHETIC, out / "untrained")),
    }


@pytest.mark.slow
def test_synthetic_rank1_beats_chance_and_untrained(synthetic_runs):
    chance = 1 / 10  # 10 held-out identities (25% of 40)
    assert synthetic_runs["cosface"] > 5 * chance
    assert synthetic_runs["cosface"] > synthetic_runs["untrained"] + 0.2


@pytest.mark.slow
def test_real_faces_orl_trained_beats_untrained_and_evaluates(tmp_path):
    """Train on 21 ORL people, validate on the other 9; the run ends with the Milvus evaluation of those 9."""
    overrides = ["experiment=orl_faces", *TINY, f"data.root={orl_root()}", "~callbacks.progress_bar",
                 "gallery.identities=held_out", "evaluation.num_workers=0", "gallery.num_workers=0"]
    cfg = compose_config("train", overrides, tmp_path)
    untrained = _untrained_rank1(cfg)
    metrics, objects = train(cfg)
    trained = metrics["val/rank1"]
    print(f"ORL held-out rank-1: untrained {untrained:.3f}, trained {trained:.3f}")
    assert trained > untrained
    report = json.loads((Path(cfg.evaluation.output_dir) / "report.json").read_text())
    assert report["data"]["root"] == str(orl_root())
    assert report["data"]["enrolled_identities"] + report["data"]["unenrolled_identities"] == 9
    assert report["identification"]["milvus"]["rank1"] > 0.5
