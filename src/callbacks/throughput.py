"""Training throughput (images/s across all processes) logged as ``train/images_per_sec``."""
from __future__ import annotations

import time

import lightning as L


class ImageThroughput(L.Callback):
    """Measures wall time per training batch (data loading included) and logs images/s per step and epoch."""

    def __init__(self) -> None:
        self._start = 0.0
        self._images = 0
        self._seconds = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._images, self._seconds = 0, 0.0
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        now = time.perf_counter()
        seconds, self._start = now - self._start, now
        images = len(batch[0]) * trainer.world_size
        self._images += images
        self._seconds += seconds
        pl_module.log("train/images_per_sec", images / max(seconds, 1e-9), on_step=True, on_epoch=False)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._seconds > 0:
            pl_module.log("train/epoch_images_per_sec", self._images / self._seconds, on_step=False, on_epoch=True)
