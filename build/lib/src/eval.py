"""Evaluate a checkpoint: `facerec-eval ckpt_path=... data.root=...` (Hydra; see conf/eval.yaml)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from src.datamodules.build import build_datamodule
from src.embedding.checkpoint import load_embedder
from src.evaluation.protocol import select_identities, split_gallery_probes
from src.evaluation.report import print_summary, write_report
from src.evaluation.runner import run_evaluation
from src.utils.paths import CONF_DIR


def evaluate(cfg: DictConfig, ckpt_path: str | None = None, datamodule: Any = None) -> dict[str, Any]:
    """Run the evaluation stage of ``cfg.evaluation`` on ``ckpt_path`` (default ``cfg.ckpt_path``).

    Returns the report dict; writes report.json, PNGs and TensorBoard data under ``cfg.evaluation.output_dir``.
    """
    ckpt_path = ckpt_path or cfg.get("ckpt_path")
    if not ckpt_path:
        raise ValueError("ckpt_path is required: facerec-eval ckpt_path=checkpoints/<task>/<run>/<name>.ckpt ...")
    loaded = load_embedder(ckpt_path)
    if datamodule is None:
        datamodule = build_datamodule(cfg.data)
    options = OmegaConf.to_container(cfg.evaluation, resolve=True)
    identities = select_identities(datamodule.scan, set(datamodule.split.train), options["identities"])
    split = split_gallery_probes(identities, options["n_gallery"], options["unenrolled_fraction"], options["seed"])
    image_size = loaded.image_size or cfg.data.image_size
    report = run_evaluation(loaded, split, cfg.milvus, options, image_size, datamodule.root)
    out_dir = Path(options["output_dir"])
    path = write_report(report, out_dir, tensorboard_dir=Path(cfg.paths.output_dir) / "tensorboard")
    print_summary(report)
    print(f"Report: {path}")
    return report


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-eval`."""
    evaluate(cfg)


if __name__ == "__main__":
    main()
