"""Align raw photos: `facerec-align input=<folder> output=<folder> [alignment.multi_face=all] [alignment.workers=4]`
(Hydra; options in conf/alignment/mtcnn.yaml)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from src.utils.cli_entry import command

if TYPE_CHECKING:
    from src.alignment.report import AlignReport

USAGE = "facerec-align input=<folder of photos> output=<new folder outside input>"


def align(cfg: DictConfig) -> AlignReport:
    """Align ``cfg.input`` into ``cfg.output``; prints the counts and where the report is."""
    # Imported here, not at the top, so `facerec-align --help` answers at once.
    from src.alignment.aligner import FaceAligner
    from src.alignment.folder import align_folder

    for key in ("input", "output"):
        if not cfg.get(key):
            raise ValueError(f"{key} is required: {USAGE}")
    report = align_folder(cfg.input, cfg.output, FaceAligner.from_config(cfg.alignment), cfg.alignment.workers,
                          cfg.progress)
    summary = report.as_dict()
    rate = f"{summary['images_per_sec']:.2f} images/s" if summary["images_per_sec"] else "nothing new"
    print(f"{summary['images']} images: {summary['faces_found']} aligned faces in {cfg.output} "
          f"({summary['processed']} processed, {rate}; {summary['resumed']} done by an earlier run); "
          f"no face: {len(summary['no_face'])}, several faces: {len(summary['multiple_faces'])} "
          f"({len(summary['multiple_faces_skipped'])} skipped), cut by the border: {len(summary['cut_by_border'])}, "
          f"failed: {len(summary['failed'])}. Report: {report.path}")
    return report


@command("align")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-align`."""
    align(cfg)


if __name__ == "__main__":
    main()
