"""Backbone architectures at equal training time: ``facerec-bench arch``.

Each (dataset, architecture, seed) trains from scratch with the same recipe for ``seconds`` of wall time
(Lightning ``max_time``) and reports its last held-out validation (``val/rank1``, ``val/verif_acc``) and training
images/s (data loading included). The first architecture is the reference the others are compared to.
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from matplotlib.figure import Figure

from src.bench.config import CommonConfig
from src.bench.report import Outcome, make_table
from src.utils.paths import CONF_DIR

log = logging.getLogger(__name__)
ORL_DEFAULT = str(Path(CONF_DIR).parents[1] / "shared" / "data" / "orl_faces_30")


@dataclass
class ArchConfig(CommonConfig):
    archs: list[str] = field(default_factory=lambda: ["torchvision", "iresnet"])  # the first is the reference
    depth: int = 18
    datasets: list[str] = field(default_factory=lambda: ["synthetic", "orl"])  # synthetic | orl
    orl_root: str = ORL_DEFAULT
    image_size: int = 48
    batch_size: int = 16
    seconds: int = 120  # training wall time per run
    seeds: list[int] = field(default_factory=lambda: [0])

    def check(self) -> None:
        if set(self.datasets) - {"synthetic", "orl"} or not self.datasets:
            raise ValueError(f"datasets must be a non-empty subset of [synthetic, orl], got {self.datasets}")
        if set(self.archs) - {"torchvision", "iresnet"} or not self.archs:
            raise ValueError(f"archs must be a non-empty subset of [torchvision, iresnet], got {self.archs}")


def _overrides(cfg: ArchConfig, dataset: str, arch: str, seed: int, work: Path) -> list[str]:
    data = (["experiment=quickstart", "data.num_identities=60", "data.images_per_identity=10"] if dataset == "synthetic"
            else [f"data.root={cfg.orl_root}", "data.val_fraction=0.2", "trainer=cpu"])
    return [
        *data, f"paths.root_dir={work}", f"paths.output_dir={work}/run", f"paths.checkpoint_dir={work}/ckpt",
        f"model.backbone.arch={arch}", f"model.backbone.depth={cfg.depth}", "model.backbone.pretrained=null",
        f"data.image_size={cfg.image_size}", f"data.batch_size={cfg.batch_size}", "data.num_workers=0",
        "data.persistent_workers=false", "data.pin_memory=false", f"seed={seed}", "eval=false", "callbacks=none",
        "+callbacks.throughput._target_=src.callbacks.throughput.ImageThroughput", "~logger",
        # min_steps=0: Lightning lets max_time stop a run only once min_steps are done
        "trainer.max_epochs=10000", "trainer.min_steps=0", f"+trainer.max_time={_dd_hh_mm_ss(cfg.seconds)}",
        "+trainer.enable_progress_bar=false", "+trainer.enable_model_summary=false",
    ]


def _dd_hh_mm_ss(seconds: int) -> str:
    """Lightning's ``max_time`` string."""
    return f"{seconds // 86400:02d}:{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _run(cfg: ArchConfig, dataset: str, arch: str, seed: int) -> dict:
    from src.train import train  # Lightning and the models load only when a run starts

    with tempfile.TemporaryDirectory() as work:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            train_cfg = compose(config_name="train", overrides=_overrides(cfg, dataset, arch, seed, Path(work)))
        began = time.perf_counter()
        metrics, objects = train(train_cfg)
        seconds = time.perf_counter() - began
    row = {"dataset": dataset, "arch": arch, "seed": seed, "epochs": objects["trainer"].current_epoch,
           "steps": objects["trainer"].global_step, "wall_s": seconds,
           "val_rank1": metrics.get("val/rank1"), "val_verif_acc": metrics.get("val/verif_acc"),
           "train_images_per_s": metrics.get("train/epoch_images_per_sec")}
    log.info("arch %s on %s seed %d: %s", arch, dataset, seed, row)
    return row


def run_arch(cfg: ArchConfig) -> Outcome:
    rows = [_run(cfg, d, a, s) for d in cfg.datasets for a in cfg.archs for s in cfg.seeds]
    summary: dict[str, dict] = {}
    for dataset in cfg.datasets:
        for arch in cfg.archs:
            mine = [r for r in rows if r["dataset"] == dataset and r["arch"] == arch]
            summary[f"{dataset}/{arch}"] = {
                key: float(np.mean([r[key] for r in mine if r[key] is not None] or [np.nan]))
                for key in ("val_rank1", "val_verif_acc", "train_images_per_s")}
    table = make_table(
        f"{cfg.seconds} s of training per run, depth {cfg.depth}, {cfg.image_size} px, batch {cfg.batch_size}",
        ["dataset / arch", "epochs", "val rank-1", "val verif acc", "train images/s"],
        [[f"{r['dataset']} / {r['arch']} (seed {r['seed']})", r["epochs"], r["val_rank1"], r["val_verif_acc"],
          r["train_images_per_s"]] for r in rows])
    figure = Figure(figsize=(6, 3.5))
    axes = figure.subplots()
    labels = list(summary)
    axes.bar(labels, [summary[k]["val_rank1"] for k in labels])
    axes.set_ylabel(f"held-out rank-1 after {cfg.seconds} s")
    axes.tick_params(axis="x", labelrotation=20)
    figure.tight_layout()
    data = {"synthetic": "60 synthetic identities x 10 images (seeded renders), 25% of identities held out",
            "orl": f"ORL faces, 30 people x 10 photos ({cfg.orl_root}), 20% of identities held out"}
    return Outcome(data={k: data[k] for k in cfg.datasets}, backends=[{"name": "torch", "device": "auto"}],
                   results={"runs": rows}, summary=summary, figure=figure, tables=[table])
