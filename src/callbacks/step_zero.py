"""Never keep a fine-tuned checkpoint that is worse than the network it started from.

Fine-tuning a pretrained face network on a few people can make it worse on new people (issue 20: random class
centres with trunk lr 1e-4 took dlib's network from held-out rank-1 1.00 to 0.10 within 50 steps). This callback
saves the step-0 network (scored by the module's step-0 validation, ``untrained_metrics``) as a checkpoint
candidate; at the end of training it removes the top-k checkpoints that scored below it and, when none scored
higher, makes the step-0 checkpoint the best one (what the gallery export and the evaluation stage then use).
"""
from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

log = logging.getLogger(__name__)


class KeepStepZero(L.Callback):
    """Save ``<dirpath>/step0-rank1<score>.ckpt`` before the first optimizer step; drop checkpoints worse than it."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)
        self.path: Path | None = None
        self.score: float | None = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        untrained = getattr(pl_module, "untrained_metrics", None)
        if self.path is not None or trainer.global_step != 0 or not untrained:
            return
        self.score = float(untrained["rank1"])
        self.path = self.dirpath / f"step0-rank1{self.score:.4f}.ckpt"
        trainer.save_checkpoint(self.path, weights_only=False)  # all ranks call it; the strategy writes once

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        checkpoint = trainer.checkpoint_callback
        if self.path is None or not isinstance(checkpoint, ModelCheckpoint):
            return
        worse = [path for path, score in checkpoint.best_k_models.items() if float(score) < self.score]
        for path in worse:
            checkpoint.best_k_models.pop(path)
            if trainer.is_global_zero:
                Path(path).unlink(missing_ok=True)
        best = checkpoint.best_model_score
        if best is None or float(best) <= self.score:
            checkpoint.best_model_path = str(self.path)
            checkpoint.best_model_score = torch.tensor(self.score)
            log.warning("No fine-tuned checkpoint beat the step-0 network on held-out people (val/rank1 %.4f): the "
                        "best checkpoint is %s.", self.score, self.path)
        elif trainer.is_global_zero:
            log.info("Best checkpoint %s (val/rank1 %.4f) beats step 0 (%.4f); removed %d checkpoint(s) below "
                     "step 0.", checkpoint.best_model_path, float(best), self.score, len(worse))
