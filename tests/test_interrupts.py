"""Stopped work is never mistaken for finished work: SIGTERM saves a resumable checkpoint and exits 143;
a failed export says the gallery may be partial and that running it again is safe."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from src.callbacks.interrupt_checkpoint import SIGTERM_EXIT_CODE
from src.export import export, main
from src.train import train
from src.utils.checkpoint_file import read_checkpoint
from tests.helpers import ROOT, TRAINED_RUN_OVERRIDES, compose_config

# Six synthetic identities, four steps per epoch, and far more epochs than the test waits for.
SMALL_RUN = [*TRAINED_RUN_OVERRIDES, "data.num_identities=6", "data.images_per_identity=4", "data.batch_size=4",
             "~callbacks.milvus_export"]


def _wait_for(path: Path, process: subprocess.Popen, output: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"training exited with {process.returncode} before writing {path}:\n"
                        f"{output.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {path} after {timeout_s}s")
        time.sleep(0.2)


def test_sigterm_saves_a_resumable_checkpoint_and_exits_143(tmp_path):
    """SIGTERM during epoch 1+ of a real `python -m src.train`: exit status 143 and interrupted.ckpt, which
    `ckpt_path=` resumes (same step counter, training continues to the new max_epochs)."""
    checkpoints = tmp_path / "ckpt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "src.train", *SMALL_RUN, "trainer.max_epochs=1000", f"paths.root_dir={tmp_path}",
               f"paths.checkpoint_dir={checkpoints}"]
    output = tmp_path / "train.log"
    with open(output, "w") as sink:  # a file, not a pipe: the progress bar would fill a pipe and block training
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        _wait_for(checkpoints / "last.ckpt", process, output, timeout_s=240)  # epoch 0 done: training under way
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    printed = output.read_text()
    assert process.returncode == SIGTERM_EXIT_CODE == 143, printed[-3000:]
    saved = checkpoints / "interrupted.ckpt"
    assert "saved a resumable checkpoint" in printed and str(saved) in printed
    state = read_checkpoint(saved)
    saved_epoch, saved_step = state["epoch"], state["global_step"]
    assert saved_step >= 4 and state["optimizer_states"] and state["loops"]["fit_loop"]

    cfg = compose_config("train", [*SMALL_RUN, f"ckpt_path={saved}", f"trainer.max_epochs={saved_epoch + 1}"],
                         tmp_path)  # same root: reuses the synthetic faces the subprocess generated
    _, objects = train(cfg)
    trainer = objects["trainer"]
    assert trainer.ckpt_path == str(saved)
    assert trainer.current_epoch == saved_epoch + 1 and trainer.global_step > saved_step


def _faces(root: Path, people: int, images: int) -> None:
    rng = np.random.default_rng(2)
    for n in range(people):
        (root / f"p{n}").mkdir(parents=True)
        for i in range(images):
            Image.fromarray(rng.integers(0, 255, (36, 36, 3), dtype=np.uint8)).save(root / f"p{n}" / f"{i}.png")


def test_failed_export_says_partial_and_rerun_completes(trained_run, tmp_path, caplog):
    """An image that breaks while embedding (header fine, data cut off; header-only scan) stops the export after
    earlier batches were written: the log says the gallery may be partial and that re-running is safe, and the
    re-run (file fixed) leaves exactly one row per image."""
    _, objects = trained_run
    root = tmp_path / "faces"
    _faces(root, people=4, images=3)
    good = (root / "p3" / "2.png").read_bytes()
    (root / "p3" / "2.png").write_bytes(good[: len(good) // 2])
    overrides = [f"ckpt_path={objects['best_ckpt']}", "data=image_folder", f"data.root={root}", "data.image_size=32",
                 "data.val_fraction=0", "data.num_workers=0", "data.decode_check=false", "gallery.num_workers=0",
                 "gallery.batch_size=2", f"milvus.uri={tmp_path / 'gallery.db'}"]
    with caplog.at_level(logging.ERROR), pytest.raises(OSError, match="truncated"):
        main.__wrapped__(compose_config("export", overrides, tmp_path))  # the entry point's body, without argv
    message = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert "may be partial" in message and "re-running the same command is safe" in message.lower()
    assert "'faces'" in message and "gallery.db" in message
    (root / "p3" / "2.png").write_bytes(good)
    result = export(compose_config("export", overrides, tmp_path))
    assert result.images == result.rows_in_collection == 12
