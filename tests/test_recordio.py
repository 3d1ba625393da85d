"""RecordIO: folder -> facerec-pack -> datamodule round trip, a file from an independent writer, corrupt records."""
from __future__ import annotations

import io
import logging
import pickle
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from src.datamodules.face_dataset import load_rgb
from src.datamodules.recordio import RecordFaceDataModule, RecordReader
from src.datamodules.recordio.datamodule import RecordFaceDataset, _check, scan_records
from src.datamodules.recordio.format import IRHeader, RecordError, frame, pack_payload
from src.datamodules.transforms import eval_transform
from src.pack import pack
from tests.helpers import orl_root

# A PostScript file: Pillow's EPS plugin would hand it to Ghostscript when decoded.
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nnewpath 0 0 moveto 64 64 lineto stroke\nshowpage\n"

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


def _crafted_rec(folder: Path, header_count: float, labels: dict[int, float], offsets: dict[int, int]) -> None:
    """A .rec of 8 JPEG records (4 classes) whose record 0 declares ``header_count``, with some labels and
    index offsets replaced by hostile values."""
    rec, idx = bytearray(), []
    payloads = [pack_payload(IRHeader(2, 0.0, 0, 0, (header_count, 9.0)))]
    payloads += [pack_payload(IRHeader(0, labels.get(key, float(key % 4)), key, 0), _jpeg((30 * key, 90, 60)))
                 for key in range(1, 9)]
    for key, payload in enumerate(payloads):
        idx.append(f"{key}\t{offsets.get(key, len(rec))}\n")
        rec += frame(payload)
    (folder / "train.rec").write_bytes(bytes(rec))
    (folder / "train.idx").write_text("".join(idx))


@pytest.mark.parametrize("count", [1e10, float(np.finfo(np.float32).max), float("nan"), float("inf")])
def test_a_header_count_beyond_the_index_stops_at_once(tmp_path, count) -> None:
    """Record 0 declaring more records than the index holds (which looped over 1e10 keys at 100% CPU) stops
    within seconds with one error naming the file."""
    _crafted_rec(tmp_path, count, {}, {})
    started = time.perf_counter()
    with pytest.raises(RecordError, match=r"train\.rec record 0 .*declares labels\[0\]=.*holds 9 keys.*facerec-pack"):
        _datamodule(tmp_path)
    assert time.perf_counter() - started < 5


def test_hostile_labels_and_offsets_are_counted_and_named(tmp_path) -> None:
    """NaN/inf labels and negative or 2**70 index offsets: each record skipped with its key and reason."""
    _crafted_rec(tmp_path, 9.0, {3: float("nan"), 4: float("inf")}, {5: -8, 6: 2**70})
    reader = RecordReader(tmp_path / "train.rec")
    scan = scan_records(reader)
    reasons = {str(path).rsplit("#", 1)[1]: reason for path, reason in scan.skipped}
    assert set(reasons) == {"3", "4", "5", "6"}
    assert all("non-finite label" in reasons[key] for key in "34")
    assert all("outside the file" in reasons[key] for key in "56")
    assert scan.num_images == 4
    with pytest.raises(RecordError, match=r"train\.rec record 6: offset 1180591620717411303424 in train\.idx"):
        reader.read(6)


def test_record_payloads_go_through_the_allow_listed_decoder(tmp_path) -> None:
    """A PostScript payload in a record is refused by the decoder (named), not handed to Ghostscript."""
    rec = tmp_path / "train.rec"
    rec.write_bytes(frame(pack_payload(IRHeader(0, 0.0, 1, 0), EPS)))
    (tmp_path / "train.idx").write_text("0\t0\n")
    reader = RecordReader(rec)
    problem = _check(reader, 0, decode=True)[1]
    assert problem.startswith("undecodable image: UnknownFormatError") and "JPEG, PNG" in problem
