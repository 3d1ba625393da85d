"""Verification .bin sets: restricted loading, 10-fold accuracy, val/<name>/acc during training from a .rec set,
and facerec-eval with evaluation.bins and no data.root."""
from __future__ import annotations

import json
import logging
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from src.datamodules.image_decode import ImageTooLargeError, UnknownFormatError
from src.eval import evaluate
from src.evaluation.bins import _BinImages, load_bin, pair_accuracy
from src.pack import pack
from src.train import train
from tests.helpers import TINY, compose_config, orl_root


def write_orl_bin(path: Path, people: list[str], protocol: int = 4) -> tuple[list[bytes], list[bool]]:
    """Pairs of real ORL photos, alternating genuine (same person, photos i and i+5) and impostor (next person)."""
    images, same = [], []
    for n, person in enumerate(people):
        photos = [(orl_root() / person / f"{i}.pgm").read_bytes() for i in range(1, 11)]
        other = [(orl_root() / people[(n + 1) % len(people)] / f"{i}.pgm").read_bytes() for i in range(1, 11)]
        for i in range(2):
            images += [photos[i], photos[i + 5], photos[i + 2], other[i]]
            same += [True, False]
    with open(path, "wb") as handle:
        pickle.dump((images, same), handle, protocol=protocol)
    return images, same


def test_load_bin_plain_and_protocol2(tmp_path) -> None:
    for protocol in (2, 4):  # protocol 2 from Python 3 stores bytes through _codecs.encode
        path = tmp_path / f"orl_p{protocol}.bin"
        images, same = write_orl_bin(path, ["s1", "s2"], protocol)
        loaded = load_bin(path)
        assert loaded.name == f"orl_p{protocol}" and loaded.images == images and loaded.is_same.tolist() == same


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_load_bin_refuses_code_and_bad_layout(tmp_path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.bin"
    evil.write_bytes(pickle.dumps(([b"x", b"y"], [_Exploit(marker)])))
    with pytest.raises(ValueError, match=r"refusing to load posix\.system"):
        load_bin(evil)
    assert not marker.exists()
    odd = tmp_path / "odd.bin"
    odd.write_bytes(pickle.dumps(([b"a", b"b", b"c"], [True, False])))
    with pytest.raises(ValueError, match="3 images for 2 pairs"):
        load_bin(odd)


def test_pair_accuracy_folds() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 64))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    same = np.arange(200) % 2 == 0
    partner = np.where(same[:, None], base + 0.05 * rng.normal(size=base.shape), rng.normal(size=base.shape))
    partner /= np.linalg.norm(partner, axis=1, keepdims=True)
    embeddings = np.empty((400, 64))
    embeddings[0::2], embeddings[1::2] = base, partner
    separable = pair_accuracy(embeddings, same)
    assert separable["pairs"] == 200 and separable["accuracy_mean"] == 1.0
    flipped = same.copy()
    flipped[:20] = ~flipped[:20]  # 20 wrong labels, all in the first fold: that fold scores 0
    noisy = pair_accuracy(embeddings, flipped)
    assert noisy["accuracy_mean"] == pytest.approx(0.9) and noisy["accuracy_std"] == pytest.approx(0.3)


def test_trains_from_rec_with_bin_validation_and_evaluates_bins(tmp_path, caplog) -> None:
    people = sorted(p.name for p in orl_root().iterdir() if p.is_dir())[:12]
    faces = tmp_path / "faces"
    faces.mkdir()
    for person in people:
        (faces / person).symlink_to(orl_root() / person)
    pack(faces, tmp_path / "rec", image_size=32)
    bin_path = tmp_path / "orl_pairs.bin"
    _, same = write_orl_bin(bin_path, people)
    cfg = compose_config("train", [
        *TINY, "data=rec", f"data.root={tmp_path / 'rec'}", "data.batch_size=16", "data.val_fraction=0.2",
        "trainer.max_epochs=2", "~callbacks.progress_bar", "evaluation.num_workers=0",
        f"evaluation.bins=[{bin_path}]",
    ], tmp_path)
    with caplog.at_level(logging.WARNING):
        _, objects = train(cfg)
    assert "No gallery export: the training data are records" in caplog.text  # not a crash after training
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard")).Reload()
    logged = [e.value for e in events.Scalars("val/orl_pairs/acc")]
    assert len(logged) >= 2 and all(0.0 <= v <= 1.0 for v in logged)  # every validation epoch
    report = objects["report"]  # end of training: records have no image files, so the .bin part only
    result = report["verification_bins"]["orl_pairs"]
    assert result["pairs"] == len(same) and 0.0 <= result["accuracy_mean"] <= 1.0 and result["accuracy_std"] >= 0.0
    saved = json.loads((tmp_path / "run" / "eval" / "report.json").read_text())
    assert saved["verification_bins"] == report["verification_bins"]
    # facerec-eval with no data.root: the same checkpoint gives the same numbers
    eval_cfg = compose_config("eval", [*TINY, f"ckpt_path={objects['best_ckpt']}", f"evaluation.bins=[{bin_path}]",
                                       "evaluation.num_workers=0", f"evaluation.output_dir={tmp_path}/eval2"], tmp_path)
    again = evaluate(eval_cfg)
    assert again["verification_bins"] == report["verification_bins"]
    assert json.loads((tmp_path / "eval2" / "report.json").read_text())["verification_bins"]["orl_pairs"] == result


def test_a_string_longer_than_the_file_names_the_file_and_pair(tmp_path) -> None:
    """A .bin whose third image declares 2**40 bytes: one error naming the file and the pair, no MemoryError."""
    images, _ = write_orl_bin(tmp_path / "ok.bin", ["s1"], protocol=3)
    data = pickle.dumps((images[:4], [True, False]), protocol=3)  # protocol 3: BINBYTES, no frames
    third = data.index(b"B" + struct.pack("<I", len(images[2])) + images[2])
    hostile = tmp_path / "hostile.bin"
    hostile.write_bytes(data[:third] + b"\x8e" + struct.pack("<Q", 2**40) + data[third + 5:])  # BINBYTES8
    with pytest.raises(ValueError, match=r"hostile\.bin is not a verification \.bin: entry 2 \(pair 1 image 1"):
        load_bin(hostile)


def test_bin_images_go_through_the_one_decoder(tmp_path, monkeypatch) -> None:
    """A non-image entry, a PostScript entry and an image above the pixel cap: each refused naming file and pair."""
    images, same = write_orl_bin(tmp_path / "orl.bin", ["s1"])
    postscript = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nshowpage\n"
    path = tmp_path / "bad.bin"
    path.write_bytes(pickle.dumps(([images[0], b"not an image at all", images[2], postscript], same[:2])))
    items = _BinImages(load_bin(path).images, 32, str(path))
    assert items[0][0].shape == (3, 32, 32)
    for index, pair in ((1, r"pair 0 image 2"), (3, r"pair 1 image 2")):
        with pytest.raises(UnknownFormatError, match=rf"bad\.bin {pair} is not a JPEG, PNG"):
            items[index]
    monkeypatch.setenv("FACEREC_MAX_IMAGE_PIXELS", "1000")  # ORL photos are 92 x 112 = 10,304 pixels
    with pytest.raises(ImageTooLargeError, match=r"bad\.bin pair 1 image 1: 92 x 112"):
        items[2]
