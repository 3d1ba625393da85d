"""Clustering faces: the algorithms and scores on vectors with known groups, the Milvus graph against the exact one,
and the commands end to end on real files (cluster, resume, name into a real Milvus Lite gallery, identify, merge,
move, incremental run)."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from src.bench.vectors import FaceLikeGenerator, FaceLikeParams
from src.cluster.algorithms import ALGORITHMS, chinese_whispers, group
from src.cluster.command import cluster
from src.cluster.edit import load_cluster_model, merge_clusters, move_face, name_cluster
from src.cluster.graph import exact_neighbours, neighbour_graph
from src.cluster.metrics import cluster_scores
from src.gallery.face_gallery import FaceGallery
from src.inference.identify import identify
from tests.helpers import compose_config

PEOPLE = 4
PER_PERSON = 5


def face_like(people: int, per_person: int, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of ``people`` identities (the benchmarks' face-like distribution) and their labels."""
    labels = np.repeat(np.arange(people), per_person)
    params = FaceLikeParams(latent_dim=32, images_per_id=per_person, within_std=0.2)
    return FaceLikeGenerator(people, dim, params, seed).images(labels), labels


def test_scores_of_known_groupings():
    truth = np.array([0, 0, 0, 1, 1, 2])
    perfect = cluster_scores(np.array([5, 5, 5, 7, 7, -1]), truth)
    assert perfect["pairwise_f1"] == perfect["bcubed_f"] == 1.0 and perfect["clusters"] == 2
    lumped = cluster_scores(np.zeros(6, int), truth)
    assert lumped["pairwise_recall"] == 1.0 and lumped["pairwise_precision"] == pytest.approx(4 / 15)
    alone = cluster_scores(np.full(6, -1), truth)
    assert alone["pairwise_precision"] == 1.0 and alone["pairwise_recall"] == 0.0 and alone["unclustered"] == 6


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_recovers_separated_people(algorithm):
    vectors, labels = face_like(12, 8)
    sims = vectors @ vectors.T
    same = labels[:, None] == labels[None]
    threshold = (sims[same & ~np.eye(len(labels), dtype=bool)].min() + sims[~same].max()) / 2
    assert sims[~same].max() < threshold < sims[same].min() + 1e-6, "the test vectors must be separable"
    found = group(algorithm, exact_neighbours(vectors, 10), vectors, float(threshold))
    scores = cluster_scores(found, labels)
    assert scores["pairwise_f1"] > 0.9, scores


def test_chinese_whispers_is_seeded_and_splits_a_bridge():
    vectors, labels = face_like(6, 6, seed=3)
    links = exact_neighbours(vectors, 8).edges(0.3)
    assert np.array_equal(chinese_whispers(links, seed=1), chinese_whispers(links, seed=1))
    # two triangles joined by one weak link: components joins them, Chinese whispers keeps them apart
    rows, cols = [0, 0, 1, 3, 3, 4, 2], [1, 2, 2, 4, 5, 5, 3]
    weights = [1.0] * 6 + [0.2]
    from scipy import sparse

    bridge = sparse.coo_matrix((weights, (rows, cols)), shape=(6, 6)).tocsr()
    bridge = bridge.maximum(bridge.T).tocsr()
    split = chinese_whispers(bridge, seed=0)
    assert len(set(split[:3])) == 1 and len(set(split[3:])) == 1 and split[0] != split[3]


def test_milvus_graph_equals_exact_on_lite(milvus_lite_uri):
    vectors, _ = face_like(30, 10)
    exact = neighbour_graph(vectors, 5, "exact")
    milvus = neighbour_graph(vectors, 5, "milvus", milvus={"uri": milvus_lite_uri, "collection": "faces"})
    assert milvus.indices.shape == exact.indices.shape == (300, 5)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(milvus.indices, exact.indices, strict=True)])
    assert recall > 0.99 and np.allclose(np.sort(milvus.similarities), np.sort(exact.similarities), atol=1e-4)


def _photo_pile(objects, root: Path) -> dict[str, list[Path]]:
    """Training images of PEOPLE people under nested folders named without the person, plus junk files."""
    split = objects["datamodule"].split.train
    people = {person: sorted(split[person])[:PER_PERSON] for person in sorted(split)[:PEOPLE]}
    placed: dict[str, list[Path]] = {}
    for i, (person, paths) in enumerate(people.items()):
        for j, path in enumerate(paths):
            target = root / f"roll{j % 2}" / f"day{i}" / f"img_{i}_{j}{path.suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
            placed.setdefault(person, []).append(target)
    (root / "roll0" / "notes.txt").write_text("not a photo")
    (root / "roll1" / "broken.png").write_bytes(b"\x89PNG broken")
    return placed


def _cluster_cfg(ckpt, photos: Path, output: Path, tmp_path: Path, *extra: str):
    return compose_config("cluster", [f"ckpt_path={ckpt}", f"input={photos}", f"output={output}",
                                      "gallery.num_workers=0", *extra], tmp_path)


def test_cluster_name_identify_merge_move_and_add_photos(trained_run, tmp_path, caplog):
    _, objects = trained_run
    ckpt = objects["best_ckpt"]
    photos, output = tmp_path / "photos", tmp_path / "out"
    placed = _photo_pile(objects, photos)
    result = cluster(_cluster_cfg(ckpt, photos, output, tmp_path))

    written = json.loads((output / "clusters.json").read_text())
    assert written["faces"] == PEOPLE * PER_PERSON and written["skipped_files"] == 2
    assert written["skipped_reasons"] == {"not an image file": 1, "unreadable image": 1}
    grouped = [face for c in written["clusters"] for face in c["faces"]]
    assert len(grouped) + len(written["unclustered"]) == PEOPLE * PER_PERSON and written["clusters"]
    for c in written["clusters"]:
        sims = [face["similarity"] for face in c["faces"]]
        assert sims == sorted(sims, reverse=True) and c["size"] == len(c["faces"]) >= 2
        assert Image.open(output / c["sheet"]).size[0] > 0
        assert sorted(p.resolve() for p in (output / c["folder"]).iterdir()) == sorted(
            Path(face["image"]).resolve() for face in c["faces"])
    assert {tuple(face["box"]) for face in grouped} == {(0.0, 0.0, 32.0, 32.0)}  # align=false: the whole image
    truth = {str(p): person for person, paths in placed.items() for p in paths}
    labels = np.full(len(truth), -1)
    for c in written["clusters"]:
        for face in c["faces"]:
            labels[list(truth).index(face["image"])] = c["id"]
    print("tiny model on synthetic faces:", cluster_scores(labels, np.array(list(truth.values()))))

    caplog.set_level(logging.INFO)
    again = cluster(_cluster_cfg(ckpt, photos, output, tmp_path))  # resumes: every photo is cached
    photos_seen = PEOPLE * PER_PERSON + 1  # the broken .png is a photo that failed to decode, cached as such
    assert any(f"{photos_seen} of {photos_seen} photos are cached" in r.getMessage()
               for r in caplog.records)
    assert [c["size"] for c in again["clusters"]] == [c["size"] for c in result["clusters"]]

    first = again["clusters"][0]
    gallery_uri = str(output / "gallery.db")
    with FaceGallery.open(load_cluster_model(again["model"]), gallery_uri, create=True) as gallery:
        done = name_cluster(output, first["id"], "alice", gallery)
    assert done["rows_written"] == done["gallery_rows"] == first["size"]
    probe = Path(first["faces"][0]["image"])
    found = identify(compose_config("identify", [f"ckpt_path={ckpt}", f"image={probe}", f"milvus.uri={gallery_uri}",
                                                 "threshold=0.99"], tmp_path))
    assert found["results"][0].person_id == "alice" and found["results"][0].similarity > 0.999

    # a later photo of alice (the probe re-encoded) joins her named cluster through the gallery
    later = photos / "later" / "new.jpg"
    later.parent.mkdir()
    Image.open(probe).convert("RGB").save(later, quality=98)
    grown = cluster(_cluster_cfg(ckpt, photos, output, tmp_path, "clustering.threshold=0.9"))
    alice = [c for c in grown["clusters"] if c["person_id"] == "alice"]
    assert len(alice) == 1 and str(later) in {face["image"] for face in alice[0]["faces"]}
    assert alice[0]["size"] == first["size"] + 1

    # move one of alice's faces to a cluster of its own, then merge that cluster back into hers
    face = alice[0]["faces"][-1]["face"]
    moved = move_face(output, face, -1)
    assert moved["size"] == 1 and moved["faces"][0]["face"] == face and moved["person_id"] is None
    assert moved["id"] not in {c["id"] for c in grown["clusters"]}
    merged = merge_clusters(output, moved["id"], alice[0]["id"])
    assert merged["person_id"] == "alice" and merged["size"] == alice[0]["size"]
    assert face in {f["face"] for f in merged["faces"]}
    final = json.loads((output / "clusters.json").read_text())
    assert sum(c["size"] for c in final["clusters"]) + len(final["unclustered"]) == PEOPLE * PER_PERSON + 1
    with pytest.raises(ValueError, match="No cluster 999"):
        merge_clusters(output, 999, 0)


def test_service_lists_and_names_clusters(trained_run, tmp_path):
    import httpx

    from src.bench.serve_process import ServeProcess

    _, objects = trained_run
    ckpt = objects["best_ckpt"]
    photos, output = tmp_path / "photos", tmp_path / "out"
    _photo_pile(objects, photos)
    result = cluster(_cluster_cfg(ckpt, photos, output, tmp_path))
    target = result["clusters"][0]
    key = "cluster-test-key-0123456789"
    process = ServeProcess([f"ckpt_path={ckpt}", f"milvus.uri={output / 'gallery.db'}", "serve.create_gallery=true",
                            f"serve.cluster_output={output}", f"serve.upload_dir={tmp_path}/uploads",
                            f"hydra.run.dir={tmp_path}/run"], tmp_path / "serve.log", env={"FACEREC_API_KEY": key})
    process.start()
    try:
        with httpx.Client(base_url=process.url, headers={"X-API-Key": key}, timeout=60) as http:
            listed = http.get("/v1/clusters").json()
            assert [(c["id"], c["size"]) for c in listed["clusters"]] == [(c["id"], c["size"])
                                                                         for c in result["clusters"]]
            assert listed["unclustered"] == len(result["unclustered"])
            sheet = http.get(f"/v1/clusters/{target['id']}/sheet")
            assert sheet.headers["content-type"] == "image/png" and sheet.content[:4] == b"\x89PNG"
            assert http.post("/v1/clusters/999/name", json={"person_id": "x"}).status_code == 400
            named = http.post(f"/v1/clusters/{target['id']}/name", json={"person_id": "bob"})
            assert named.status_code == 200, named.text
            assert named.json()["rows_written"] == named.json()["gallery_rows"] == target["size"]
            probe = Path(target["faces"][0]["image"])
            found = http.post("/v1/identify", files=[("image", (probe.name, probe.read_bytes(), "image/png"))],
                              params={"threshold": 0.99}).json()
            assert found["person_id"] == "bob" and found["similarity"] > 0.999
            assert [c["person_id"] for c in http.get("/v1/clusters").json()["clusters"]].count("bob") == 1
            assert httpx.get(f"{process.url}/v1/clusters").status_code == 401
    finally:
        process.stop()


def test_link_threshold_order():
    from src.cluster.threshold import link_threshold
    from tests.helpers import ROOT

    report = ROOT / "docs" / "performance" / "dlib_pretrained_orl_eval.json"
    made = json.loads(report.read_text())
    model_id, pre = made["model"]["model_id"], made["model"]["preprocessing"]
    strict = made["verification"]["tar_at_far"]["far_0.001"]["threshold"]
    stored = {"value": 0.7, "tta_mode": "concat", "preprocessing": pre, "report": "r.json"}
    families = {"dlib": 0.93, "dlib-resnet29": 0.95}
    pick = lambda *args: link_threshold(*args, model_id, "concat", pre, families, 0.5)  # noqa: E731
    assert pick(0.8, report, stored).value == 0.8
    assert pick(None, report, stored).value == strict and pick(None, report, stored).calibrated
    assert pick(None, None, stored).value == 0.7
    assert pick(None, None, {**stored, "tta_mode": "none"}).value == 0.95  # longest family prefix wins
    assert not pick(None, None, None).calibrated
    with pytest.raises(ValueError, match="does not apply"):
        link_threshold(None, report, None, "resnet18-512d@x", "concat", pre, families, 0.5)
