"""Training images/s of the real train step: ``python -m src.bench.train_speed [precisions=32-true,bf16-mixed]
[warmup=10] [steps=50] [out=...] <facerec-train overrides>``

For every precision the ``facerec-train`` model (backbone -> neck -> margin head, its optimizer and schedule) is
fitted twice through Lightning for ``warmup + steps`` optimizer steps and only the last ``steps`` are timed:

* ``loader``: the configured datamodule (image decoding, augmentation, workers): what a training run gets;
* ``tensors``: the same step fed one batch already in memory: the reference that says how much of the step the
  data pipeline costs (loader / tensors near 1 means the GPU is the limit).

Writes ``result.json`` and prints a table. The GPU figure in docs/performance/train_speed_gpu.json::

    python -m src.bench.train_speed out=outputs/bench/train_speed trainer=gpu data=synthetic \\
        data.num_identities=300 data.images_per_identity=12 data.batch_size=256 data.num_workers=12 \\
        model.backbone.pretrained=null
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from omegaconf import DictConfig
from rich.console import Console
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from src.bench.recipe import compose_train_config
from src.bench.report import make_table
from src.datamodules.build import build_datamodule
from src.monitoring.hardware import hardware_info

OPTIONS = ("precisions", "warmup", "steps", "out")


class StepClock(L.Callback):
    """Wall time and images of the optimizer steps after ``warmup`` (CUDA synchronized at both ends)."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.images, self.started, self.seconds = warmup, 0, 0.0, 0.0

    @staticmethod
    def _now() -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        if trainer.global_step == self.warmup:
            self.started = self._now()
        elif trainer.global_step > self.warmup:
            self.images += len(batch[0]) * trainer.world_size
            self.seconds = self._now() - self.started

    @property
    def images_per_sec(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")


def in_memory_loader(datamodule: L.LightningDataModule, steps: int) -> DataLoader:
    """``steps`` batches drawn (with replacement) from the first training batch, already decoded and augmented
    (on the CPU here when the datamodule augments on the device: the reference is the step alone)."""
    images, labels, index = datamodule.training_batch(next(iter(datamodule.train_dataloader())), "cpu")
    dataset = TensorDataset(images, labels, index)
    sampler = RandomSampler(dataset, replacement=True, num_samples=len(images) * steps)
    return DataLoader(dataset, batch_size=len(images), sampler=sampler, drop_last=True,
                      pin_memory=torch.cuda.is_available())


def measure(cfg: DictConfig, feed: str, warmup: int, steps: int) -> dict[str, Any]:
    """Fit ``warmup + steps`` steps fed by ``feed`` (loader | tensors); images/s over the last ``steps``."""
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg.data)
    model = hydra.utils.instantiate(cfg.model, num_classes=datamodule.num_classes, _recursive_=False)
    clock = StepClock(warmup)
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, logger=False, callbacks=[clock],
                                                 max_steps=warmup + steps, max_epochs=-1)
    if feed == "loader":
        trainer.fit(model, datamodule=datamodule)
    else:
        trainer.fit(model, train_dataloaders=in_memory_loader(datamodule, warmup + steps + 1))
    return {"feed": feed, "precision": str(cfg.trainer.precision), "batch_size": int(cfg.data.batch_size),
            "timed_steps": trainer.global_step - warmup, "images_per_sec": round(clock.images_per_sec, 1)}


def main(argv: Sequence[str] | None = None) -> Path:
    """Parse options and Hydra overrides, measure every (precision, feed), write result.json, print the table."""
    args = list(sys.argv[1:] if argv is None else argv)
    options = {k: v for k, _, v in (a.partition("=") for a in args if a.split("=")[0] in OPTIONS)}
    overrides = [a for a in args if a.split("=")[0] not in OPTIONS]
    precisions = options.get("precisions", "32-true,bf16-mixed").split(",")
    warmup, steps = int(options.get("warmup", 10)), int(options.get("steps", 50))
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out_dir = Path(options.get("out") or Path("outputs/bench/train_speed") / stamp)
    rows = []
    for precision in precisions:
        cfg = compose_train_config([*overrides, f"trainer.precision={precision}"], out_dir)
        for feed in ("loader", "tensors"):
            rows.append(measure(cfg, feed, warmup, steps))
            print(json.dumps(rows[-1]), flush=True)
    cfg = compose_train_config(overrides, out_dir)
    result = {
        "benchmark": "train_speed",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m src.bench.train_speed", *args]),
        "data": {"target": str(cfg.data._target_), "image_size": int(cfg.data.image_size),
                 "num_workers": int(cfg.data.num_workers),
                 "feeds": "loader = the datamodule (decode + augmentation); tensors = one in-memory batch"},
        "model": {"arch": str(cfg.model.backbone.arch), "depth": int(cfg.model.backbone.depth),
                  "head": str(cfg.model.head._target_), "optimizer": str(cfg.model.optimizer.name)},
        "machine": hardware_info(),
        "runs": rows,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "result.json"
    path.write_text(json.dumps(result, indent=2))
    table = [(r["precision"], r["feed"], r["batch_size"], r["timed_steps"], r["images_per_sec"]) for r in rows]
    Console().print(make_table("training images/s", ["precision", "feed", "batch", "steps", "images/s"], table))
    print(f"Result: {path}")
    return path


if __name__ == "__main__":
    main()
