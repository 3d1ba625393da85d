"""Evaluate any folder: a tiny model trained on some real ORL people, evaluated and used on other people with no
split settings; old checkpoints, small folders and uncalibrated thresholds are said so."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from src.datamodules.build import build_datamodule
from src.datamodules.folder_scan import FolderScan
from src.datamodules.identities import TRAINED_ON_KEY, select_identities
from src.eval import evaluate
from src.evaluation.options import EvaluationOptions
from src.evaluation.protocol import split_gallery_probes
from src.export import export
from src.inference import UNKNOWN, FaceGallery, load_model
from src.inference.identify import identify
from src.inference.threshold import resolve_threshold
from src.scoring.acceptance import threshold_at_far
from src.train import train
from tests.helpers import TINY, compose_config, orl_root

# Speed only (fewer timed searches and pairs, no loader processes): no knob about which people are evaluated.
FAST = ["evaluation.latency.queries=20", "evaluation.latency.warmup=2", "evaluation.latency.sweep_queries=5",
        "evaluation.latency.batch_sizes=[1]", "evaluation.latency.ef_sweep=[16]", "evaluation.num_workers=0",
        "evaluation.max_pairs=300", "gallery.num_workers=0"]


def _people_folder(root: Path, people: list[str]) -> Path:
    root.mkdir()
    for person in people:
        (root / person).symlink_to(orl_root() / person, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def orl_model(tmp_path_factory):
    """ResNet18 at 32 px, 3 steps on 16 ORL people (the orl_faces split trains 11, holds out 5); a folder of 12
    other people and one of 3 of those."""
    out = tmp_path_factory.mktemp("orl_any_folder")
    people = sorted(p.name for p in orl_root().iterdir() if p.is_dir())
    folders = {"train": _people_folder(out / "train_people", people[:16]),
               "new": _people_folder(out / "new_people", people[16:28]),
               "small": _people_folder(out / "three_people", people[16:19])}
    overrides = ["experiment=orl_faces", *TINY, f"data.root={folders['train']}", "trainer.max_epochs=1",
                 "trainer.max_steps=-1", "trainer.limit_train_batches=3", "trainer.check_val_every_n_epoch=1",
                 "~callbacks.progress_bar", "~callbacks.milvus_export", "eval=false"]
    _, objects = train(compose_config("train", overrides, out / "run"))
    return objects["best_ckpt"], set(objects["datamodule"].split.train), folders


def test_checkpoint_stores_its_training_people(orl_model):
    ckpt, trained, folders = orl_model
    stored = load_model(ckpt).loaded.trained_on  # read with the weights, not from the file a second time
    assert stored.identities == trained and len(trained) == 11
    assert stored.root == str(folders["train"])


def test_new_people_are_all_evaluated_with_a_synthetic_experiments_config(orl_model, tmp_path, capsys):
    """`facerec-eval experiment=quickstart ckpt_path=... data.root=<new people>`: issue 14 failed on data.root."""
    ckpt, _, folders = orl_model
    cfg = compose_config("eval", ["experiment=quickstart", f"ckpt_path={ckpt}", f"data.root={folders['new']}",
                                  f"milvus.uri={tmp_path / 'eval.db'}", *FAST], tmp_path)
    report = evaluate(cfg)
    data = json.loads((Path(cfg.evaluation.output_dir) / "report.json").read_text())["data"]
    assert data["root"] == str(folders["new"]) and data["identities_in_folder"] == 12
    assert data["enrolled_identities"] + data["unenrolled_identities"] == 12 and data["excluded_identities"] == 0
    assert data["trained_identities_in_folder"] == 0 and data["trained_identities_from"] == "checkpoint (image content)"
    assert data["reliable"] is True and data["warning"] is None
    assert "NOT RELIABLE" not in capsys.readouterr().out
    assert report["identification"]["milvus"]["rank1"] > 0.3  # 10 enrolled people: chance 0.1

    # The recommended threshold (FAR 1% of 20 non-mated probes: none accepted) rejects every unenrolled face,
    # the top impostor included, through the gallery's own decision (FaceGallery.identify).
    identities = build_datamodule(cfg.data).scan_folder().identities
    split = split_gallery_probes(identities, cfg.evaluation.n_gallery, cfg.evaluation.unenrolled_fraction,
                                 cfg.evaluation.seed)
    strangers = [path for path, person in split.probes if person in split.unenrolled]
    assert len(strangers) == 20
    with FaceGallery.open(load_model(ckpt), cfg.milvus, collection=cfg.evaluation.collection) as gallery:
        top = [r.similarity for r in gallery.identify(strangers, top_k=1)]
        threshold = report["identification"]["recommended_threshold"]
        assert threshold == pytest.approx(max(top), abs=1e-4)  # the same top impostor as the evaluation's search
        recommended = threshold_at_far(top, 0.01)
        assert all(r.person_id == UNKNOWN for r in gallery.identify(strangers, top_k=1, threshold=recommended))
        at_top = gallery.identify(strangers, top_k=1, threshold=max(top))  # the old rule's threshold
        assert sum(r.known for r in at_top) >= 1


def test_training_folder_keeps_the_held_out_protocol_and_old_checkpoints_warn(orl_model, tmp_path, capsys, caplog):
    ckpt, _, folders = orl_model
    overrides = ["experiment=orl_faces", f"data.root={folders['train']}", f"milvus.uri={tmp_path / 'eval.db'}", *FAST]
    data = evaluate(compose_config("eval", [*overrides, f"ckpt_path={ckpt}"], tmp_path))["data"]
    assert data["identities_in_folder"] == 16
    assert data["trained_identities_in_folder"] == data["excluded_identities"] == 11
    assert data["enrolled_identities"] + data["unenrolled_identities"] == 5
    assert data["reliable"] is False and "not reliable" in data["warning"]
    assert "NOT RELIABLE" in capsys.readouterr().out

    old = torch.load(ckpt, map_location="cpu", weights_only=False)
    del old[TRAINED_ON_KEY]
    torch.save(old, tmp_path / "old.ckpt")
    before = evaluate(compose_config("eval", [*overrides, f"ckpt_path={tmp_path / 'old.ckpt'}"], tmp_path))["data"]
    assert before["trained_identities_from"] == "data split"
    assert {k: before[k] for k in ("excluded_identities", "enrolled_identities", "probes")} == {
        k: data[k] for k in ("excluded_identities", "enrolled_identities", "probes")}
    assert "does not record the people it was trained on" in caplog.text


def test_small_gallery_exports_without_a_split_and_default_threshold_is_not_calibrated(orl_model, tmp_path, capsys):
    ckpt, _, folders = orl_model
    base = [f"ckpt_path={ckpt}", f"milvus.uri={tmp_path / 'gallery.db'}"]
    result = export(compose_config("export", ["experiment=orl_faces", *base, f"data.root={folders['small']}",
                                              "gallery.num_workers=0"], tmp_path))
    assert result.rows_in_collection == 30  # 3 people x 10 images; orl_faces' val_fraction would hold out 1

    image = sorted((folders["small"] / "s24").iterdir())[0]
    out = identify(compose_config("identify", [*base, f"image={image}"], tmp_path))
    saved = json.loads(Path(out["output"]).read_text())
    assert saved["threshold_calibrated"] is False and out["threshold"] == 0.4
    printed = capsys.readouterr().out
    assert "not calibrated" in printed and "facerec-eval" in printed

    # The acceptance boundary through the gallery: a similarity equal to the threshold is a known face.
    with FaceGallery.open(load_model(ckpt), str(tmp_path / "gallery.db")) as gallery:
        similarity = gallery.identify([image], top_k=1)[0].similarity
        assert gallery.identify([image], top_k=1, threshold=similarity)[0].person_id == "s24"
        assert gallery.identify([image], top_k=1, threshold=np.nextafter(similarity, 2))[0].person_id == UNKNOWN


def test_threshold_calibration_is_reported(tmp_path):
    default = resolve_threshold(None, None, None, "m1", "concat", 0.4)
    assert not default.calibrated and "facerec-eval" in default.warning and "threshold_from" in default.warning
    assert resolve_threshold(0.3, None, None, "m1", "concat", 0.4).warning is None
    report = tmp_path / "eval" / "report.json"
    report.parent.mkdir()
    for recommended, calibrated in ((None, False), (0.5, True)):
        report.write_text(json.dumps({"model": {"model_id": "m1"}, "embedding": {"tta_mode": "concat"},
                                      "identification": {"recommended_threshold": recommended}}))
        assert resolve_threshold(None, report, None, "m1", "concat", 0.4).calibrated is calibrated
        assert not resolve_threshold(None, None, None, "m1", "concat", 0.4).calibrated  # never found on its own


def test_new_people_named_like_trained_ones_are_evaluated(orl_model, tmp_path, caplog):
    """New people whose folders carry the training people's names are evaluated, with a warning (issue 24: they
    were excluded as "trained on" by name)."""
    ckpt, trained, folders = orl_model
    same_names = tmp_path / "same_names"
    same_names.mkdir()
    for source, name in zip(sorted(folders["new"].iterdir()), sorted(trained), strict=False):
        (same_names / name).symlink_to(source.resolve(), target_is_directory=True)
    cfg = compose_config("eval", ["experiment=orl_faces", f"ckpt_path={ckpt}", f"data.root={same_names}",
                                  f"milvus.uri={tmp_path / 'eval.db'}", *FAST], tmp_path)
    data = evaluate(cfg)["data"]
    assert data["identities_in_folder"] == 11 and data["excluded_identities"] == 0
    assert data["same_name_new_identities"] == 11 and data["trained_identities_from"] == "checkpoint (image content)"
    assert "share a name with a training person" in caplog.text


def test_evaluation_options_are_typed_and_name_the_bad_key(tmp_path):
    cfg = compose_config("eval", ["data.root=faces", "ckpt_path=model.ckpt"], tmp_path)
    options = EvaluationOptions.from_config(cfg.evaluation)
    assert options.latency.sweep_queries == cfg.evaluation.latency.sweep_queries and options.top_k == 10
    node = OmegaConf.to_container(cfg.evaluation, resolve=True)
    for bad, message in (({"topk": 5}, "evaluation.topk"), ({"top_k": "ten"}, "evaluation.top_k"),
                         ({"identities": "some"}, "evaluation.identities"),
                         ({"latency": {"queries": "x"}}, "evaluation.latency.queries")):
        with pytest.raises(ValueError, match=message):
            EvaluationOptions.from_config(OmegaConf.merge(node, bad))


def test_selecting_nobody_says_which_override_helps(tmp_path):
    scan = FolderScan(root=tmp_path, identities={"ann": [tmp_path / "1.png"], "bob": [tmp_path / "2.png"]})
    assert set(select_identities(scan, {"ann"}, "held_out")) == {"bob"}
    with pytest.raises(ValueError, match=r"2 of its 2 people were trained on.*evaluation.identities=train"):
        select_identities(scan, {"ann", "bob"}, "held_out")
    with pytest.raises(ValueError, match=r"0 of its 2 people.*evaluation.identities=held_out"):
        select_identities(scan, set(), "train")
    with pytest.raises(ValueError, match="held_out"):
        select_identities(scan, set(), "everyone")
