"""Evaluate a checkpoint: `facerec-eval ckpt_path=... data.root=<folder>` (Hydra; see conf/eval.yaml)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from src.datamodules.build import build_datamodule
from src.datamodules.identities import TrainedOn
from src.embedding.checkpoint import load_embedder
from src.evaluation.options import EvaluationOptions
from src.evaluation.protocol import evaluated_people, split_gallery_probes
from src.evaluation.report import print_summary, write_report
from src.evaluation.runner import run_evaluation
from src.utils.paths import CONF_DIR


def evaluate(cfg: DictConfig, ckpt_path: str | None = None, datamodule: Any = None) -> dict[str, Any]:
    """Run the evaluation stage of ``cfg.evaluation`` on ``ckpt_path`` (default ``cfg.ckpt_path``).

    The people of ``cfg.data``'s folder the checkpoint was not trained on are evaluated (with the default
    ``evaluation.identities=held_out``): all of them in a folder of new people, the held-out ones in the
    training folder. Returns the report dict; writes report.json, PNGs and TensorBoard data under
    ``cfg.evaluation.output_dir``.
    """
    ckpt_path = ckpt_path or cfg.get("ckpt_path")
    if not ckpt_path:
        raise ValueError("ckpt_path is required: facerec-eval ckpt_path=checkpoints/<task>/<run>/<name>.ckpt ...")
    options = EvaluationOptions.from_config(cfg.evaluation)
    loaded = load_embedder(ckpt_path)
    if datamodule is None:
        datamodule = build_datamodule(cfg.data)
    people = evaluated_people(datamodule, TrainedOn.from_checkpoint(ckpt_path), options.identities)
    split = split_gallery_probes(people.identities, options.n_gallery, options.unenrolled_fraction, options.seed)
    image_size = loaded.image_size or cfg.data.image_size
    report = run_evaluation(loaded, people, split, cfg.milvus, options, image_size, datamodule.root)
    path = write_report(report, Path(options.output_dir), tensorboard_dir=Path(cfg.paths.output_dir) / "tensorboard")
    print_summary(report)
    print(f"Report: {path}")
    return report


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-eval`."""
    evaluate(cfg)


if __name__ == "__main__":
    main()
