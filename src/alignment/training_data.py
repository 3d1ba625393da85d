"""``data.align=<template>``: train on raw photos; their faces are detected and aligned once into a cached copy.

Applied by the training commands (``facerec-train``, ``python -m src.bench.recipe``) before the data module is built:
the data module reads aligned crops only, and the copy is what it trains on and what the checkpoint names.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from src.alignment.aligner import FaceAligner
from src.alignment.folder import align_folder

log = logging.getLogger(__name__)

TEMPLATES = ("arcface", "dlib")


def aligned_dir(root: Path, template: str, size: int, cache_dir: str | Path | None) -> Path:
    """Where the aligned copy of ``root`` lives: one folder per photo folder, template and size, so a rerun (or
    another run on the same photos) resumes it instead of aligning again. ``cache_dir`` null: beside ``root``."""
    if template not in TEMPLATES:
        raise ValueError(f"data.align={template!r} is not one of {TEMPLATES} (or false): the template the faces are "
                         "aligned onto; use the network's own (dlib for model=dlib_resnet, arcface otherwise).")
    root = root.resolve()
    digest = hashlib.blake2b(str(root).encode(), digest_size=4).hexdigest()
    base = Path(cache_dir).expanduser() if cache_dir else root.parent
    return base / f"{root.name}-aligned-{template}{size}-{digest}"


def align_photos(root: Path, output: Path, template: str, size: int) -> None:
    """Align every photo of ``root`` into ``output`` (resumable; one process at a time, e.g. the ranks of a DDP run)
    and log what was left out and where it is listed."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output.parent / f".{output.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        report = align_folder(root, output, FaceAligner(size=size, template=template), workers=0, progress=True)
    summary = report.as_dict()
    left_out = len(summary["no_face"]) + len(summary["failed"]) + len(summary["multiple_faces_skipped"])
    log.info("data.align=%s: %d faces of %d photos of %s aligned into %s (%d done by an earlier run).", template,
             summary["faces_found"], summary["images"], root, output, summary["resumed"])
    if left_out:
        log.warning("data.align=%s: %d files are not in training (no face: %d, not an image or unreadable: %d, "
                    "several faces skipped: %d); they are listed in %s.", template, left_out, len(summary["no_face"]),
                    len(summary["failed"]), len(summary["multiple_faces_skipped"]), report.path)


def aligned_data(data_cfg: DictConfig) -> DictConfig:
    """``data_cfg`` as it is, or (with ``data.align``) a copy reading the aligned copy of its photos."""
    template = data_cfg.get("align")
    if not template:
        return data_cfg
    photos, size = Path(data_cfg.root).expanduser(), int(data_cfg.image_size)
    chips = aligned_dir(photos, template, size, data_cfg.get("align_dir"))
    align_photos(photos, chips, template, size)
    aligned = OmegaConf.to_container(data_cfg, resolve=True)
    aligned.update(root=str(chips), align=False)
    return OmegaConf.create(aligned)
