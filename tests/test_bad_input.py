"""Broken files and thin identities are counted and reported; training still runs on the rest."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from src.datamodules.folder_scan import scan_image_folder
from src.train import train
from tests.helpers import TINY, compose_config


def _write_faces(root: Path, identities: int, images: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(identities):
        folder = root / f"person_{i}"
        folder.mkdir(parents=True)
        colour = rng.integers(0, 255, 3)
        for n in range(images):
            pixels = np.clip(colour + rng.normal(0, 20, (40, 40, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{n}.jpg")


@pytest.fixture
def messy_folder(tmp_path) -> Path:
    root = tmp_path / "faces"
    _write_faces(root, identities=8, images=4)
    good = (root / "person_0" / "0.jpg").read_bytes()
    (root / "person_0" / "corrupt.jpg").write_bytes(good[: len(good) // 3])  # truncated JPEG
    (root / "person_1" / "garbage.jpg").write_bytes(b"this is not a jpeg")
    (root / "person_2" / "notes.txt").write_text("not an image")
    (root / "loner").mkdir()
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(root / "loner" / "only.pgm")  # grey, single image
    (root / "empty_person").mkdir()
    return root


def test_scan_counts_every_skipped_file(messy_folder):
    scan = scan_image_folder(messy_folder)
    skipped = {path.name: reason for path, reason in scan.skipped}
    assert set(skipped) == {"corrupt.jpg", "garbage.jpg", "notes.txt"}
    assert skipped["notes.txt"] == "not an image file"
    assert skipped["garbage.jpg"].startswith("unreadable image")
    assert scan.summary() == {"identities": 9, "images": 33, "skipped_files": 3, "empty_identities": 1,
                              "single_image_identities": 1}
    assert scan.singletons() == ["loner"]
    assert scan.empty_identities == ["empty_person"]


def test_training_runs_and_reports_bad_files(messy_folder, tmp_path, caplog):
    cfg = compose_config(
        "train", [*TINY, f"data.root={messy_folder}", "data.val_fraction=0.3", "data.batch_size=8",
                  "+trainer.fast_dev_run=true", "~callbacks.progress_bar"], tmp_path)
    with caplog.at_level(logging.INFO):
        metrics, objects = train(cfg)
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "Scanned" in r.getMessage()]
    assert len(warning) == 1
    assert "skipped 3 files" in warning[0] and "1 identities without usable images" in warning[0]
    assert "1 identities with a single image" in warning[0]
    info = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
    assert "corrupt.jpg" in info and "garbage.jpg" in info and "notes.txt" in info
    split = objects["datamodule"].split
    assert "loner" in split.train and "loner" not in split.val  # one image: trains, never validates
    assert objects["trainer"].state.finished


def test_empty_root_fails_with_its_path(tmp_path):
    (tmp_path / "faces" / "nobody").mkdir(parents=True)
    with pytest.raises(ValueError, match=str(tmp_path / "faces")):
        scan_image_folder(tmp_path / "faces")
