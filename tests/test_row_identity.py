"""Row identity: re-export is a sync of the source folder (moved roots map onto the same rows, rows of deleted
images are pruned unless gallery.prune=false), and enrolling an image stored under another person warns."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from src.embedding.model import load_model
from src.export import export
from src.gallery.export import export_gallery
from src.gallery.face_gallery import FaceGallery
from src.vector_store import MilvusStore
from tests.helpers import compose_config

PEOPLE = 3  # of the trained run's synthetic identities, to keep the exports small


def _folder(objects: dict, root: Path) -> Path:
    """A copy of the first PEOPLE identity folders of the trained run's data under ``root``."""
    for person in sorted(p for p in Path(objects["datamodule"].root).iterdir() if p.is_dir())[:PEOPLE]:
        shutil.copytree(person, root / person.name)
    return root


def _pairs(root: Path) -> list[tuple[Path, str]]:
    return [(path, path.parent.name) for path in sorted(root.glob("*/*.png"))]


def _milvus(uri: str, collection: str) -> dict:
    return {"uri": uri, "collection": collection, "index": {"M": 12, "efConstruction": 64}, "recreate": False}


def test_moved_dataset_reexports_onto_the_same_rows(trained_run, milvus_uri, milvus_collection, tmp_path):
    _, objects = trained_run
    model = load_model(objects["best_ckpt"])
    first_root = _folder(objects, tmp_path / "disk_a" / "faces")
    people = sorted(p.name for p in first_root.iterdir())
    # the same photo in two people's folders stays two rows (the relative path is part of the key)
    shared = next((first_root / people[0]).glob("*.png"))
    shutil.copy(shared, first_root / people[1] / "shared.png")
    milvus = _milvus(milvus_uri, milvus_collection)
    first = export_gallery(model, _pairs(first_root), milvus, root=first_root)
    assert first.rows_in_collection == first.images == first.rows_added and first.rows_updated == 0

    moved_root = tmp_path / "disk_b" / "faces"
    shutil.copytree(first_root, moved_root)
    shutil.rmtree(first_root)
    moved = export_gallery(model, _pairs(moved_root), milvus, root=moved_root)
    assert moved.rows_in_collection == first.rows_in_collection
    assert (moved.rows_added, moved.rows_updated, moved.rows_pruned) == (0, first.images, 0)
    with MilvusStore.from_config(milvus) as store:
        paths = [r.image_path for r in store.query_person(people[1])]
    assert paths and all(Path(p).is_relative_to(moved_root.resolve()) for p in paths)  # display path follows


def test_deleted_person_is_pruned_unless_prune_false(trained_run, milvus_uri, milvus_collection, tmp_path, capsys):
    _, objects = trained_run
    root = _folder(objects, tmp_path / "faces")
    gone = sorted(p.name for p in root.iterdir())[0]
    gone_rows = len(list((root / gone).glob("*.png")))
    milvus = _milvus(milvus_uri, milvus_collection)
    command = ["gallery.num_workers=0", f"data.root={root}", f"ckpt_path={objects['best_ckpt']}", "data=image_folder",
               "data.image_size=32", "data.val_fraction=0.2", "data.num_workers=0", f"milvus.uri={milvus_uri}",
               f"milvus.collection={milvus_collection}", "milvus.index.M=12", "milvus.index.efConstruction=64"]
    full = export(compose_config("export", command, tmp_path)).rows_in_collection
    shutil.rmtree(root / gone)

    kept = export(compose_config("export", [*command, "gallery.prune=false"], tmp_path))
    assert (kept.rows_in_collection, kept.rows_kept, kept.rows_pruned) == (full, gone_rows, 0)
    assert f"{gone_rows} not in this export kept (gallery.prune=false)" in capsys.readouterr().out
    with MilvusStore.from_config(milvus) as store:
        assert len(store.query_person(gone)) == gone_rows

    pruned = export(compose_config("export", command, tmp_path))
    assert (pruned.rows_in_collection, pruned.rows_pruned, pruned.rows_added) == (full - gone_rows, gone_rows, 0)
    assert f"{gone_rows} pruned" in capsys.readouterr().out
    with MilvusStore.from_config(milvus) as store:
        assert store.query_person(gone) == []


def test_enrolling_an_image_of_another_person_warns(trained_run, milvus_lite_uri, tmp_path, caplog):
    _, objects = trained_run
    images = _pairs(_folder(objects, tmp_path / "faces"))
    alice_images = [path for path, _ in images[:2]]
    elsewhere = tmp_path / "uploads" / "copy.png"  # the same bytes under another name: the same image
    elsewhere.parent.mkdir()
    shutil.copy(alice_images[0], elsewhere)
    with FaceGallery.open(load_model(objects["best_ckpt"]), milvus_lite_uri, create=True) as gallery:
        gallery.enroll("alice", alice_images)
        gallery.enroll("alice", alice_images)  # again: replaced, never duplicated
        assert gallery.count() == 2 and not any("already in the gallery" in r.getMessage() for r in caplog.records)
        with caplog.at_level(logging.WARNING, logger="src.gallery.face_gallery"):
            gallery.enroll("bob", [elsewhere])
        warnings = [r.getMessage() for r in caplog.records if "already in the gallery" in r.getMessage()]
        assert len(warnings) == 1 and "'alice'" in warnings[0] and "'bob'" in warnings[0]
        assert gallery.count() == 2  # relabelled, not stored under two names
        assert [r.image_path for r in gallery.store.query_person("bob")] == [str(elsewhere.resolve())]
        assert len(gallery.store.query_person("alice")) == 1
        with pytest.raises(ValueError, match="same image"):
            gallery.enroll("carol", [alice_images[1], elsewhere, alice_images[0]])
