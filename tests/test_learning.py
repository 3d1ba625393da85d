"""Training really learns: on people it never saw, the trained network beats its own untrained weights and pixels."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from src.bench.recipe import QUIET, run_split, summarize
from src.datamodules.build import build_datamodule
from src.lightning_modules.recipe_checks import report_selection
from src.train import train
from tests.helpers import TINY, compose_config, orl_root

SYNTHETIC = ["experiment=quickstart", *TINY, "data.num_identities=40", "data.images_per_identity=8",
             "trainer.max_epochs=8", "~callbacks.progress_bar", "~callbacks.milvus_export", "eval=false"]
# Each seed holds out its own 10 of the 30 ORL people and draws its own initial weights.
ORL_SEEDS = (0, 1, 2)
# small-model overrides without TINY's trainer.min_steps=0: the recipe keeps its own run length (600 steps)
ORL_TINY = [item for item in TINY if not item.startswith("trainer.min_steps=")]


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    cfg = compose_config("train", SYNTHETIC, tmp_path_factory.mktemp("learning"))
    metrics, _ = train(cfg)
    return cfg, metrics


@pytest.mark.slow
def test_synthetic_rank1_beats_chance_and_untrained(synthetic_run):
    _, metrics = synthetic_run
    chance = 1 / 10  # 10 held-out identities (25% of 40)
    assert metrics["val/rank1"] > 5 * chance
    assert metrics["val/rank1"] > metrics["untrained/rank1"] + 0.2


@pytest.mark.slow
def test_untrained_validation_is_logged_at_step_zero(synthetic_run):
    """Every run's TensorBoard curve starts with the untrained network, so it shows what training added."""
    cfg, metrics = synthetic_run
    events = EventAccumulator(str(Path(cfg.paths.output_dir) / "tensorboard"))
    events.Reload()
    for name in ("rank1", "verif_acc"):
        first = events.Scalars(f"val/{name}")[0]
        assert first.step == 0
        assert first.value == pytest.approx(metrics[f"untrained/{name}"], abs=1e-6)
    assert events.Scalars("val/rank1")[-1].step > 0


@pytest.fixture(scope="module")
def orl_runs(tmp_path_factory):
    root = orl_root()
    out = tmp_path_factory.mktemp("orl")
    return [run_split(compose_config("train", ["experiment=orl_faces", *ORL_TINY, f"data.root={root}", f"seed={seed}",
                                               *QUIET], out / str(seed)))
            for seed in ORL_SEEDS]


@pytest.mark.slow
def test_orl_recipe_learns_on_new_people(orl_runs):
    """experiment=orl_faces, seeds 0-2, each 10 held-out people (90 probes, one probe = 0.011): means over seeds.

    Measured (docs/performance/orl_recipe.json, same seeds): trained 0.770, untrained 0.737, pixels 0.819;
    trained - untrained +0.033 (per seed +0.100 / -0.022 / +0.022); trained - pixels -0.048. Pixel nearest
    neighbour is NOT beaten and the gain over untrained is small, so the bounds below sit under the measured
    values: they fail on a recipe that learns nothing or collapses (the old one: rank-1 0.14 vs untrained 0.71).
    """
    assert all(run["held_out_identities"] == 10 and run["steps"] == 600 for run in orl_runs)
    stats = summarize(orl_runs)
    print({name: round(s["mean"], 3) for name, s in stats.items()})
    assert stats["trained_minus_untrained"]["mean"] > 0.0
    assert stats["trained_minus_untrained"]["min"] > -0.05  # no seed loses more than 4 of its 90 probes
    assert stats["trained_minus_pixels"]["mean"] > -0.1


def test_selection_summary_warns_when_training_added_nothing(caplog):
    history = [(12, 0, 0.80), (24, 1, 0.70), (36, 2, 0.75)]
    with caplog.at_level(logging.WARNING):
        summary = report_selection(history, {"rank1": 0.85, "verif_acc": 0.9})
    assert "untrained 0.8500 (step 0)" in summary and "best 0.8000 at step 12 (epoch 0)" in summary
    assert "last 0.7500 (step 36)" in summary
    assert "epoch 0" in caplog.text and "did not beat the untrained network" in caplog.text


def test_fine_tune_that_added_nothing_is_told_so_without_the_small_data_advice(caplog):
    with caplog.at_level(logging.WARNING):
        report_selection([(12, 0, 1.0), (24, 1, 1.0)], {"rank1": 1.0, "verif_acc": 0.99}, pretrained="dlib")
    assert "did not beat its starting network (model.backbone.pretrained=dlib)" in caplog.text
    assert "Step 0 is already perfect" in caplog.text and "finetune_dlib" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        report_selection([(12, 1, 0.8)], {"rank1": 0.9, "verif_acc": 0.9}, pretrained="dlib")
    assert "trainer.min_steps" in caplog.text and "Step 0 is already perfect" not in caplog.text


def test_selection_summary_is_quiet_when_training_helped(caplog):
    with caplog.at_level(logging.WARNING):
        report_selection([(12, 0, 0.6), (24, 1, 0.9)], {"rank1": 0.5, "verif_acc": 0.8})
    assert caplog.text == ""


def test_small_validation_set_is_reported(tmp_path, caplog):
    cfg = compose_config("train", ["experiment=quickstart", *TINY, "data.num_identities=12",
                                   "data.images_per_identity=3", "data.val_fraction=0.25"], tmp_path)
    with caplog.at_level(logging.WARNING):
        datamodule = build_datamodule(cfg.data)
        datamodule.setup("fit")  # the identity split (and its warning) happens when training sets up
    assert len(datamodule.split.val) == 3
    assert "only 3 people" in caplog.text and "data.val_fraction" in caplog.text
