"""Save a resumable checkpoint when training is stopped by SIGTERM or Ctrl-C, and exit non-zero on SIGTERM.

Lightning turns SIGTERM (``kill``, ``docker stop``, a scheduler's pre-emption) into ``SIGTERMException``, a
``SystemExit`` without a code: left alone the process exits with status 0 and keeps only the last epoch-end
checkpoint, so a stopped run looks like a finished one. ``on_exception`` runs on every rank before Lightning
tears down and re-raises, which is the last moment the full training state (weights, optimizer, schedulers,
loop progress) can be written.
"""
from __future__ import annotations

import logging
import signal
from pathlib import Path

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)

SIGTERM_EXIT_CODE = 128 + signal.SIGTERM  # 143: the shell convention for "terminated by SIGTERM"


class CheckpointOnInterrupt(L.Callback):
    """On SIGTERM or KeyboardInterrupt write ``<dirpath>/<filename>`` (resume with ``ckpt_path=`` it).

    A SIGTERM then ends the process with exit status 143 instead of 0; Ctrl-C keeps Lightning's status 1.
    """

    def __init__(self, dirpath: str, filename: str = "interrupted.ckpt") -> None:
        self.path = Path(dirpath) / filename

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            return
        if isinstance(exception, SIGTERMException):
            exception.code = SIGTERM_EXIT_CODE  # Lightning re-raises this object after its teardown
        if trainer.sanity_checking:  # nothing trained yet: an existing checkpoint is worth more than this one
            return
        trainer.save_checkpoint(self.path, weights_only=False)  # all ranks call it; the strategy writes once
        if trainer.is_global_zero:
            log.warning("Training stopped by %s at epoch %d, step %d: saved a resumable checkpoint to %s. "
                        "Resume with ckpt_path=%s (and the same other overrides).",
                        "SIGTERM" if isinstance(exception, SIGTERMException) else "Ctrl-C",
                        trainer.current_epoch, trainer.global_step, self.path, self.path)
