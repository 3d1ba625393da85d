"""Configs compose and the training entry point runs end to end on tiny settings."""

import pytest
import torch

from src.train import train
from tests.helpers import CONF_DIR, TINY, compose_config

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_configs_compose(experiment, tmp_path):
    cfg = compose_config("train", [f"experiment={experiment}"], tmp_path)
    assert cfg.model.head._target_.startswith("src.heads.")
    assert cfg.data._target_.startswith("src.datamodules.")
    assert cfg.trainer.max_epochs >= 1


def test_default_config_is_production_grade(tmp_path):
    cfg = compose_config("train", ["data.root=/faces"], tmp_path)
    assert cfg.model.backbone.depth == 50
    assert cfg.data.image_size == 112
    assert cfg.model.head._target_ == "src.heads.CosFaceHead"
    assert (cfg.model.head.s, cfg.model.head.m) == (64.0, 0.35)


@pytest.mark.parametrize("head", ["cosface", "arcface", "softmax"])
def test_fast_dev_run(head, tmp_path):
    cfg = compose_config(
        "train",
        ["experiment=quickstart", *TINY, f"head={head}", "+trainer.fast_dev_run=true",
         "data.num_identities=12", "data.images_per_identity=4"],
        tmp_path,
    )
    metrics, objects = train(cfg)
    assert objects["trainer"].state.finished
    assert torch.isfinite(torch.tensor(metrics["train/loss_step"]))
    assert 0.0 <= metrics["val/rank1"] <= 1.0


def test_missing_root_names_the_path(tmp_path):
    cfg = compose_config("train", [*TINY, f"data.root={tmp_path}/nowhere"], tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        train(cfg)


def test_missing_imagenet_weights_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_cache"))
    from src.models.backbone import FaceEmbedder

    with pytest.raises(FileNotFoundError, match="not in the local torch cache"):
        FaceEmbedder(depth=18, pretrained="imagenet")


def test_missing_checkpoint_fails_clearly(tmp_path):
    from src.models.backbone import FaceEmbedder

    with pytest.raises(FileNotFoundError, match="Checkpoint not found"):
        FaceEmbedder(depth=18, pretrained=str(tmp_path / "missing.ckpt"))
