"""Trained people are recognised by their images' content as the checkpoint recorded it, not by folder name."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from src.datamodules.identities import TrainedOn
from src.datamodules.trained_content import SKETCH_SIZE, match_trained, sketches


def _people(root: Path, names: list[str], seed: int, images: int = 6) -> dict[str, list[Path]]:
    """Folders of small files with distinct content per (seed, person, image)."""
    people = {}
    for name in names:
        (root / name).mkdir(parents=True)
        people[name] = [root / name / f"{i}.png" for i in range(images)]
        for i, path in enumerate(people[name]):
            path.write_bytes(f"seed {seed} person {name} image {i}".encode())
    return people


def test_same_names_with_other_images_are_new_people_and_renamed_images_are_trained(tmp_path, caplog):
    trained = _people(tmp_path / "train", ["id_0", "id_1", "id_2"], seed=0)
    stored = TrainedOn.from_checkpoint({"facerec_trained_on": TrainedOn(
        root="train", identities=frozenset(trained), sketches=sketches(trained)).as_dict()})
    assert stored is not None and all(len(s) == SKETCH_SIZE for s in stored.sketches.values())

    folder = _people(tmp_path / "other_seed", ["id_0", "id_1", "id_5"], seed=1)  # same names, other images
    shutil.copytree(tmp_path / "train" / "id_2", tmp_path / "other_seed" / "renamed")  # trained images, new name
    folder["renamed"] = sorted((tmp_path / "other_seed" / "renamed").iterdir())
    shutil.copytree(tmp_path / "train" / "id_1", tmp_path / "again")
    folder["id_9"] = sorted((tmp_path / "again").iterdir())[:3]  # a subset of trained images, another name
    with caplog.at_level(logging.WARNING):
        match = match_trained(folder, stored.sketches)
    assert match.same_name_new == {"id_0", "id_1"}
    assert match.renamed == {"renamed": "id_2", "id_9": "id_1"}  # 3 of 6 images always hold one of the 4 sketched
    assert "renamed" in match.trained and not {"id_0", "id_1", "id_5"} & match.trained
    assert "share a name with a training person" in caplog.text


def test_older_checkpoints_without_sketches_still_load():
    stored = TrainedOn.from_checkpoint({"facerec_trained_on": {"root": "r", "identities": ["a"]}})
    assert stored is not None and stored.sketches is None and stored.identities == {"a"}
