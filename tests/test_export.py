"""Gallery export round trip through a real Milvus (Lite file and standalone server)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from src.embedding.model import load_model
from src.export import export
from src.gallery.export import export_gallery, gallery_from_datamodule
from src.vector_store import (
    CollectionMismatchError,
    MilvusStore,
    MilvusUnavailableError,
)
from tests.helpers import compose_config

TINY_EXPORT = ["gallery.num_workers=0", "milvus.index.M=12", "milvus.index.efConstruction=64"]


def _milvus_cfg(uri: str, collection: str, **extra) -> dict:
    return {"uri": uri, "collection": collection, "index": {"M": 12, "efConstruction": 64},
            "search": {"ef": 64, "top_k": 10}, "recreate": False, **extra}


def test_training_ends_with_a_populated_lite_gallery(trained_run):
    cfg, objects = trained_run
    callback = next(c for c in objects["trainer"].callbacks if type(c).__name__ == "MilvusGalleryExport")
    result = callback.result
    datamodule = objects["datamodule"]
    assert result is not None and result.images == datamodule.scan.num_images
    assert result.rows_in_collection == result.images and result.dim == 1024
    assert Path(cfg.milvus.uri).is_dir()  # milvus-lite 3 keeps a gallery in a directory


def test_round_trip(trained_run, milvus_uri, milvus_collection):
    cfg, objects = trained_run
    model = load_model(objects["best_ckpt"])
    gallery = gallery_from_datamodule(objects["datamodule"], "held_out")
    milvus_cfg = _milvus_cfg(milvus_uri, milvus_collection)
    result = export_gallery(model, gallery, milvus_cfg)
    assert result.rows_in_collection == len(gallery) == result.images
    with MilvusStore.from_config(milvus_cfg) as store:
        person = gallery[0][1]
        records = store.query_person(person, with_embeddings=True)
        expected_paths = sorted(str(p.resolve()) for p, who in gallery if who == person)
        assert [r.image_path for r in records] == expected_paths
        vectors = np.stack([r.embedding for r in records])
        assert vectors.shape[1] == 1024
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
        top = store.search(vectors[:1], top_k=3)[0][0]
        assert top.image_path == records[0].image_path and top.person_id == person
        assert top.similarity == pytest.approx(1.0, abs=1e-3)
        index = store.index_info()
        assert index.metric_type == "COSINE"
        if store.backend == "server":
            assert index.index_type == "HNSW" and index.params["M"] == 12 and index.params["efConstruction"] == 64
        else:  # Milvus Lite has no HNSW: exact FLAT search
            assert index.index_type == "FLAT"
        meta = store.metadata()
        assert meta.tta_mode == "concat" and meta.dim == 1024 and model.loaded.fingerprint in meta.model_id


def test_reexport_upserts_and_new_images_add_rows(trained_run, milvus_uri, milvus_collection, tmp_path):
    cfg, objects = trained_run
    model = load_model(objects["best_ckpt"])
    gallery = gallery_from_datamodule(objects["datamodule"], "held_out")
    milvus_cfg = _milvus_cfg(milvus_uri, milvus_collection)
    first = export_gallery(model, gallery, milvus_cfg).rows_in_collection
    again = export_gallery(model, gallery, milvus_cfg).rows_in_collection
    assert again == first
    extra = []
    for n, (path, person) in enumerate(gallery[:3]):
        copy = tmp_path / f"new_{n}.png"
        shutil.copy(path, copy)
        extra.append((copy, person))
    assert export_gallery(model, gallery + extra, milvus_cfg).rows_in_collection == first + 3


def test_dimension_mismatch_names_both(trained_run, milvus_lite_uri):
    _, objects = trained_run
    concat, summed = load_model(objects["best_ckpt"], "concat"), load_model(objects["best_ckpt"], "sum")
    gallery = gallery_from_datamodule(objects["datamodule"], "held_out")[:4]
    milvus_cfg = _milvus_cfg(milvus_lite_uri, "faces")
    export_gallery(concat, gallery, milvus_cfg)
    with pytest.raises(CollectionMismatchError, match=r"1024[\s\S]*512|512[\s\S]*1024") as error:
        export_gallery(summed, gallery, milvus_cfg)
    assert "recreate" in str(error.value)
    rows = export_gallery(summed, gallery, {**milvus_cfg, "recreate": True})
    assert rows.dim == 512 and rows.rows_in_collection == 4


def test_unreachable_server_is_named(trained_run, tmp_path):
    from src.bench.local_server import free_port

    _, objects = trained_run
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MilvusUnavailableError, match=uri.replace(".", r"\.")) as error:
        export_gallery(load_model(objects["best_ckpt"]), [], _milvus_cfg(uri, "faces"))
    assert "docker compose up -d" in str(error.value)


def test_export_command_with_corrupt_image_and_arrays(trained_run, tmp_path, caplog):
    """`facerec-export` on a copy of the data with a broken file: the file is counted, the rest exported."""
    cfg, objects = trained_run
    root = tmp_path / "faces"
    shutil.copytree(objects["datamodule"].root, root)
    broken = next(root.glob("id_*")) / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    export_cfg = compose_config("export", [*TINY_EXPORT, f"data.root={root}", f"ckpt_path={objects['best_ckpt']}",
                                           "gallery.save_arrays=true", "data=image_folder", "data.image_size=32",
                                           "data.val_fraction=0.2", "data.num_workers=0"], tmp_path)
    result = export(export_cfg)
    usable = sum(1 for p in root.rglob("*.png")) - 1
    assert result.images == usable == result.rows_in_collection
    assert any("skipped 1 files" in r.getMessage() for r in caplog.records)
    arrays = np.load(result.embeddings_file)
    names = json.loads((Path(result.embeddings_file).parent / "names.json").read_text())
    assert arrays.shape == (usable, 1024) and len(names) == usable
    assert Path(names[0]["image_path"]).parent.name == names[0]["person_id"]


def test_export_command_requires_existing_checkpoint(tmp_path):
    cfg = compose_config("export", [f"ckpt_path={tmp_path}/missing.ckpt", "data.root=/nowhere"], tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        export(cfg)
