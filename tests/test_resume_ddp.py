"""Resuming from last.ckpt continues the epoch count; a 2-process CPU DDP run completes."""
from __future__ import annotations

from pathlib import Path

import pytest

from src.train import train
from tests.helpers import TINY, compose_config

SMALL = ["experiment=quickstart", *TINY, "data.num_identities=12", "data.images_per_identity=4",
         "~callbacks.progress_bar"]


@pytest.mark.slow
def test_resume_continues_epoch_count(tmp_path):
    first = compose_config("train", [*SMALL, "trainer.max_epochs=2"], tmp_path)
    _, objects = train(first)
    steps_after_two = objects["trainer"].global_step
    last = Path(first.paths.checkpoint_dir) / "last.ckpt"
    assert last.is_file()
    resumed = compose_config("train", [*SMALL, "trainer.max_epochs=3", f"ckpt_path={last}"], tmp_path)
    _, objects = train(resumed)
    trainer = objects["trainer"]
    assert trainer.current_epoch == 3
    assert trainer.global_step == steps_after_two * 3 // 2  # one more epoch of the same length, not three


@pytest.mark.slow
def test_min_steps_sets_the_run_length_and_survives_resume(tmp_path):
    first = compose_config("train", [*SMALL, "trainer.max_epochs=1", "trainer.min_steps=5"], tmp_path)
    _, objects = train(first)
    trainer = objects["trainer"]
    per_epoch = trainer.num_training_batches
    assert per_epoch < 5 and trainer.max_epochs == -(-5 // per_epoch)  # epochs raised to cover 5 steps
    assert trainer.global_step == trainer.max_epochs * per_epoch >= 5
    steps_before = trainer.global_step
    last = Path(first.paths.checkpoint_dir) / "last.ckpt"
    longer = compose_config("train", [*SMALL, "trainer.max_epochs=1", "trainer.min_steps=10",
                                      f"ckpt_path={last}"], tmp_path)
    _, objects = train(longer)
    trainer = objects["trainer"]
    assert trainer.global_step == trainer.max_epochs * per_epoch >= 10 > steps_before  # it went on training
    assert trainer.estimated_stepping_batches == trainer.global_step  # what the warm-up + cosine schedule spans


@pytest.mark.slow
def test_ddp_spawn_two_cpu_processes(tmp_path):
    cfg = compose_config(
        "train",
        [*SMALL, "trainer=ddp", "trainer.accelerator=cpu", "trainer.strategy=ddp_spawn", "trainer.devices=2",
         "trainer.max_epochs=1"],
        tmp_path,
    )
    metrics, objects = train(cfg)
    assert objects["trainer"].world_size == 2
    assert (Path(cfg.paths.checkpoint_dir) / "last.ckpt").is_file()
