"""``data.align=<template>``: train on raw photos; their faces are detected and aligned once into a cached folder."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

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
    """Align every photo of ``root`` into ``output`` (resumable) and log what was left out and where it is listed."""
    # Imported here: the detector is only needed when data.align is set.
    from src.alignment.aligner import FaceAligner
    from src.alignment.folder import align_folder

    report = align_folder(root, output, FaceAligner(size=size, template=template), workers=0, progress=True)
    summary = report.as_dict()
    left_out = len(summary["no_face"]) + len(summary["failed"]) + len(summary["multiple_faces_skipped"])
    log.info("data.align=%s: %d faces of %d photos of %s aligned into %s (%d done by an earlier run).", template,
             summary["faces_found"], summary["images"], root, output, summary["resumed"])
    if left_out:
        log.warning("data.align=%s: %d photos are not in training (no face: %d, failed: %d, several faces skipped: "
                    "%d); they are listed in %s.", template, left_out, len(summary["no_face"]),
                    len(summary["failed"]), len(summary["multiple_faces_skipped"]), report.path)
