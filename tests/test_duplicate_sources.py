"""A file reached by several paths (symlinked folder, hard link) is used once; broken links are counted."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from src.datamodules.folder_scan import scan_image_folder
from src.export import export
from src.vector_store import MilvusStore
from tests.helpers import compose_config


def _faces(root: Path, people: list[str], images: int = 3) -> None:
    rng = np.random.default_rng(1)
    for person in people:
        (root / person).mkdir(parents=True)
        for n in range(images):
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / person / f"{n}.png")


@pytest.fixture
def aliased_folder(tmp_path) -> Path:
    """Five people; ``bob`` is a symlink to ``alice``'s folder, ``erin/2.png`` a hard link to ``dave/0.png``,
    ``carol`` holds a link back to itself, a dangling link and a self-referencing link."""
    root = tmp_path / "faces"
    _faces(root, ["alice", "carol", "dave", "erin"])
    (root / "bob").symlink_to("alice", target_is_directory=True)
    (root / "erin" / "2.png").unlink()
    os.link(root / "dave" / "0.png", root / "erin" / "2.png")
    (root / "carol" / "again").symlink_to("../carol", target_is_directory=True)
    (root / "carol" / "gone.png").symlink_to("missing.png")
    (root / "carol" / "loop.png").symlink_to("loop.png")
    (root / "ghost").symlink_to("nowhere", target_is_directory=True)
    return root


def test_scan_keeps_each_file_once_and_reports_the_rest(aliased_folder, caplog):
    root = aliased_folder
    with caplog.at_level(logging.INFO):
        scan = scan_image_folder(root, workers=2)
        scan.report()
    assert {k: [p.name for p in v] for k, v in scan.identities.items()} == {
        "alice": ["0.png", "1.png", "2.png"], "carol": ["0.png", "1.png", "2.png"],
        "dave": ["0.png", "1.png", "2.png"], "erin": ["0.png", "1.png"]}
    assert all(not p.is_symlink() for paths in scan.identities.values() for p in paths)  # real files kept
    assert scan.empty_identities == ["bob"]
    skipped = {str(path.relative_to(root)): reason for path, reason in scan.skipped}
    for n in range(3):
        assert skipped[f"bob/{n}.png"] == (f"duplicate: same file as {root}/alice/{n}.png "
                                           f"(found under 'bob', kept under 'alice')")
    assert skipped["erin/2.png"] == f"duplicate: same file as {root}/dave/0.png (found under 'erin', kept under 'dave')"
    assert skipped["carol/again"] == "symlink loop: links to a folder already scanned"
    assert skipped["carol/loop.png"] == "symlink loop"
    assert skipped["carol/gone.png"] == "dangling symlink: target missing.png does not exist"
    assert skipped["ghost"] == "dangling symlink: target nowhere does not exist"
    assert len(scan.skipped) == 8
    summary = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("Scanned"))
    assert "4 duplicate" in summary and "2 symlink loop" in summary and "2 dangling symlink" in summary
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "duplicate" in r.getMessage()]
    assert len(warned) == 1 + 4  # the summary plus one warning per duplicate path


def _rows(uri: str, people: list[str]) -> dict[str, tuple[str, np.ndarray]]:
    with MilvusStore.from_config({"uri": uri, "collection": "faces"}) as store:
        store.load()
        return {r.image_path: (r.person_id, r.embedding) for person in people
                for r in store.query_person(person, with_embeddings=True)}


def test_export_rows_do_not_depend_on_batch_size(trained_run, aliased_folder, tmp_path):
    """Batch 1 and batch 64 store the same rows: every real file once, under the identity that holds it."""
    _, objects = trained_run
    people = ["alice", "bob", "carol", "dave", "erin"]
    rows = {}
    for batch_size in (1, 64):
        uri = str(tmp_path / f"batch{batch_size}.db")
        cfg = compose_config("export", [
            f"ckpt_path={objects['best_ckpt']}", "data=image_folder", f"data.root={aliased_folder}",
            "data.image_size=32", "data.val_fraction=0", "data.num_workers=0", "gallery.num_workers=0",
            f"gallery.batch_size={batch_size}", f"milvus.uri={uri}"], tmp_path / f"run{batch_size}")
        result = export(cfg)
        assert result.images == result.rows_in_collection == 11
        rows[batch_size] = _rows(uri, people)
    assert sorted(rows[1]) == sorted(rows[64])
    assert {path: person for path, (person, _) in rows[1].items()} == {
        path: person for path, (person, _) in rows[64].items()}
    assert sorted({person for person, _ in rows[1].values()}) == ["alice", "carol", "dave", "erin"]
    assert str((aliased_folder / "dave" / "0.png").resolve()) in rows[1]
    for path, (_, vector) in rows[1].items():
        assert np.allclose(vector, rows[64][path][1], atol=1e-5)
