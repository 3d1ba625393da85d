"""Checkpoints are read as data only: a crafted file is refused without running, broken files get one clear error."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from src.embedding.checkpoint import load_embedder
from src.models.backbone import FaceEmbedder
from src.models.iresnet import IResNet
from src.train import train
from src.utils.checkpoint_file import CheckpointFileError, UnsafeCheckpointError, read_checkpoint
from tests.helpers import TRAINED_RUN_OVERRIDES, compose_config


class _WritesMarker:
    """Unpickling this calls ``open(marker, "w")``: the file appears only if the loader executes the pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


@pytest.fixture
def crafted(tmp_path) -> tuple[Path, Path]:
    """A file shaped like a facerec checkpoint whose unpickling would create ``marker``."""
    marker = tmp_path / "code_ran.txt"
    path = tmp_path / "crafted.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"backbone": {"depth": 18}}, "x": _WritesMarker(marker)}, path)
    return path, marker


def test_crafted_checkpoint_is_refused_and_not_run(crafted):
    path, marker = crafted
    with pytest.raises(UnsafeCheckpointError, match="NOT executed") as error:
        load_embedder(path)
    assert str(path) in str(error.value) and "io.open" in str(error.value)
    with pytest.raises(UnsafeCheckpointError):  # model.backbone.pretrained=<file> goes through the same reader
        FaceEmbedder(depth=18, pretrained=str(path))
    assert not marker.exists()


def test_resume_reads_the_checkpoint_as_data_only(crafted, tmp_path, monkeypatch):
    """`facerec-train ckpt_path=<crafted>` fails before training and runs nothing, even when the environment
    asks torch for unsafe loading (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD only changes calls that leave it unset)."""
    path, marker = crafted
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    cfg = compose_config("train", [*TRAINED_RUN_OVERRIDES, "data.num_identities=4", "data.images_per_identity=2",
                                   "data.val_fraction=0", "~callbacks.milvus_export", f"ckpt_path={path}"], tmp_path)
    with pytest.raises(UnsafeCheckpointError, match="NOT executed") as error:
        train(cfg)
    assert str(path) in str(error.value) and "weights_only" not in str(error.value)
    assert not marker.exists()


def test_iresnet_pretrained_names_a_refused_file(crafted):
    """`model.backbone.arch=iresnet pretrained=<crafted>`: the reader's message naming the file, not torch's."""
    path, marker = crafted
    with pytest.raises(UnsafeCheckpointError, match="NOT executed") as error:
        IResNet(depth=18, image_size=32, embedding_dim=64, pretrained=str(path))
    assert str(path) in str(error.value) and "weights_only" not in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["empty", "truncated", "text", "tensor", "missing"])
def test_broken_files_give_one_readable_error(trained_run, tmp_path, damage):
    _, objects = trained_run
    good = Path(objects["best_ckpt"]).read_bytes()
    path = tmp_path / f"{damage}.ckpt"
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "text":
        path.write_text("model weights are on the other disk\n")
    elif damage == "tensor":
        torch.save(torch.zeros(3), path)
    expected = FileNotFoundError if damage == "missing" else CheckpointFileError
    with pytest.raises(expected) as error:
        load_embedder(path)
    message = str(error.value)
    assert str(path) in message and "Traceback" not in message
    if damage == "empty":
        assert "empty (0 bytes)" in message
    if damage in ("truncated", "text"):
        assert "not a complete PyTorch checkpoint" in message


def test_project_checkpoints_load_as_data_only(trained_run):
    _, objects = trained_run
    content = read_checkpoint(objects["best_ckpt"])
    assert content["hyper_parameters"]["backbone"]["depth"] == 18 and "state_dict" in content
    assert load_embedder(objects["best_ckpt"]).model.depth == 18
