"""Enrolled uploads on disk: every gallery row needs a stable ``image_path``, so each enrolled image is kept
under ``serve.upload_dir`` in its person's folder, named by the SHA-256 of its bytes
(``<dir>/<person id>/<sha256>.<ext>``).

Rows of enrolled images are keyed by their content (:func:`src.vector_store.row_id`), so enrolling an image
again replaces its row instead of adding one. Files are stored as sent (never re-encoded) with an extension that
the folder scanner accepts, in the ``<person>/<image>`` layout of a training or gallery folder, so ``upload_dir``
can be re-exported with facerec-export after a model change and names every face's person correctly.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from src.serve.limits import ImageRejected

# Pillow format -> extension in src.datamodules.folder_scan.IMAGE_EXTENSIONS.
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "PPM": ".ppm", "BMP": ".bmp", "WEBP": ".webp", "TIFF": ".tif"}


def person_folder(upload_dir: Path, person_id: str) -> Path:
    """``upload_dir/<person_id>``; ids that are not a plain folder name (``/``, ``\\``, ``.``, ``..``, a leading
    dot that the folder scanner skips as hidden) raise ValueError."""
    if "/" in person_id or "\\" in person_id or person_id.startswith("."):
        raise ValueError(f"Person id {person_id!r} cannot name a folder of serve.upload_dir (no '/', '\\' or "
                         "leading '.'); choose another id.")
    return upload_dir.resolve() / person_id


def upload_path(upload_dir: Path, person_id: str, data: bytes, image_format: str, name: str) -> Path:
    """Where an image of ``person_id`` is kept; formats the folder scanner would skip are refused (415)."""
    extension = EXTENSIONS.get(image_format)
    if extension is None:
        raise ImageRejected(415, f"{name} is a {image_format} image; enrollment keeps the file and accepts "
                                 f"{', '.join(sorted(EXTENSIONS))} only. Convert it to PNG or JPEG.")
    return person_folder(upload_dir, person_id) / f"{hashlib.sha256(data).hexdigest()}{extension}"


def save_upload(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file); an existing file is kept."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def delete_uploads(upload_dir: Path, image_paths: Iterable[str]) -> int:
    """Delete the files among ``image_paths`` that lie in ``upload_dir`` (rows enrolled from elsewhere keep
    their files); returns the files deleted."""
    root = upload_dir.resolve()
    deleted = 0
    for image_path in image_paths:
        path = Path(image_path)
        if path.is_relative_to(root) and path.is_file():
            path.unlink()
            deleted += 1
            if path.parent != root and not any(path.parent.iterdir()):  # the person's folder, now empty
                path.parent.rmdir()
    return deleted
