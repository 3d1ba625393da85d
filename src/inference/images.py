"""Turn an image, a flat folder or a folder of identity folders into checked image paths.

Layouts (``source``):

* a folder holding identity folders (``source/<person_id>/<image>``): every image is labelled with its
  identity folder's name (the training/export layout; scanned by :func:`scan_image_folder`);
* a flat folder of images, or a single image: no identity is known, so ``person_id`` is ``None``.

Every file is opened and decoded first; unreadable, corrupt and non-image files are skipped, counted
and logged (never dropped silently).
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from src.datamodules.folder_scan import check_files, scan_image_folder

if TYPE_CHECKING:
    from src.embedding.model import FaceModel

log = logging.getLogger(__name__)


@dataclass
class ImageSet:
    """Readable images (with the ``person_id`` their layout gives, else ``None``) and what was skipped, with why."""

    source: Path
    paths: list[Path]
    person_ids: list[str | None]
    skipped: list[tuple[Path, str]]

    @property
    def by_identity(self) -> bool:
        """True when the images came from identity folders."""
        return any(person is not None for person in self.person_ids)

    def summary(self) -> dict[str, int]:
        """Counts for printing and result files."""
        return {"images": len(self.paths), "skipped_files": len(self.skipped),
                "identities": len({p for p in self.person_ids if p is not None})}

    def skipped_reasons(self) -> dict[str, int]:
        """Skipped files per reason (``unreadable image``, ``not an image file``, ...)."""
        return dict(Counter(reason.split(":")[0] for _, reason in self.skipped))

    def report(self) -> None:
        """One warning with the skipped counts; each skipped path goes to the log at INFO level."""
        if not self.skipped:
            return
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped_reasons().items()))
        log.warning("%s: using %d images; skipped %d files (%s).", self.source, len(self.paths),
                    len(self.skipped), reasons)
        for path, reason in self.skipped:
            log.info("Skipped %s (%s)", path, reason)


def collect_images(source: str | Path, workers: int = 8) -> ImageSet:
    """Readable images under ``source`` (see the module docstring for the layouts).

    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` when no readable image is found.
    """
    source = Path(source).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"No such image or folder: {source}")
    if source.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in source.iterdir()):
        scan = scan_image_folder(source, workers=workers)
        pairs = [(path, person) for person, paths in scan.identities.items() for path in paths]
        return ImageSet(source, [p for p, _ in pairs], [person for _, person in pairs], scan.skipped)
    files = [source] if source.is_file() else sorted(
        p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    good, skipped = check_files(files, decode=True, workers=workers)
    if not good:
        raise ValueError(f"No readable image at {source} ({len(skipped)} files skipped: "
                         f"{', '.join(f'{p.name} ({why})' for p, why in skipped[:5])}).")
    return ImageSet(source, good, [None] * len(good), skipped)


def keep_faces(model: FaceModel, images: ImageSet) -> ImageSet:
    """With ``model`` aligning (``align=true``): photos without a usable face move to ``skipped`` (reason
    ``no face: ...``), counted and reported like unreadable files; ValueError when no photo has one. Else unchanged."""
    faceless = model.faceless(images.paths)
    if not faceless:
        return images
    if len(faceless) == len(images.paths):
        raise ValueError(f"No face found in any of the {len(faceless)} images of {images.source} (first: "
                         f"{faceless[0][0]}: {faceless[0][1]}). Pass photos with a visible face, or align=false for "
                         f"images that are already aligned crops.")
    dropped = {path for path, _ in faceless}
    kept = [(p, person) for p, person in zip(images.paths, images.person_ids, strict=True) if p not in dropped]
    return replace(images, paths=[p for p, _ in kept], person_ids=[person for _, person in kept],
                   skipped=images.skipped + faceless)

