"""LightningDataModule over an ImageFolder of aligned face crops with a seeded identity split."""
from __future__ import annotations

import logging
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from src.datamodules.batch_augment import BatchAugment
from src.datamodules.face_dataset import FaceImageDataset
from src.datamodules.fast_decode import DecodeToTensor
from src.datamodules.folder_scan import FolderScan, scan_image_folder
from src.datamodules.gpu_decode import collate_mixed, decode_batch, resolve_decode_device
from src.datamodules.identities import TrainedOn, select_identities
from src.datamodules.image_decode import load_rgb
from src.datamodules.trained_content import sketches
from src.datamodules.transforms import eval_transform, train_transform

log = logging.getLogger(__name__)

# Below this many held-out people val/rank1 moves in big steps (9 people: one probe = 1.2 points) and picking
# the "best" checkpoint on it picks noise: on ORL with 3 held-out people the epoch-0 checkpoint was selected.
MIN_VAL_IDENTITIES = 10
AUGMENT_ON = ("device", "worker")


@dataclass
class IdentitySplit:
    """Training identities (class labels 0..C-1) and disjoint held-out identities for validation."""

    train: dict[str, list[Path]]
    val: dict[str, list[Path]]

    @staticmethod
    def samples(identities: dict[str, list[Path]]) -> list[tuple[Path, int]]:
        """``(path, label)`` pairs with labels in the order of ``identities``."""
        return [(path, label) for label, paths in enumerate(identities.values()) for path in paths]


def split_identities(scan: FolderScan, val_fraction: float, seed: int) -> IdentitySplit:
    """Deterministically hold out ``val_fraction`` of the identities that have at least two images.

    Held-out identities keep their images in a seeded order: the first is the gallery image during
    validation, the others are probes. Training identities are sorted by name so labels are stable.
    """
    rng = random.Random(seed)
    eligible = sorted(name for name, paths in scan.identities.items() if len(paths) >= 2)
    rng.shuffle(eligible)
    n_val = min(round(val_fraction * len(scan.identities)), len(eligible))
    if val_fraction > 0 and n_val < 2:
        raise ValueError(
            f"Validation needs at least 2 held-out identities with 2+ images; {scan.root} has {len(eligible)} such "
            f"identities at val_fraction={val_fraction}. Add identities or raise data.val_fraction."
        )
    val_names = sorted(eligible[:n_val])
    val = {}
    for name in val_names:
        paths = list(scan.identities[name])
        rng.shuffle(paths)
        val[name] = paths
    train = {name: scan.identities[name] for name in sorted(scan.identities) if name not in val}
    if len(train) < 2:
        raise ValueError(f"Training needs at least 2 identities; {scan.root} leaves {len(train)} after the split.")
    return IdentitySplit(train=train, val=val)


class FaceImageFolderDataModule(L.LightningDataModule):
    """Faces from ``root/<person_id>/<image>``; identities are split into train and held-out validation.

    ``batch_size`` is per device: under DDP every process loads that many images per step. ``augment=device``
    (default): training workers only decode to uint8 ``image_size`` tensors (resized there only when an image is
    another size) and :class:`BatchAugment` augments the batch on the training device after the transfer;
    ``worker``: the per-image torchvision transform in the workers (the pipeline before issue 21).
    ``decode_device=cuda`` decodes JPEGs on the GPU, batched. Validation keeps the deterministic transform.
    """

    def __init__(
        self,
        root: str,
        image_size: int = 112,
        batch_size: int = 128,
        val_fraction: float = 0.1,
        seed: int = 42,
        num_workers: int = 4,
        pin_memory: bool = True,
        persistent_workers: bool = True,
        crop_scale: tuple[float, float] = (0.85, 1.0),
        color_jitter: float = 0.2,
        decode_check: bool = True,
        low_res_size: int | None = None,
        low_res_fraction: float = 0.0,
        low_res_val: bool = False,
        flip: bool = True,
        augment: str = "device",
        decode_device: str = "cpu",
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        if augment not in AUGMENT_ON:
            raise ValueError(f"data.augment={augment!r} is not one of {AUGMENT_ON}: device (batched on the training "
                             f"device, default) or worker (per image in the DataLoader workers).")
        self.scan: FolderScan | None = None
        self.split: IdentitySplit | None = None
        self.batch_augment = BatchAugment(image_size, crop_scale, color_jitter, flip, low_res_size=low_res_size,
                                          low_res_fraction=low_res_fraction)
        self._decode_device: str | None = None

    @property
    def root(self) -> Path:
        return Path(self.hparams.root).expanduser()

    def scan_folder(self) -> FolderScan:
        """The folder's usable images per person, scanned once; no split (evaluation and export need none)."""
        if self.scan is None:
            self.scan = scan_image_folder(self.root, decode=self.hparams.decode_check)
            self.scan.report()
        return self.scan

    def setup(self, stage: str | None = None) -> None:
        if self.split is not None:
            return
        self.split = split_identities(self.scan_folder(), self.hparams.val_fraction, self.hparams.seed)
        self.log_split()
        if 0 < len(self.split.val) < MIN_VAL_IDENTITIES:
            log.warning(
                "Validation holds out only %d people (data.val_fraction=%s): too few for val/rank1 to rank "
                "checkpoints (the 'best' one is mostly chance). Hold out at least %d people (raise "
                "data.val_fraction), judge the run by last.ckpt, or evaluate on a separate folder of new people "
                "(facerec-eval ckpt_path=... data.root=<folder>).",
                len(self.split.val), self.hparams.val_fraction, MIN_VAL_IDENTITIES,
            )

    def log_split(self) -> None:
        """One line on what the split holds (sources with another layout say it their way)."""
        log.info(
            "Data %s: %d training identities (%d images), %d held-out identities (%d images).",
            self.root, len(self.split.train), sum(map(len, self.split.train.values())),
            len(self.split.val), sum(map(len, self.split.val.values())),
        )

    @property
    def num_classes(self) -> int:
        """Number of training identities (the margin head's classes)."""
        self.setup()
        return len(self.split.train)

    def trained_on(self) -> TrainedOn:
        """The training people of the split and this folder, with their images' content sketches (stored in
        checkpoints; hashed once per datamodule)."""
        self.setup()
        if getattr(self, "_sketches", None) is None:
            self._sketches = sketches(self.split.train)
        return TrainedOn(root=str(self.root), identities=frozenset(self.split.train), sketches=self._sketches)

    def select_identities(self, which: str, trained: Collection[str] | None = None) -> dict[str, list[Path]]:
        """People of the folder to evaluate or export (``all``, ``train``, ``held_out``); the trained people are
        ``trained`` (a checkpoint's) or else this split's training people (only then is the folder split)."""
        if trained is None and which in ("held_out", "train"):
            trained = self.trained_on().identities
        return select_identities(self.scan_folder(), trained or (), which)

    def _loader(self, dataset: Dataset, training: bool, sampler: Sampler | None = None) -> DataLoader:
        """Training loaders shuffle (or follow ``sampler``) and drop the last partial batch; others keep order."""
        workers = self.hparams.num_workers
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            shuffle=training and sampler is None,
            sampler=sampler,
            drop_last=training and len(dataset) > self.hparams.batch_size,
            num_workers=workers,
            pin_memory=self.hparams.pin_memory,
            persistent_workers=self.hparams.persistent_workers and workers > 0,
            collate_fn=collate_mixed if training and self.decode_device == "cuda" else None,
        )

    @property
    def decode_device(self) -> str:
        """Where training JPEGs are decoded: ``data.decode_device``, or ``cpu`` (logged once) when CUDA/nvjpeg is
        missing; always ``cpu`` with ``augment=worker``."""
        if self._decode_device is None:
            requested = self.hparams.decode_device if self.hparams.augment == "device" else "cpu"
            self._decode_device = resolve_decode_device(requested)
        return self._decode_device

    def train_decode(self, pil_decode: Callable = load_rgb) -> tuple[Callable, Callable | None]:
        """``(decode, transform)`` of a training item: bytes or path -> uint8 tensor and no transform
        (``augment=device``), or ``pil_decode`` and the per-image transform (``augment=worker``)."""
        hp = self.hparams
        if hp.augment == "worker":
            return pil_decode, train_transform(hp.image_size, hp.crop_scale, hp.color_jitter, hp.flip, hp.low_res_size,
                                               hp.low_res_fraction)
        return DecodeToTensor(hp.image_size, keep_jpeg=self.decode_device == "cuda"), None

    def train_dataloader(self) -> DataLoader:
        decode, transform = self.train_decode()
        return self._loader(FaceImageDataset(IdentitySplit.samples(self.split.train), transform, decode), True)

    def training_batch(self, batch: list, device: torch.device | str) -> list:
        """A training batch as the model takes it: encoded JPEGs decoded on ``device`` (``decode_device=cuda``),
        uint8 images augmented there; float batches (``augment=worker``, validation) pass unchanged."""
        images, *rest = batch
        if isinstance(images, list):
            images = decode_batch(images, self.hparams.image_size, device)
        if images.dtype == torch.uint8:
            images = self.batch_augment(images.to(device, non_blocking=True))
        return [images, *rest]

    def on_before_batch_transfer(self, batch: list, dataloader_idx: int) -> list:
        """Still-encoded JPEGs go to the GPU decoder here: ``decode_jpeg`` takes CPU bytes."""
        if isinstance(batch[0], list):
            return self.training_batch(batch, self.trainer.strategy.root_device)
        return batch

    def on_after_batch_transfer(self, batch: list, dataloader_idx: int) -> list:
        """Augment uint8 batches on the device they were moved to (4x fewer bytes to move than float)."""
        return self.training_batch(batch, batch[0].device)

    def val_dataloader(self) -> DataLoader | list:
        if not self.split.val:
            return []
        samples = IdentitySplit.samples(self.split.val)
        low_res = self.hparams.low_res_size if self.hparams.low_res_val else None
        return self._loader(FaceImageDataset(samples, eval_transform(self.hparams.image_size, low_res)), training=False)
