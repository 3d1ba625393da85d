"""LightningDataModule over an ImageFolder of aligned face crops with a seeded identity split."""
from __future__ import annotations

import logging
import random
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader

from src.datamodules.face_dataset import FaceImageDataset
from src.datamodules.folder_scan import FolderScan, scan_image_folder
from src.datamodules.identities import TrainedOn, select_identities
from src.datamodules.trained_content import sketches
from src.datamodules.transforms import eval_transform, train_transform

log = logging.getLogger(__name__)

# Below this many held-out people val/rank1 moves in big steps (9 people: one probe = 1.2 points) and picking
# the "best" checkpoint on it picks noise: on ORL with 3 held-out people the epoch-0 checkpoint was selected.
MIN_VAL_IDENTITIES = 10


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

    ``batch_size`` is per device: under DDP every process loads that many images per step.
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
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.scan: FolderScan | None = None
        self.split: IdentitySplit | None = None

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

    def _loader(self, dataset: FaceImageDataset, shuffle: bool) -> DataLoader:
        workers = self.hparams.num_workers
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            drop_last=shuffle and len(dataset) > self.hparams.batch_size,
            num_workers=workers,
            pin_memory=self.hparams.pin_memory,
            persistent_workers=self.hparams.persistent_workers and workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        transform = train_transform(self.hparams.image_size, self.hparams.crop_scale, self.hparams.color_jitter)
        return self._loader(FaceImageDataset(IdentitySplit.samples(self.split.train), transform), shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        if not self.split.val:
            return []
        samples = IdentitySplit.samples(self.split.val)
        return self._loader(FaceImageDataset(samples, eval_transform(self.hparams.image_size)), shuffle=False)
