"""data.align: training reads the aligned faces of raw photos (a cached, resumable copy); photos without a face are
counted, logged and listed, never dropped silently."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from skimage import data

from src.alignment.training_data import aligned_data
from src.datamodules.build import build_datamodule
from tests.helpers import compose_config


def raw_photos(tmp_path: Path) -> Path:
    """Two people of scikit-image's astronaut photo (a real face) and one photo of a blank wall."""
    root = tmp_path / "photos"
    astronaut = Image.fromarray(data.astronaut())
    wall = Image.new("RGB", (300, 300), (128, 128, 128))
    for person, photos in {"ann": [astronaut, ImageOps.mirror(astronaut)],
                           "bob": [astronaut.resize((384, 384)), wall]}.items():
        (root / person).mkdir(parents=True)
        for k, photo in enumerate(photos):
            photo.save(root / person / f"{k}.jpg")
    return root


def test_raw_photos_are_aligned_once_and_photos_without_a_face_are_listed(tmp_path: Path, caplog) -> None:
    root = raw_photos(tmp_path)
    cfg = compose_config("train", [f"data.root={root}", "data.align=arcface", "data.image_size=64",
                                   "data.val_fraction=0", "data.num_workers=0"], tmp_path)
    with caplog.at_level(logging.INFO):
        datamodule = build_datamodule(aligned_data(cfg.data))
    chips = datamodule.root
    assert chips.parent == tmp_path / "data" / "aligned" and chips.name.startswith("photos-aligned-arcface64-")
    assert {name: len(paths) for name, paths in datamodule.scan.identities.items()} == {"ann": 2, "bob": 1}
    assert all(Image.open(path).size == (64, 64) for paths in datamodule.scan.identities.values() for path in paths)
    assert "1 files are not in training (no face: 1" in caplog.text and "align_report.json" in caplog.text
    assert sorted(root.rglob("*.jpg")) == [root / p for p in ("ann/0.jpg", "ann/1.jpg", "bob/0.jpg", "bob/1.jpg")]

    caplog.clear()  # a second run resumes the cached copy
    with caplog.at_level(logging.INFO):
        assert build_datamodule(aligned_data(cfg.data)).root == chips
    assert "(4 done by an earlier run)" in caplog.text, caplog.text


def test_unknown_template_names_the_choices(tmp_path: Path) -> None:
    cfg = compose_config("train", [f"data.root={raw_photos(tmp_path)}", "data.align=insightface"], tmp_path)
    with pytest.raises(ValueError, match=r"data.align='insightface' is not one of \('arcface', 'dlib'\)"):
        aligned_data(cfg.data)


def test_commands_that_read_the_folder_as_it_is_refuse_data_align(tmp_path: Path) -> None:
    """facerec-export, facerec-eval and the benchmarks build their data module directly (their own align=true)."""
    cfg = compose_config("train", [f"data.root={raw_photos(tmp_path)}", "data.align=dlib"], tmp_path)
    with pytest.raises(ValueError, match=r"data.align=dlib aligns photos for training .* align=true"):
        build_datamodule(cfg.data)
