"""Train a face embedder: `facerec-train` / `python -m src.train` (Hydra; see conf/train.yaml)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from src.utils.cli_entry import command

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Fit the model described by ``cfg``; returns the final metrics and the objects used."""
    # Imported here, not at the top: torch and Lightning take ~10 s and `facerec-train --help` needs neither.
    import lightning as L

    from src.alignment.training_data import aligned_data
    from src.datamodules.build import build_datamodule
    from src.eval import evaluate
    from src.utils.checkpoint_file import read_checkpoint
    from src.utils.instantiate import instantiate_group

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(aligned_data(cfg.data))
    model: L.LightningModule = hydra.utils.instantiate(cfg.model, num_classes=datamodule.num_classes, _recursive_=False)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    if cfg.get("ckpt_path"):  # a refused file is named here, not in torch's advice to load it with weights_only=False
        read_checkpoint(cfg.ckpt_path)
    # weights_only: a resumed checkpoint is read as data only, whatever TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD says
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if best:
        log.info("Best checkpoint: %s", best)
    objects = {"cfg": cfg, "datamodule": datamodule, "model": model, "trainer": trainer, "best_ckpt": best}
    if cfg.get("eval") and best and trainer.is_global_zero:
        objects["report"] = evaluate(cfg, ckpt_path=best, datamodule=datamodule)
        _store_threshold(trainer, best, Path(cfg.evaluation.output_dir) / "report.json")
    return metrics, objects


def _store_threshold(trainer: Any, ckpt_path: str, report: Path) -> None:
    """Keep the evaluation's recommended threshold with the gallery the run exported (same checkpoint and TTA mode),
    so facerec-identify and facerec-serve answer with it on that gallery."""
    from src.embedding.model import load_model
    from src.inference.threshold import calibrated_record, store_threshold

    export = next((c for c in trainer.callbacks if getattr(c, "result", None) is not None and hasattr(c, "milvus")),
                  None)
    if export is None or not report.is_file():
        return
    model = load_model(ckpt_path, export.tta, fallback_image_size=trainer.datamodule.hparams.image_size)
    try:
        record = calibrated_record(report, model)
    except ValueError as error:  # e.g. too few people for open-set probes: the gallery keeps no threshold
        log.warning("No threshold stored with the gallery: %s", error)
        return
    print(store_threshold(model, export.milvus, record))


@command("train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns val/rank1 so sweeps can optimize it."""
    import torch

    torch.set_float32_matmul_precision("high")
    metrics, _ = train(cfg)
    return metrics.get("val/rank1")


if __name__ == "__main__":
    main()
