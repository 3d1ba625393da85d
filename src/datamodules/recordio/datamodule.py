"""Training data from an InsightFace RecordIO set, split and validated like the image-folder datamodule."""
from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, SequentialSampler

from src.datamodules.fast_decode import decode_rgb
from src.datamodules.folder_scan import FolderScan
from src.datamodules.identities import TrainedOn
from src.datamodules.image_folder import FaceImageFolderDataModule, IdentitySplit
from src.datamodules.read_order import ShuffleBufferSampler, check_read_order
from src.datamodules.recordio.format import RecordError
from src.datamodules.recordio.reader import RecordReader
from src.datamodules.transforms import eval_transform

log = logging.getLogger(__name__)


def decode_image(image: bytes, name: str = "record") -> Image.Image:
    """Encoded image bytes (JPEG in InsightFace sets) -> RGB: the fast JPEG path (same pixels) or the one decoder
    (format allow-list, pixel cap, 16-bit and modes: :mod:`src.datamodules.image_decode`), see
    :mod:`src.datamodules.fast_decode`."""
    return Image.fromarray(decode_rgb(image, name))


def image_keys(reader: RecordReader) -> list[int]:
    """Keys of the image records (see :meth:`RecordReader.image_keys`)."""
    return reader.image_keys()


def _check(reader: RecordReader, key: int, decode: bool) -> tuple[int | None, str | None]:
    """``(class label, None)`` for a usable record, ``(None, reason)`` for a bad one."""
    try:
        header, image = reader.read(key) if decode else (reader.header(key), b"")
    except RecordError as error:
        return None, f"bad record: {str(error).split(': ', 1)[-1]}"
    label = header.labels[0] if header.flag > 0 else header.label
    if label < 0 or label != int(label):
        return None, f"bad label: {label}"
    if decode:
        try:
            decode_image(image)
        except Exception as error:  # PIL raises many types for broken payloads
            return None, f"undecodable image: {type(error).__name__}: {error}"
    return int(label), None


def scan_records(reader: RecordReader, decode: bool = False, workers: int = 8) -> FolderScan:
    """Identities (``str(label)`` -> record keys) of every image record, with bad records counted as skipped.

    Every record's framing and header are checked (reading only its first bytes); ``decode`` also reads and decodes
    each image (slow on millions).
    """
    keys = image_keys(reader)
    local = threading_local_reader(reader)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda k: _check(local(), k, decode), keys))
    identities: dict[str, list] = {}
    skipped = []
    for key, (label, problem) in zip(keys, results, strict=True):
        if problem is None:
            identities.setdefault(str(label), []).append(key)
        else:
            skipped.append((Path(f"{reader.rec_path}#{key}"), problem))
    if not identities:
        raise ValueError(f"No usable image records in {reader.rec_path} ({len(skipped)} bad records). Check that "
                         f"data.root holds InsightFace's train.rec/train.idx (or repack with facerec-pack).")
    return FolderScan(root=reader.rec_path.parent, identities=identities, skipped=skipped)


def threading_local_reader(reader: RecordReader) -> Callable[[], RecordReader]:
    """One reader (file handle) per scanning thread: seeks on a shared handle would interleave."""
    local = threading.local()

    def get() -> RecordReader:
        if not hasattr(local, "reader"):
            local.reader = copy.copy(reader)  # shares the index; its own handle opens on first use (see __getstate__)
        return local.reader

    return get


class RecordFaceDataset(Dataset):
    """Items ``(image tensor, label, index)`` decoded from records, like :class:`FaceImageDataset`: ``decode``
    (bytes -> image) then ``transform`` when given."""

    def __init__(self, reader: RecordReader, samples: list[tuple[int, int]], transform: Callable | None,
                 decode: Callable[[bytes], Image.Image | torch.Tensor] = decode_image) -> None:
        self.reader, self.samples, self.transform, self.decode = reader, samples, transform, decode

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        key, label = self.samples[index]
        _, image = self.reader.read(key)
        try:
            decoded = self.decode(image)
            return (self.transform(decoded) if self.transform else decoded), label, index
        except Exception as error:
            raise ValueError(f"{self.reader.rec_path} record {key} does not decode ({error}); scan with "
                             f"data.decode_check=true to skip and count such records.") from error


class RecordFaceDataModule(FaceImageFolderDataModule):
    """``<root>/<name>.rec`` + ``<name>.idx`` (InsightFace layout); identity split, validation and loaders as in
    :class:`FaceImageFolderDataModule` (DDP sharding through Lightning's distributed sampler, one file handle per
    worker). ``decode_check`` decodes every image during the scan (off by default: millions of JPEGs).
    ``read_order`` (random | sequential | shuffle_buffer, with ``shuffle_buffer`` records) picks how training
    walks the file (see :mod:`src.datamodules.read_order`)."""

    images_on_disk = False  # records, not files: gallery export / Milvus evaluation need an image folder

    def __init__(self, root: str, name: str = "train", read_order: str = "random", shuffle_buffer: int = 10_000,
                 **kwargs) -> None:
        check_read_order(read_order, shuffle_buffer)
        super().__init__(root=root, **kwargs)
        self.reader: RecordReader | None = None

    def scan_folder(self) -> FolderScan:
        """Identities (``str(label)`` -> record keys) of the records, scanned once; bad records counted."""
        if self.scan is None:
            self.reader = RecordReader(self.root / f"{self.hparams.name}.rec", self.root / f"{self.hparams.name}.idx")
            self.scan = scan_records(self.reader, decode=self.hparams.decode_check)
            self.scan.report()
        return self.scan

    def trained_on(self) -> TrainedOn:
        """The training people (labels) of the split, without content sketches: records are not image files that a
        folder evaluated later could share, and a record key is no path to digest."""
        self.setup()
        return TrainedOn(root=str(self.root), identities=frozenset(self.split.train))

    def log_split(self) -> None:
        log.info("RecordIO %s: %d records, %d training identities, %d held-out identities, %d bad records.",
                 self.reader.rec_path, self.scan.num_images, len(self.split.train), len(self.split.val),
                 len(self.scan.skipped))

    def train_dataloader(self) -> DataLoader:
        decode, transform = self.train_decode(pil_decode=decode_image)
        samples = IdentitySplit.samples(self.split.train)
        order, sampler = self.hparams.read_order, None
        if order != "random":  # file order (by offset) for the near-sequential reads
            samples.sort(key=lambda sample: self.reader.index[sample[0]])
        dataset = RecordFaceDataset(self.reader, samples, transform, decode)
        if order == "sequential":
            sampler = SequentialSampler(dataset)  # under DDP Lightning swaps in an unshuffled distributed sampler
        elif order == "shuffle_buffer":
            sampler = ShuffleBufferSampler(len(dataset), self.hparams.shuffle_buffer, self.hparams.seed)
        return self._loader(dataset, True, sampler)

    def val_dataloader(self) -> DataLoader | list:
        if not self.split.val:
            return []
        samples = IdentitySplit.samples(self.split.val)
        return self._loader(RecordFaceDataset(self.reader, samples, eval_transform(self.hparams.image_size)), False)
