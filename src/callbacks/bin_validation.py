"""Validation on the field's verification ``.bin`` sets during training: ``val/<name>/acc`` per set."""
from __future__ import annotations

import logging

import lightning as L

from src.evaluation.bins import VerificationBin, evaluate_bin, flip_sum_embedder, load_bin

log = logging.getLogger(__name__)


class BinVerification(L.Callback):
    """After each validation epoch (global rank 0), 10-fold flip-TTA accuracy of the embedder on every ``.bin``.

    Args:
        bins: paths of ``.bin`` files (``evaluation.bins``); empty does nothing.
        image_size: the training input size (images are resized to it).
        batch_size / num_workers: embedding loader settings.
    """

    def __init__(self, bins: list[str] | None = None, image_size: int = 112, batch_size: int = 64,
                 num_workers: int = 0) -> None:
        self.paths = list(bins or [])
        self.image_size, self.batch_size, self.num_workers = image_size, batch_size, num_workers
        self._sets: list[VerificationBin] | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._sets is None and self.paths:
            self._sets = [load_bin(path) for path in self.paths]  # fail at start, not after the first epoch
            log.info("Validation .bin sets: %s", ", ".join(f"{b.name} ({b.pairs} pairs)" for b in self._sets))

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._sets or trainer.sanity_checking:
            return
        results = {}
        if trainer.is_global_zero:
            embedder = flip_sum_embedder(pl_module.embedder, pl_module.device)
            for verification in self._sets:
                result = evaluate_bin(embedder, verification, self.image_size, self.batch_size, self.num_workers)
                results[f"val/{verification.name}/acc"] = result["accuracy_mean"]
                log.info("Epoch %d %s: %.4f ± %.4f (%d pairs)", trainer.current_epoch, verification.name,
                         result["accuracy_mean"], result["accuracy_std"], result["pairs"])
        pl_module.log_dict(results, rank_zero_only=True)
