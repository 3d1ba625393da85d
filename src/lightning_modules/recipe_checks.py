"""Say what a run is (optimizer steps, data size) and what training added, with warnings a user can act on."""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import lightning as L

log = logging.getLogger(__name__)

# From-scratch face embedders are trained on thousands of identities (CASIA-WebFace: 10,575). On 20 ORL people the
# production ResNet50 trained from scratch fell below its own random initialisation on new people (held-out
# rank-1 0.856 untrained -> 0.767 after 60 steps, seed 0; docs/performance/orl_recipe.json).
MIN_SCRATCH_IDENTITIES = 1000
# Fewer steps than this and the warm-up + cosine schedule is over before the head has settled.
MIN_STEPS = 200

SMALL_DATA_ADVICE = (
    "for real faces, fine-tune dlib's pretrained face network (experiment=finetune_dlib data.root=<raw photos>: it "
    "cuts dlib chips first, data.align=dlib), which identifies unseen ORL people at rank-1 1.00 "
    "before any training; or start from other pretrained weights (model.backbone.pretrained=imagenet, or "
    "=/path/to/face_model.ckpt), "
    "freeze the trunk and train only the embedding neck and head (model.freeze_backbone_epochs=-1 for the whole "
    "run, as experiment=orl_faces does), or fine-tune the trunk only after the head has settled "
    "(model.freeze_backbone_epochs=<epochs>)"
)


def steps_per_epoch(trainer: L.Trainer, loader_batches: int) -> int:
    """Optimizer steps one epoch makes on this trainer, from the batches of the (not yet distributed) loader."""
    batches = math.ceil(loader_batches / max(trainer.world_size, 1))
    limit = trainer.limit_train_batches
    batches = min(batches, limit) if isinstance(limit, int) else int(batches * limit)  # the Trainer makes None 1.0
    return max(math.ceil(batches / max(trainer.accumulate_grad_batches, 1)), 1)


def ensure_min_steps(trainer: L.Trainer, loader_batches: int) -> None:
    """Raise ``max_epochs`` so the run makes at least ``trainer.min_steps`` optimizer steps, whatever the data size.

    The run stays epoch-based (``max_steps=-1``): Lightning 2.x treats every resume of a run with ``max_steps`` set
    as mid-epoch, and a run resumed from an end-of-epoch ``last.ckpt`` then made no further steps. Computed the same
    way on every (re)start, so a resumed run keeps its length and its learning-rate schedule.
    """
    min_steps = trainer.fit_loop.min_steps or 0
    epochs = trainer.max_epochs
    if min_steps <= 0 or epochs is None or epochs < 0:
        return
    per_epoch = steps_per_epoch(trainer, loader_batches)
    needed = math.ceil(min_steps / per_epoch)
    if needed > epochs:
        trainer.fit_loop.max_epochs = needed
        log.info("trainer.min_steps=%d: %d epochs of %d optimizer steps (trainer.max_epochs=%d raised to %d).",
                 min_steps, needed, per_epoch, epochs, needed)


def describe_run(trainer: L.Trainer, hparams: Mapping) -> None:
    """Log the run length in optimizer steps and epochs; warn when it or the data is too small to learn from."""
    # not trainer.estimated_stepping_batches: inside on_train_start of a resumed run it reloads the train
    # dataloader and the resumed epoch then makes no steps
    per_epoch = max(int(trainer.num_training_batches), 1)
    epochs = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs >= 0 else float("inf")
    steps = trainer.max_steps if trainer.max_steps >= 0 else float("inf")
    total = int(min(steps, epochs * per_epoch // max(trainer.accumulate_grad_batches, 1)))
    classes = int(hparams["num_classes"])
    log.info("Run length: %d optimizer steps (%d per epoch, ~%.1f epochs) on %d training identities.",
             total, per_epoch, total / per_epoch, classes)
    if total < MIN_STEPS:
        log.warning("This run makes only %d optimizer steps (< %d): too few for the warm-up + cosine schedule to "
                    "train anything. Set trainer.min_steps (max_epochs is raised to reach it, whatever the data "
                    "size) to run enough steps.", total, MIN_STEPS)
    trunk_trained = hparams.get("freeze_backbone_epochs", 0) >= 0
    if trunk_trained and not hparams["backbone"].get("pretrained") and classes < MIN_SCRATCH_IDENTITIES:
        log.warning("Training from scratch (model.backbone.pretrained=null) on %d identities: far too few to learn "
                    "a face embedding from scratch (those are trained on 10,000+ people): the trunk memorises the "
                    "training people and can end worse than untrained on new ones. Instead: %s.",
                    classes, SMALL_DATA_ADVICE)


def report_selection(history: Sequence[tuple[int, int, float]], untrained: Mapping[str, float] | None,
                     pretrained: str | None = None) -> str:
    """Summarize ``val/rank1`` from step 0 to the end and warn about selections that training did not earn.

    ``history`` holds ``(step, epoch, val/rank1)`` of every validation during fitting; ``pretrained`` names the
    trunk's starting weights (``model.backbone.pretrained``), whose step 0 is a trained network. Returns the summary.
    """
    if not history:
        return ""
    best_step, best_epoch, best = max(history, key=lambda item: item[2])
    last_step, _, last = history[-1]
    start = f"untrained {untrained['rank1']:.4f} (step 0) -> " if untrained else ""
    summary = (f"val/rank1: {start}best {best:.4f} at step {best_step} (epoch {best_epoch}) -> "
               f"last {last:.4f} (step {last_step})")
    log.info(summary)
    print(summary)
    if best_epoch == 0:
        log.warning("The best checkpoint by val/rank1 is from epoch 0 (step %d): later training did not improve "
                    "held-out rank-1 on this validation set. Treat it as an untrained-quality model.", best_step)
    if not untrained or best > untrained["rank1"]:
        return summary
    if pretrained:
        if untrained["rank1"] >= 1.0:
            room = ("Step 0 is already perfect on these held-out people, so this validation set cannot show a gain; "
                    "validate on harder ones (more people, or data.low_res_val for a low-resolution domain)")
        else:
            room = ("Try more steps (trainer.min_steps) or another trunk lr (model.optimizer.lr_backbone), or use the "
                    "pretrained network as it is")
        log.warning("Fine-tuning did not beat its starting network (model.backbone.pretrained=%s) on held-out people "
                    "(val/rank1 %.4f at step 0, best %.4f); with callbacks.keep_step_zero the step-0 network is the "
                    "best checkpoint. %s.", pretrained, untrained["rank1"], best, room)
    else:
        log.warning("Training did not beat the untrained network on held-out people (val/rank1 %.4f at step 0, "
                    "best %.4f). %s would help.", untrained["rank1"], best, SMALL_DATA_ADVICE.capitalize())
    return summary
