"""Evaluate a checkpoint: `facerec-eval ckpt_path=... data.root=<folder>` (Hydra; see conf/eval.yaml)."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from src.utils.cli_entry import command

if TYPE_CHECKING:
    from src.embedding.model import FaceModel
    from src.evaluation.options import EvaluationOptions

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig, ckpt_path: str | None = None, datamodule: Any = None) -> dict[str, Any]:
    """Run the evaluation stage of ``cfg.evaluation`` on ``ckpt_path`` (default ``cfg.ckpt_path``).

    The people of ``cfg.data``'s folder the checkpoint was not trained on are evaluated (with the default
    ``evaluation.identities=held_out``): all of them in a folder of new people, the held-out ones in the
    training folder. Returns the report dict; writes report.json, PNGs and TensorBoard data under
    ``cfg.evaluation.output_dir``.
    """
    # Imported here, not at the top: torch, Lightning and pymilvus take ~10 s and `--help` needs none of them.
    from src.datamodules.build import build_datamodule
    from src.embedding.model import load_model
    from src.evaluation.bins import evaluate_bins
    from src.evaluation.options import EvaluationOptions
    from src.evaluation.protocol import evaluated_people, split_gallery_probes
    from src.evaluation.report import print_summary, write_report
    from src.evaluation.runner import run_evaluation

    ckpt_path = ckpt_path or cfg.get("ckpt_path")
    if not ckpt_path:
        raise ValueError("ckpt_path is required: facerec-eval ckpt_path=checkpoints/<task>/<run>/<name>.ckpt ...")
    options = EvaluationOptions.from_config(cfg.evaluation)
    model = load_model(ckpt_path, options.tta, fallback_image_size=cfg.data.image_size,
                       align=bool(cfg.get("align", False)), alignment=cfg.get("alignment"))
    if datamodule is None and not OmegaConf.is_missing(cfg.data, "root"):  # data.root=??? : .bin sets only
        datamodule = build_datamodule(cfg.data)
    if datamodule is None or not getattr(datamodule, "images_on_disk", True):  # no data.root, or RecordIO records
        if options.bins:
            return _bins_only(model, options)
        if datamodule is None:
            raise ValueError("Nothing to evaluate: set data.root=<image folder> (gallery/probes through Milvus) "
                             "and/or evaluation.bins=[lfw.bin, ...] (verification sets).")
        log.warning("No Milvus evaluation: %s holds records, not image files. Run facerec-eval ckpt_path=%s "
                    "data.root=<image folder>, or add evaluation.bins=[...].", datamodule.root, ckpt_path)
        return {}
    people = evaluated_people(datamodule, model.loaded.trained_on, options.identities)
    split = split_gallery_probes(with_faces(model, people.identities), options.n_gallery, options.unenrolled_fraction,
                                 options.seed)
    report = run_evaluation(model, people, split, cfg.milvus, options, datamodule.root)
    if options.bins:
        report["verification_bins"] = evaluate_bins(model.loaded.model, options.bins, model.image_size,
                                                    options.batch_size, options.num_workers)
    path = write_report(report, Path(options.output_dir), tensorboard_dir=Path(cfg.paths.output_dir) / "tensorboard")
    print_summary(report)
    print(f"Report: {path}")
    return report


def with_faces(model: FaceModel, identities: dict[str, list[Path]]) -> dict[str, list[Path]]:
    """With ``align=true``: each person's photos that have a usable face (the others are logged and left out)."""
    faceless = {path for path, _ in model.faceless([p for paths in identities.values() for p in paths])}
    if not faceless:
        return identities
    log.warning("align=true: %d photos have no usable face and are not evaluated (paths in the log).", len(faceless))
    for path in sorted(faceless):
        log.info("No face: %s", path)
    kept = {person: [p for p in paths if p not in faceless] for person, paths in identities.items()}
    return {person: paths for person, paths in kept.items() if paths}


def _bins_only(model: FaceModel, options: EvaluationOptions) -> dict[str, Any]:
    """The report of an evaluation on ``.bin`` sets alone: model and ``verification_bins``."""
    from src.evaluation.bins import evaluate_bins
    from src.evaluation.runner import REPORT_VERSION

    report = {
        "report_version": REPORT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {"checkpoint": model.loaded.checkpoint, "model_id": model.model_id, "image_size": model.image_size},
        "verification_bins": evaluate_bins(model.loaded.model, options.bins, model.image_size, options.batch_size,
                                           options.num_workers),
    }
    out_dir = Path(options.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    for name, result in report["verification_bins"].items():
        print(f"{name}: accuracy {result['accuracy_mean']:.4f} ± {result['accuracy_std']:.4f} "
              f"({result['pairs']} pairs, threshold {result['threshold']:.4f})")
    print(f"Report: {out_dir / 'report.json'}")
    return report


@command("eval")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-eval`."""
    report = evaluate(cfg)
    if report.get("identification", {}).get("recommended_threshold") is not None:
        print(f"To answer with its threshold, store it with a gallery of this checkpoint: facerec-export "
              f"ckpt_path={cfg.ckpt_path} data.root=<gallery people> threshold_from="
              f"{Path(cfg.evaluation.output_dir) / 'report.json'} (or pass threshold_from= to identify/serve).")


if __name__ == "__main__":
    main()
