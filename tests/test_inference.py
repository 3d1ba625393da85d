"""Using the gallery: embed to arrays, identify, enroll and remove people, through a real Milvus (Lite and server)."""
from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from src.gallery.export import export_gallery
from src.inference import UNKNOWN, FaceGallery, collect_images, load_model
from src.inference.embed import embed
from src.inference.enroll import enroll
from src.inference.identify import identify
from src.inference.remove import remove
from src.inference.threshold import calibrated_record, resolve_threshold, store_threshold
from src.vector_store import (
    CollectionMismatchError,
    CollectionNotFoundError,
    MilvusStore,
)
from tests.helpers import compose_config

# Expression syntax and both quote kinds: unescaped, deleting it would delete every row.
TRICKY_ID = 'o\'brien "x" or person_id != ""'
ENROLLED_IMAGES = 4  # per person; the synthetic run has 6 images per identity, so 2 stay held out


def _milvus_cfg(uri: str, collection: str) -> dict:
    return {"uri": uri, "collection": collection, "index": {"M": 8, "efConstruction": 32},
            "search": {"ef": 32, "top_k": 5}, "recreate": False}


def _train_people(objects, n: int) -> dict[str, list[Path]]:
    split = objects["datamodule"].split.train
    return {person: sorted(split[person]) for person in sorted(split)[:n]}


def _pick_probe_and_stranger(model, known: dict[str, list[Path]], strangers: dict[str, list[Path]]):
    """The held-out image of a known person matched most confidently (and correctly) by exact search, the
    stranger image least similar to the gallery, and a threshold between their scores."""
    gallery = np.concatenate([model.embed(paths[:ENROLLED_IMAGES]) for paths in known.values()])
    labels = [person for person in known for _ in range(ENROLLED_IMAGES)]

    def best(path: Path) -> tuple[float, str]:
        scores = gallery @ model.embed([path])[0]
        return float(scores.max()), labels[int(scores.argmax())]

    genuine = [(best(p), person, p) for person, paths in known.items() for p in paths[ENROLLED_IMAGES:]]
    (score, _), person, probe = max(g for g in genuine if g[0][1] == g[1])
    impostor, stranger = min((best(p)[0], p) for paths in strangers.values() for p in paths)
    assert score > impostor + 0.01, f"the tiny model does not separate any probe ({score}) from strangers ({impostor})"
    return person, probe, score, stranger, (score + impostor) / 2


def test_enroll_identify_and_remove(trained_run, milvus_uri, milvus_collection):
    _, objects = trained_run
    model = load_model(objects["best_ckpt"])
    people = _train_people(objects, 6)
    known, strangers = dict(list(people.items())[:3]), dict(list(people.items())[3:])
    person, probe, genuine, stranger, threshold = _pick_probe_and_stranger(model, known, strangers)
    cfg = _milvus_cfg(milvus_uri, milvus_collection)
    exported = [(path, who) for who, paths in known.items() if who != person for path in paths[:ENROLLED_IMAGES]]
    export_gallery(model, exported, cfg)

    with FaceGallery.open(model, cfg) as gallery:
        assert gallery.count() == len(exported)
        assert gallery.enroll(person, known[person][:ENROLLED_IMAGES]) == ENROLLED_IMAGES
        assert gallery.count() == len(exported) + ENROLLED_IMAGES
        found, unknown = gallery.identify([probe, stranger], top_k=3, threshold=threshold)
        assert found.known and found.person_id == person and found.matches[0].person_id == person
        assert found.similarity == pytest.approx(genuine, abs=1e-3) and len(found.matches) == 3
        assert not unknown.known and unknown.person_id == UNKNOWN and unknown.similarity < threshold

        before = gallery.count()
        tricky_paths = next(iter(strangers.values()))[:2]
        gallery.enroll(TRICKY_ID, tricky_paths)
        rows = gallery.store.query_person(TRICKY_ID)
        assert [r.image_path for r in rows] == sorted(str(p.resolve()) for p in tricky_paths)
        assert all(r.person_id == TRICKY_ID for r in rows)
        assert gallery.remove(TRICKY_ID) == 2
        assert gallery.count() == before
        assert all(len(gallery.store.query_person(who)) == ENROLLED_IMAGES for who in known)

        assert gallery.remove(person) == ENROLLED_IMAGES
        assert gallery.count() == len(exported)
        assert gallery.identify([probe], top_k=1)[0].person_id != person


def test_embed_command_on_identity_folders_with_corrupt_file(trained_run, tmp_path, caplog):
    _, objects = trained_run
    root = tmp_path / "faces"
    for person, paths in _train_people(objects, 3).items():
        (root / person).mkdir(parents=True)
        for path in paths[:3]:
            shutil.copy(path, root / person / path.name)
    broken = root / next(iter(os.listdir(root))) / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    out = tmp_path / "arrays"
    result = embed(compose_config("embed", [f"ckpt_path={objects['best_ckpt']}", f"input={root}",
                                            f"output_dir={out}", "gallery.num_workers=0"], tmp_path))

    embeddings = np.load(out / "embeddings.npy")
    names = json.loads((out / "names.json").read_text())
    assert embeddings.shape == (9, 1024) == (result.images, result.dim) and len(names) == 9
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-4)
    assert all(Path(n["image_path"]).parent.name == n["person_id"] for n in names)
    again = load_model(objects["best_ckpt"]).embed([names[4]["image_path"], names[7]["image_path"]])
    assert np.allclose(embeddings[[4, 7]], again, atol=1e-4)
    assert result.skipped == 1 and str(broken) not in {n["image_path"] for n in names}
    assert json.loads((out / "skipped.json").read_text())[0]["path"] == str(broken)
    assert any("skipped 1 files (1 unreadable image)" in r.getMessage() for r in caplog.records)


def test_flat_folder_and_single_image_have_no_person(tmp_path, trained_run):
    _, objects = trained_run
    source = next(iter(_train_people(objects, 1).values()))
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in source[:2]:
        shutil.copy(path, flat / path.name)
    (flat / "notes.txt").write_text("not an image")
    images = collect_images(flat)
    assert len(images.paths) == 2 and images.person_ids == [None, None] and not images.by_identity
    assert images.skipped_reasons() == {"not an image file": 1}
    assert collect_images(flat / source[0].name).paths == [flat / source[0].name]
    (flat / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match="No readable image"):
        collect_images(flat / "empty.png")


def _fake_report(path: Path, model_id: str, tta: str, threshold: float | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": {"model_id": model_id}, "embedding": {"tta_mode": tta},
                                "identification": {"recommended_threshold": threshold}}))
    return path


def test_threshold_is_chosen_or_travels_with_the_gallery(trained_run, tmp_path):
    """threshold= > threshold_from= > the gallery's stored threshold > default; reports lying under outputs/ (an
    unrelated evaluation) never change the answer; a report of another model, TTA mode or alignment is refused."""
    _, objects = trained_run
    model = load_model(objects["best_ckpt"])
    person, paths = next(iter(_train_people(objects, 1).items()))
    uri = str(tmp_path / "gallery.db")
    export_gallery(model, [(p, person) for p in paths[:2]], {"uri": uri, "collection": "faces"})
    _fake_report(tmp_path / "outputs/eval/x/eval/report.json", model.model_id, "concat", 0.11)  # newest, unrelated
    with FaceGallery.open(model, uri) as gallery:
        default = resolve_threshold(None, None, gallery, model.model_id, "concat", 0.4)
    assert (default.value, default.calibrated) == (0.4, False) and "gallery stores none" in default.source
    report = _fake_report(tmp_path / "report.json", model.model_id, "concat", 0.55)
    print(store_threshold(model, uri, calibrated_record(report, model)))
    with FaceGallery.open(model, uri) as gallery:
        stored = resolve_threshold(None, None, gallery, model.model_id, "concat", 0.4)
        assert stored.value == 0.55 and stored.calibrated and "stored with the gallery" in stored.source
        assert resolve_threshold(0.3, report, gallery, model.model_id, "concat", 0.4).value == 0.3
        other = _fake_report(tmp_path / "other.json", model.model_id, "concat", 0.6)
        assert resolve_threshold(None, other, gallery, model.model_id, "concat", 0.4).value == 0.6
        with pytest.raises(ValueError, match="evaluates m2"):
            resolve_threshold(None, _fake_report(tmp_path / "m2.json", "m2", "concat", 0.6), gallery,
                              model.model_id, "concat", 0.4)
    aligned = json.loads(report.read_text())
    aligned["model"]["preprocessing"] = {"aligned": True, "template": "arcface-5pt-112", "size": 112}
    (tmp_path / "aligned.json").write_text(json.dumps(aligned))
    with pytest.raises(ValueError, match="aligned faces"):
        calibrated_record(tmp_path / "aligned.json", model)


def test_commands_identify_enroll_remove_and_refuse_mismatch(trained_run, tmp_path, capsys):
    _, objects = trained_run
    model = load_model(objects["best_ckpt"])
    people = _train_people(objects, 3)
    (alice, alice_paths), (bob, bob_paths), (carol, carol_paths) = people.items()
    uri = str(tmp_path / "gallery.db")
    gallery_options = [f"milvus.uri={uri}", "milvus.collection=faces"]
    base = [f"ckpt_path={objects['best_ckpt']}", *gallery_options]
    enroll_cfg = [*base, f"person_id={carol}", f"images={carol_paths[0].parent}"]
    with pytest.raises(CollectionNotFoundError, match="facerec-export"):
        enroll(compose_config("enroll", enroll_cfg, tmp_path))

    export_gallery(model, [(p, alice) for p in alice_paths[:3]] + [(p, bob) for p in bob_paths[:3]],
                   {"uri": uri, "collection": "faces"})
    with pytest.raises(CollectionMismatchError, match=r"TTA mode: collection has 'concat', loaded model gives 'sum'"):
        enroll(compose_config("enroll", [*enroll_cfg, "gallery.tta=sum"], tmp_path))
    with MilvusStore.from_config({"uri": uri, "collection": "other"}) as store:
        store.ensure_collection(1024, model_id="resnet50-512d@0123456789abcdef", tta_mode="concat")
    with pytest.raises(CollectionMismatchError, match="resnet50-512d@0123456789abcdef"):
        FaceGallery.open(model, uri, collection="other")

    assert enroll(compose_config("enroll", enroll_cfg, tmp_path)) == 6
    queries = tmp_path / "queries"
    queries.mkdir()
    shutil.copy(alice_paths[0], queries / "alice.png")  # stored in the gallery: similarity 1
    shutil.copy(bob_paths[5], queries / "bob_held_out.png")
    (queries / "broken.png").write_bytes(b"broken")
    report = _fake_report(tmp_path / "report.json", model.model_id, "concat", 0.9999)
    for fmt in ("json", "csv"):
        out = identify(compose_config("identify", [*base, f"image={queries}", f"threshold_from={report}",
                                                   f"format={fmt}", "top_k=2"], tmp_path))
        assert out["threshold"] == 0.9999 and out["images"]["skipped_files"] == 1
        answers = {Path(r.image_path).name: r.person_id for r in out["results"]}
        assert answers == {"alice.png": alice, "bob_held_out.png": UNKNOWN}
        assert out["search_latency"]["p50_ms"] > 0 and "p50" in capsys.readouterr().out
    with open(out["output"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and {r["identified_as"] for r in rows} == {alice, UNKNOWN}
    assert remove(compose_config("remove", [*gallery_options, f"person_id={carol}"], tmp_path)) == 6
    with FaceGallery.open(model, uri) as gallery:
        assert gallery.count() == 6 and gallery.store.query_person(carol) == []
