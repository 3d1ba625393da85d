"""RecordIO: folder -> facerec-pack -> datamodule round trip, a file from an independent writer, corrupt records."""
from __future__ import annotations

import io
import logging
import pickle
import struct
from pathlib import Path

import pytest
import torch
from PIL import Image

from src.datamodules.face_dataset import load_rgb
from src.datamodules.recordio import RecordFaceDataModule, RecordReader
from src.datamodules.recordio.datamodule import RecordFaceDataset
from src.datamodules.transforms import eval_transform
from src.pack import pack
from tests.helpers import orl_root

SIZE = 32
PEOPLE = ["s1", "s10", "s11", "s12", "s13", "s14"]


def _subset(tmp_path: Path) -> Path:
    """Six ORL identities (10 real photos each) as an image folder."""
    root = tmp_path / "faces"
    for person in PEOPLE:
        (root / person).mkdir(parents=True)
        for src in sorted((orl_root() / person).glob("*.pgm")):
            (root / person / src.name).write_bytes(src.read_bytes())
    return root


def _datamodule(root: Path, **kwargs) -> RecordFaceDataModule:
    options = {"image_size": SIZE, "batch_size": 8, "val_fraction": 0.34, "seed": 0, "num_workers": 0,
               "pin_memory": False, "persistent_workers": False, **kwargs}
    datamodule = RecordFaceDataModule(root=str(root), **options)
    datamodule.setup()
    return datamodule


def test_pack_round_trip(tmp_path) -> None:
    faces = _subset(tmp_path)
    counts = pack(faces, tmp_path / "rec", image_size=SIZE)
    assert counts == {"identities": 6, "images": 60, "skipped_files": 0}
    assert (tmp_path / "rec" / "property").read_text().strip() == f"6,{SIZE},{SIZE}"
    dm = _datamodule(tmp_path / "rec")
    assert dm.num_classes == 4 and len(dm.split.val) == 2 and dm.scan.skipped == []
    # record keys 1..60 follow sorted identities and sorted files; label = identity's sorted position
    sources = [(path, label) for label, person in enumerate(sorted(PEOPLE))
               for path in sorted((faces / person).iterdir())]
    for key, (_, label) in enumerate(sources, start=1):
        assert key in dm.scan.identities[str(label)]
    reference = eval_transform(SIZE)
    batch = next(iter(dm.val_dataloader()))
    for image, index in zip(batch[0], batch[2], strict=True):
        key, _ = dm.val_dataloader().dataset.samples[int(index)]
        original = reference(load_rgb(sources[key - 1][0]).resize((SIZE, SIZE)))
        assert (image - original).abs().mean() < 0.03  # JPEG q95 of the same pixels, in [-1, 1] units
    # spawned workers / DDP processes get the reader pickled: no open handle travels, each reopens the file
    assert pickle.loads(pickle.dumps(dm.reader)).read(7) == dm.reader.read(7)
    # the training loader through 2 worker processes (each opens its own file handle) sees every training image
    dm.hparams.num_workers = 2
    labels = torch.cat([labels for _, labels, _ in dm.train_dataloader()])
    assert len(labels) == 8 * (40 // 8) and set(labels.tolist()) <= set(range(4))


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (SIZE, SIZE), colour).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _independent_rec(folder: Path) -> list[tuple[bytes, int]]:
    """Writes RecordIO with struct.pack only: InsightFace header record, 4 classes x 3 images (one Glint-style label
    array), and one record stored in two parts because its payload holds the magic word at an aligned offset."""
    magic = 0xCED7230A
    images = [(_jpeg((40 * c + 10 * i, 80, 200 - 40 * c)), c) for c in range(4) for i in range(3)]
    rec, idx = bytearray(), []

    def put(key: int, payload: bytes) -> None:
        idx.append(f"{key}\t{len(rec)}\n")
        aligned = [i for i in range(0, len(payload) - 3, 4) if payload[i:i + 4] == struct.pack("<I", magic)]
        assert len(aligned) == (1 if key == 5 else 0)  # the case below, and only there
        cut = aligned[0] if aligned else -1
        parts = [(0, payload)] if cut < 0 else [(1, payload[:cut]), (3, payload[cut + 4:])]
        for flag, part in parts:
            rec.extend(struct.pack("<II", magic, (flag << 29) | len(part)) + part)
        rec.extend(b"\0" * (-len(rec) % 4))

    put(0, struct.pack("<IfQQ2f", 2, 0.0, 0, 0, len(images) + 1, len(images) + 1))
    for key, (jpeg, label) in enumerate(images, start=1):
        if key == 2:  # a label array (flag 1), as some InsightFace sets store it
            put(key, struct.pack("<IfQQf", 1, 0.0, key, 0, float(label)) + jpeg)
        elif key == 5:  # trailing bytes after the JPEG end are ignored by decoders; the magic sits 4-byte aligned
            jpeg = jpeg + b"\0" * (-(24 + len(jpeg)) % 4) + struct.pack("<I", magic) + b"tail"
            images[key - 1] = (jpeg, label)
            put(key, struct.pack("<IfQQ", 0, float(label), key, 0) + jpeg)
        else:
            put(key, struct.pack("<IfQQ", 0, float(label), key, 0) + jpeg)
    (folder / "train.rec").write_bytes(bytes(rec))
    (folder / "train.idx").write_text("".join(idx))
    return images


def test_reads_a_file_from_an_independent_writer(tmp_path) -> None:
    images = _independent_rec(tmp_path)
    reader = RecordReader(tmp_path / "train.rec")
    for key, (jpeg, label) in enumerate(images, start=1):
        header, payload = reader.read(key)
        assert payload == jpeg
        assert (header.labels[0] if header.flag else header.label) == label
    dm = _datamodule(tmp_path, val_fraction=0.5, decode_check=True)
    assert dm.scan.skipped == [] and sorted(map(len, dm.scan.identities.values())) == [3, 3, 3, 3]
    assert dm.scan.identities["1"] == [4, 5, 6]  # key 5 is the two-part record
    image, _, _ = dm.train_dataloader().dataset[0]
    expected = eval_transform(SIZE)(Image.open(io.BytesIO(images[0][0])).convert("RGB"))
    assert image.shape == expected.shape


def test_corrupt_records_are_counted_and_reported(tmp_path, caplog) -> None:
    pack(_subset(tmp_path), tmp_path / "rec", image_size=SIZE)
    rec_path = tmp_path / "rec" / "train.rec"
    offsets = {int(k): int(v) for k, v in (line.split("\t") for line in (tmp_path / "rec" / "train.idx").open())}
    data = bytearray(rec_path.read_bytes())
    data[offsets[3]:offsets[3] + 4] = b"XXXX"  # broken framing
    start = offsets[17] + 8 + 24
    data[start:start + 16] = b"not a JPEG image"  # payload no longer starts with a JPEG marker
    rec_path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        dm = _datamodule(tmp_path / "rec", decode_check=True)
    reasons = {str(path).rsplit("#", 1)[1]: reason for path, reason in dm.scan.skipped}
    assert set(reasons) == {"3", "17"}
    assert reasons["3"].startswith("bad record: bad magic") and reasons["17"].startswith("undecodable image")
    assert dm.scan.num_images == 58
    assert "skipped 2 files" in caplog.text
    unchecked = _datamodule(tmp_path / "rec", decode_check=False)  # framing is always checked, JPEGs only on demand
    assert [key for key, _ in unchecked.scan.skipped] == [rec_path.parent / "train.rec#3"]
    with pytest.raises(ValueError, match="record 17 does not decode.*data.decode_check=true"):
        RecordFaceDataset(unchecked.reader, [(17, 0)], eval_transform(SIZE))[0]
