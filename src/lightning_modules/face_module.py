"""Training a face embedder with a margin head, validated on held-out identities."""
from __future__ import annotations

import logging
from typing import Any

import hydra
import lightning as L
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf

from src.datamodules.identities import TRAINED_ON_KEY
from src.evaluation.identification import rank_k_accuracy
from src.evaluation.retrieval import cosine_similarity_matrix
from src.evaluation.verification import best_threshold_accuracy, genuine_impostor_pairs
from src.lightning_modules.optim import build_optimizer, warmup_cosine
from src.lightning_modules.recipe_checks import describe_run, ensure_min_steps, report_selection
from src.models.backbone import build_embedder

log = logging.getLogger(__name__)
HEAD_INITS = ("random", "class_means")


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value


class FaceRecognitionModule(L.LightningModule):
    """Backbone -> embedding -> margin head, trained with cross-entropy on the head's logits.

    All constructor arguments are plain values saved in the checkpoint, so an embedder can be rebuilt from a
    ``.ckpt`` alone (see :func:`src.embedding.checkpoint.load_embedder`).

    Args:
        num_classes: number of training identities (filled in from the datamodule).
        backbone: keyword arguments of :func:`build_embedder` (arch, depth, embedding_dim, dropout, pretrained).
        head: Hydra config of the head (``_target_`` plus s/m); instantiated with embedding_dim/num_classes.
        optimizer: ``name`` (sgd|adamw), ``lr_backbone``, ``lr_head``, ``weight_decay``, ``momentum``.
        scheduler: ``warmup_fraction`` (share of the run's optimizer steps) and ``min_lr_ratio`` of the
            warm-up + cosine schedule.
        freeze_backbone_epochs: epochs during which only the neck and head are trained; -1 freezes the trunk
            (weights and BatchNorm statistics) for the whole run.
        channels_last: use channels_last memory format on CUDA.
        val_max_pairs: genuine pairs (and as many impostors) used for validation verification accuracy.
        image_size: input size the model is trained at, stored so exports can rebuild the transform.
        head_init: ``random`` or ``class_means``: at the start of a fresh run, each class centre of the margin head
            is set to the mean direction of its people's embeddings from the (pretrained) network, so the first
            steps pull faces towards where they already are instead of towards random centres (random centres with
            trunk lr 1e-4 took dlib's network from held-out rank-1 1.00 to 0.10 within 50 steps, issue 20).
    """

    def __init__(
        self,
        num_classes: int,
        backbone: dict,
        head: dict,
        optimizer: dict,
        scheduler: dict,
        freeze_backbone_epochs: int = 0,
        channels_last: bool = True,
        val_max_pairs: int = 3000,
        image_size: int | None = None,
        head_init: str = "random",
    ) -> None:
        super().__init__()
        if head_init not in HEAD_INITS:
            raise ValueError(f"model.head_init={head_init!r}: use one of {', '.join(HEAD_INITS)}.")
        backbone, head, optimizer, scheduler = map(_plain, (backbone, head, optimizer, scheduler))
        self.save_hyperparameters()
        self.embedder = build_embedder(**backbone)
        self.head = hydra.utils.instantiate(head, embedding_dim=self.embedder.embedding_dim, num_classes=num_classes)
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.untrained_metrics: dict[str, float] | None = None  # validation before the first step (fresh runs)
        self.val_history: list[tuple[int, int, float]] = []  # (step, epoch, val/rank1) of this fit

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Raw (unnormalized) embeddings."""
        return self.embedder(images)

    def setup(self, stage: str) -> None:
        """Before the optimizer and its schedule are built: stretch the run to ``trainer.min_steps``."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if stage == "fit" and datamodule is not None:
            ensure_min_steps(self.trainer, len(datamodule.train_dataloader()))

    def on_fit_start(self) -> None:
        if self.hparams.channels_last and self.device.type == "cuda":
            self.embedder.to(memory_format=torch.channels_last)

    def on_train_epoch_start(self) -> None:
        epochs = self.hparams.freeze_backbone_epochs
        frozen = epochs < 0 or self.current_epoch < epochs
        self.embedder.trunk.requires_grad_(not frozen)
        # frozen means its BatchNorm statistics too: letting them follow 16-image batches turned a frozen random
        # ResNet18 into a worse feature extractor (ORL held-out rank-1 0.71/0.82 untrained -> 0.58/0.51 trained)
        self.embedder.trunk.train(not frozen)

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        if self.hparams.channels_last and images.is_cuda:
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def on_train_start(self) -> None:
        """Validate the untrained network (step 0 of a fresh run) and check the run against the data size."""
        if self.global_step == 0:
            if self.hparams.head_init == "class_means":
                self._init_head_from_class_means()
            self.untrained_metrics = self._validate_now() or None
            self.log_dict({f"untrained/{k}": v for k, v in (self.untrained_metrics or {}).items()})
        if self.trainer.is_global_zero:
            describe_run(self.trainer, self.hparams)

    def on_fit_end(self) -> None:
        if self.trainer.is_global_zero:
            report_selection(self.val_history, self.untrained_metrics, self.hparams.backbone.get("pretrained"))

    @torch.no_grad()
    def _init_head_from_class_means(self) -> None:
        """Set every class centre to the normalized mean embedding of its training images (one pass, eval mode)."""
        weight = getattr(self.head, "weight", None)
        if not isinstance(weight, torch.nn.Parameter) or weight.dim() != 2:
            raise ValueError("model.head_init=class_means needs a margin head with class centres (head=cosface or "
                             "head=arcface).")
        sums = torch.zeros(weight.shape, device=self.device)
        counts = torch.zeros(weight.shape[0], device=self.device)
        was_training = self.training
        self.eval()
        datamodule = self.trainer.datamodule
        for batch in datamodule.train_dataloader():
            if hasattr(datamodule, "training_batch"):  # uint8 batches are augmented on the device (data.augment)
                batch = datamodule.training_batch(batch, self.device)
            images, labels, _ = batch
            features = F.normalize(self(self._prepare(images.to(self.device))).float(), dim=1)
            labels = labels.to(self.device)
            sums.index_add_(0, labels, features)
            counts.index_add_(0, labels, torch.ones_like(labels, dtype=counts.dtype))
        self.train(was_training)
        if self.trainer.world_size > 1:
            sums, counts = (self.trainer.strategy.reduce(t, reduce_op="sum") for t in (sums, counts))
        seen = counts > 0
        # the same norm as the random init (sqrt(D)): it sets how far an optimizer step turns a centre
        weight.data[seen] = F.normalize(sums[seen], dim=1).to(weight.dtype) * weight.shape[1] ** 0.5
        if not seen.all():
            log.warning("head_init=class_means: %d of %d classes had no image in the pass (dropped last batch); "
                        "their centres stay random.", int((~seen).sum()), len(seen))
        log.info("Class centres set from the mean embeddings of %d training images.", int(counts.sum()))

    @torch.no_grad()
    def _validate_now(self) -> dict[str, float]:
        """A validation pass outside the loop: metrics logged to every logger at the current step and printed."""
        datamodule = getattr(self.trainer, "datamodule", None)
        loader = datamodule.val_dataloader() if datamodule is not None else []
        if not loader:
            return {}
        was_training = self.training
        self.eval()
        outputs = [(self(self._prepare(x.to(self.device))).float().cpu(), y, i) for x, y, i in loader]
        self.train(was_training)
        embeddings, labels, index = (torch.cat(parts) for parts in zip(*outputs, strict=True))
        metrics = held_out_metrics(embeddings, labels, index, self.hparams.val_max_pairs)
        shown = {f"val/{k}": v for k, v in metrics.items() if k != "verif_threshold"}
        for logger in self.loggers:
            logger.log_metrics(shown, step=self.global_step)
        if self.trainer.is_global_zero:
            values = ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
            print(f"Untrained network at step {self.global_step}: {values}")
        return {k: shown[f"val/{k}"] for k in ("rank1", "verif_acc")}

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        images, labels, _ = batch
        features = self(self._prepare(images))
        logits = self.head(features, labels)
        loss = F.cross_entropy(logits, labels)
        # accuracy of the nearest class centre, without the margin: with the margin subtracted from the target
        # logit, argmax accuracy stays below chance long after the embedding has started to separate classes
        with torch.no_grad():
            acc = (self.head(features.detach()).argmax(dim=1) == labels).float().mean()
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(labels))
        self.log("train/acc", acc, prog_bar=True, on_step=False, on_epoch=True, batch_size=len(labels))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        images, labels, index = batch
        self._val_outputs.append((self(self._prepare(images)).float(), labels, index))

    def on_validation_epoch_end(self) -> None:
        if not self._val_outputs:
            return
        embeddings, labels, index = (torch.cat(parts) for parts in zip(*self._val_outputs, strict=True))
        self._val_outputs.clear()
        if self.trainer.world_size > 1:
            embeddings, labels, index = (self.all_gather(t).flatten(0, 1) for t in (embeddings, labels, index))
        metrics = held_out_metrics(embeddings.cpu(), labels.cpu(), index.cpu(), self.hparams.val_max_pairs)
        # every process computed the same values from the gathered embeddings; syncing just confirms that
        self.log_dict({f"val/{k}": v for k, v in metrics.items()}, sync_dist=True, prog_bar=True)
        if not self.trainer.sanity_checking:
            self.val_history.append((self.global_step, self.current_epoch, metrics["rank1"]))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the people trained on, so evaluation can tell them from new people in any folder."""
        datamodule = self.trainer.datamodule
        if hasattr(datamodule, "trained_on"):
            checkpoint[TRAINED_ON_KEY] = datamodule.trained_on().as_dict()

    def configure_optimizers(self) -> dict:
        opt_cfg, sched_cfg = self.hparams.optimizer, self.hparams.scheduler
        optimizer = build_optimizer(self.embedder, self.head, **opt_cfg)
        total = int(self.trainer.estimated_stepping_batches)
        factor = warmup_cosine(total, round(sched_cfg["warmup_fraction"] * total), sched_cfg["min_lr_ratio"])
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def held_out_metrics(
    embeddings: torch.Tensor, labels: torch.Tensor, index: torch.Tensor, max_pairs: int = 3000
) -> dict[str, float]:
    """Rank-1 identification and verification accuracy on held-out identities.

    Samples are put back in dataset order (``index``; duplicates from DDP padding are dropped). The first
    image of each identity is its gallery image, the rest are probes. Verification uses seeded genuine and
    impostor pairs over all images, with the accuracy-maximizing threshold.
    """
    order = torch.argsort(index)
    index, embeddings, labels = index[order], embeddings[order], labels[order]
    keep = torch.ones_like(index, dtype=torch.bool)
    keep[1:] = index[1:] != index[:-1]
    embeddings, labels = embeddings[keep], labels[keep]
    first = torch.ones_like(labels, dtype=torch.bool)
    seen: set[int] = set()
    for i, label in enumerate(labels.tolist()):
        first[i] = label not in seen
        seen.add(label)
    similarity = cosine_similarity_matrix(embeddings[~first], embeddings[first])
    rank1 = rank_k_accuracy(similarity, labels[~first], labels[first], k=1)
    pairs, is_same = genuine_impostor_pairs(labels, max_pairs=max_pairs, seed=0)
    normalized = F.normalize(embeddings, dim=1)
    scores = (normalized[pairs[:, 0]] * normalized[pairs[:, 1]]).sum(dim=1)
    verif_acc, threshold = best_threshold_accuracy(scores, is_same)
    return {"rank1": rank1, "verif_acc": verif_acc, "verif_threshold": threshold}
