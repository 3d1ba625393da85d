"""Does a training recipe help on people it never saw? ``python -m src.bench.recipe [seeds=0,1] [out=...] <overrides>``

For every seed (which picks both the held-out people and the initial weights) one training run of the
``facerec-train`` config with the given Hydra overrides; on that run's held-out people it measures rank-1 and
verification accuracy of plain pixel nearest neighbour, the untrained network and the trained network (the
last step, not a checkpoint picked on those same people). Writes ``result.json`` and prints a table of means
and spreads. Example (the numbers in docs/performance/orl_recipe.json)::

    python -m src.bench.recipe seeds=0,1,2,3,4 out=outputs/bench/recipe/orl experiment=orl_faces
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig
from rich.console import Console

from src.alignment.training_data import aligned_data
from src.bench.report import make_table
from src.datamodules.build import build_datamodule
from src.lightning_modules.face_module import held_out_metrics
from src.monitoring.hardware import hardware_info
from src.utils.paths import CONF_DIR

METHODS = ("pixels", "untrained", "trained")
# Measurement runs: no checkpoints, loggers, in-loop validation (the last step is measured), Milvus export or
# evaluation stage; only what is compared here.
QUIET = ["~callbacks", "~logger", "eval=false", "+trainer.enable_checkpointing=false", "trainer.limit_val_batches=0",
         "+trainer.enable_progress_bar=false"]


def _metrics(batches: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], max_pairs: int) -> dict[str, float]:
    embeddings, labels, index = (torch.cat(parts) for parts in zip(*batches, strict=True))
    metrics = held_out_metrics(embeddings.float(), labels, index, max_pairs)
    return {"rank1": metrics["rank1"], "verif_acc": metrics["verif_acc"]}


@torch.no_grad()
def network_metrics(model: torch.nn.Module, loader: Iterable, max_pairs: int = 3000) -> dict[str, float]:
    """Held-out rank-1 / verification accuracy of ``model``'s embeddings (eval mode, on CPU)."""
    model.eval()
    return _metrics(((model(x), y, i) for x, y, i in loader), max_pairs)


def pixel_metrics(loader: Iterable, max_pairs: int = 3000) -> dict[str, float]:
    """The same protocol on raw pixels (the evaluation transform's output, flattened): the no-learning baseline."""
    return _metrics(((x.flatten(1), y, i) for x, y, i in loader), max_pairs)


def full_resolution_loader(datamodule: Any) -> Iterable | None:
    """With ``data.low_res_val`` (held-out faces reduced to ``data.low_res_size``): the same people at full
    resolution, to check that fine-tuning for the low-resolution domain keeps the full-resolution accuracy."""
    if not datamodule.hparams.get("low_res_val"):
        return None
    datamodule.hparams.low_res_val = False
    loader = datamodule.val_dataloader()
    datamodule.hparams.low_res_val = True
    return loader


def run_split(cfg: DictConfig) -> dict[str, Any]:
    """Train ``cfg`` once; pixel / untrained / trained metrics on its held-out people plus run facts."""
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(aligned_data(cfg.data))
    model = hydra.utils.instantiate(cfg.model, num_classes=datamodule.num_classes, _recursive_=False)
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, logger=False, callbacks=[])
    full_resolution = full_resolution_loader(datamodule)
    untrained_full = network_metrics(model.embedder, full_resolution) if full_resolution else None
    model.train()  # network_metrics left it in eval mode, which Lightning would keep for training
    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    loader = datamodule.val_dataloader()
    row = {
        "seed": int(cfg.seed),
        "train_identities": len(datamodule.split.train),
        "held_out_identities": len(datamodule.split.val),
        "held_out_images": sum(map(len, datamodule.split.val.values())),
        "steps": int(trainer.global_step),
        "fit_seconds": round(time.perf_counter() - started, 1),
        "pixels": pixel_metrics(loader),
        "untrained": model.untrained_metrics,
        "trained": network_metrics(model, loader),
        "train_acc": float(trainer.callback_metrics.get("train/acc", float("nan"))),
    }
    if full_resolution:
        row["full_resolution"] = {"untrained": untrained_full, "trained": network_metrics(model, full_resolution)}
    print(json.dumps(row), flush=True)
    return row


def summarize(rows: Sequence[dict[str, Any]], metric: str = "rank1") -> dict[str, Any]:
    """Mean, sample standard deviation, min and max of each method and of the trained-minus-baseline gains."""
    series = {name: [row[name][metric] for row in rows] for name in METHODS}
    for baseline in ("untrained", "pixels"):
        series[f"trained_minus_{baseline}"] = [t - b for t, b in zip(series["trained"], series[baseline], strict=True)]

    def stats(values: list[float]) -> dict[str, float]:
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return {"mean": statistics.fmean(values), "std": spread, "min": min(values), "max": max(values)}

    return {name: stats(values) for name, values in series.items()}


def compose_train_config(overrides: Sequence[str], out_dir: Path) -> DictConfig:
    """The ``facerec-train`` config with ``overrides``, writing nothing outside ``out_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[f"paths.output_dir={out_dir}", f"paths.checkpoint_dir={out_dir}/ckpt",
                                           *QUIET, *overrides])


def main(argv: Sequence[str] | None = None) -> Path:
    """Parse ``seeds=``/``out=`` plus Hydra overrides, run every seed, write result.json, print the table."""
    args = list(sys.argv[1:] if argv is None else argv)
    options = {k: v for k, _, v in (a.partition("=") for a in args if a.split("=")[0] in ("seeds", "out"))}
    overrides = [a for a in args if a.split("=")[0] not in ("seeds", "out")]
    seeds = [int(s) for s in options.get("seeds", "0,1,2").split(",")]
    out_dir = Path(options.get("out") or Path("outputs/bench/recipe") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    rows = [run_split(compose_train_config([*overrides, f"seed={seed}"], out_dir)) for seed in seeds]
    cfg = compose_train_config(overrides, out_dir)
    result = {
        "benchmark": "recipe",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m src.bench.recipe", *args]),
        "data": {"root": str(cfg.data.get("root", "synthetic")), "image_size": int(cfg.data.image_size),
                 "held_out": "each seed holds out its own people (data.val_fraction); trained = last step"},
        "model": {"depth": int(cfg.model.backbone.depth), "pretrained": cfg.model.backbone.pretrained,
                  "head": str(cfg.model.head._target_), "min_steps": cfg.trainer.get("min_steps"),
                  "max_steps": int(cfg.trainer.max_steps)},
        "machine": hardware_info(),
        "runs": rows,
        "summary": {metric: summarize(rows, metric) for metric in ("rank1", "verif_acc")},
    }
    if all("full_resolution" in row for row in rows):
        result["summary"]["full_resolution_rank1"] = {
            name: summarize([{**row["full_resolution"], "pixels": row["pixels"]} for row in rows])[name]
            for name in ("untrained", "trained")}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "result.json"
    path.write_text(json.dumps(result, indent=2))
    table_rows = [(name, s["mean"], s["std"], s["min"], s["max"]) for name, s in result["summary"]["rank1"].items()]
    Console().print(make_table(f"held-out rank-1 over seeds {seeds}", ["method", "mean", "std", "min", "max"],
                               table_rows))
    print(f"Result: {path}")
    return path


if __name__ == "__main__":
    main()
