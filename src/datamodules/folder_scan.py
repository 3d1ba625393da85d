"""Scan an ImageFolder tree (``root/<person_id>/<image>``), checking every file and counting what is skipped."""
from __future__ import annotations

import errno
import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from src.datamodules.image_decode import UnsupportedImageError, load_rgb, max_pixels, open_image

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass
class FolderScan:
    """Usable images per identity plus everything that was skipped and why."""

    root: Path
    identities: dict[str, list[Path]]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    empty_identities: list[str] = field(default_factory=list)

    @property
    def num_images(self) -> int:
        return sum(len(v) for v in self.identities.values())

    def singletons(self) -> list[str]:
        """Identities with exactly one usable image (usable for training, not for validation pairs)."""
        return [k for k, v in self.identities.items() if len(v) < 2]

    def summary(self) -> dict[str, int]:
        """Counts for logs and reports."""
        return {
            "identities": len(self.identities),
            "images": self.num_images,
            "skipped_files": len(self.skipped),
            "empty_identities": len(self.empty_identities),
            "single_image_identities": len(self.singletons()),
        }

    def report(self) -> None:
        """One warning with the counts of everything not used; the paths go to the log at INFO level."""
        if not (self.skipped or self.empty_identities or self.singletons()):
            return
        reasons: dict[str, int] = {}
        for _, reason in self.skipped:
            reasons[reason.split(":")[0]] = reasons.get(reason.split(":")[0], 0) + 1
        log.warning(
            "Scanned %s: using %d images of %d identities; skipped %d files (%s); %d identities without usable "
            "images (%s); %d identities with a single image (kept for training only: %s).",
            self.root, self.num_images, len(self.identities), len(self.skipped),
            ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "none",
            len(self.empty_identities), ", ".join(self.empty_identities[:10]) or "none",
            len(self.singletons()), ", ".join(self.singletons()[:10]) or "none",
        )
        for path, reason in self.skipped:
            # a file reached twice may carry two identities' labels: worth a warning each
            level = logging.WARNING if reason.startswith("duplicate") else logging.INFO
            log.log(level, "Skipped %s (%s)", path, reason)


def check_image(path: Path, decode: bool) -> str | None:
    """``None`` when the file is an image :func:`load_rgb` accepts, else the reason it is not.

    ``decode=False`` reads only the header (format, size cap, mode); ``True`` decodes it exactly as training,
    export and inference will, so whatever passes here also loads there.
    """
    try:
        if decode:
            load_rgb(path)
        else:
            with open_image(path):
                pass
    except UnsupportedImageError as error:
        return f"unsupported image: {error}"
    except Exception as error:  # PIL raises many types for broken files
        return f"unreadable image: {type(error).__name__}: {error}"
    return None


def _symlinks_on_path(path: Path) -> int:
    """How many components of ``path`` are symbolic links (0 for a file reached without any)."""
    return sum(part.is_symlink() for part in (path, *path.parents))


def drop_duplicates(
    files: list[Path], owners: Mapping[Path, str] | None = None,
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Keep one path per underlying file (same device and inode: symlinks, hard links, a folder reached twice).

    The kept path is the one reached through the fewest symbolic links (the real file rather than an alias),
    then the first in ``files`` order, so the choice does not depend on batch sizes or scan order. The others
    are returned as ``(path, reason)`` naming the kept path and, with ``owners``, both identities.
    """
    groups: dict[tuple[int, int] | Path, list[Path]] = {}
    for path in files:
        try:
            info = path.stat()
        except OSError:  # unreadable: check_image reports it
            groups[path] = [path]
            continue
        groups.setdefault((info.st_dev, info.st_ino), []).append(path)
    dropped: dict[Path, str] = {}
    for paths in groups.values():
        if len(paths) < 2:
            continue
        kept = min(paths, key=lambda p: (_symlinks_on_path(p), paths.index(p)))
        for path in paths:
            if path != kept:
                whose = f" (found under {owners[path]!r}, kept under {owners[kept]!r})" if owners else ""
                dropped[path] = f"duplicate: same file as {kept}{whose}"
    return [p for p in files if p not in dropped], list(dropped.items())


def check_files(
    files: list[Path], decode: bool = True, workers: int = 8, owners: Mapping[Path, str] | None = None,
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Split ``files`` into readable images (in order) and skipped ``(path, reason)`` pairs.

    A file reached by several paths is kept once (see :func:`drop_duplicates`; ``owners`` maps each path to
    its identity for the report); the rest must pass :func:`check_image`.
    """
    max_pixels()  # a bad FACEREC_MAX_IMAGE_PIXELS stops here once, instead of skipping every file
    skipped = [(p, "not an image file") for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]
    candidates, duplicates = drop_duplicates([p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS], owners)
    skipped += duplicates
    with ThreadPoolExecutor(max_workers=workers) as pool:
        problems = list(pool.map(lambda p: check_image(p, decode), candidates))
    skipped += [(p, problem) for p, problem in zip(candidates, problems, strict=True) if problem is not None]
    return [p for p, problem in zip(candidates, problems, strict=True) if problem is None], skipped


def link_problem(path: Path) -> str | None:
    """Why a symbolic link cannot be followed (dangling, a loop), or ``None`` for a usable path."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symlink loop"
        if error.errno == errno.ENOENT:
            return f"dangling symlink: target {os.readlink(path)} does not exist"
        return f"unreadable symlink: {error.strerror}"
    return None


def list_identity_files(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Every non-hidden file under ``folder`` (sorted), following symlinked folders once each, plus the
    dangling links and loops met on the way as ``(path, reason)``."""
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    visited: set[tuple[int, int]] = set()
    pending = [folder]
    while pending:
        current = pending.pop()
        info = current.stat()
        if (info.st_dev, info.st_ino) in visited:  # a link back to (or a second link to) a folder already walked
            skipped.append((current, "symlink loop: links to a folder already scanned"))
            continue
        visited.add((info.st_dev, info.st_ino))
        for entry in sorted(current.iterdir()):
            if entry.name.startswith("."):  # hidden files and folders (.DS_Store, thumbnails) are not data
                continue
            if problem := link_problem(entry):
                skipped.append((entry, problem))
            elif entry.is_dir():
                pending.append(entry)
            elif entry.is_file():
                files.append(entry)
    return sorted(files), skipped


def scan_image_folder(root: str | Path, decode: bool = True, workers: int = 8) -> FolderScan:
    """List ``root/<person_id>/*`` images, opening each one (fully decoding it when ``decode``).

    Raises ``FileNotFoundError`` for a missing root and ``ValueError`` when it holds no usable image.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"Face folder not found: {root}. Expected aligned crops as <root>/<person_id>/<image>; "
            f"set data.root=/path/to/faces (or use experiment=quickstart for synthetic faces)."
        )
    skipped: list[tuple[Path, str]] = []
    files: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):  # hidden files and folders (.DS_Store, markers) are not data
            continue
        if problem := link_problem(entry):
            skipped.append((entry, problem))
        elif entry.is_dir():
            files[entry.name], broken = list_identity_files(entry)
            skipped.extend(broken)
        else:
            skipped.append((entry, "not in an identity folder"))
    owners = {path: name for name, paths in files.items() for path in paths}
    readable, rejected = check_files(list(owners), decode, workers, owners)
    skipped.extend(rejected)
    usable = set(readable)
    identities = {name: good for name, paths in files.items() if (good := [p for p in paths if p in usable])}
    empty = [name for name in files if name not in identities]
    scan = FolderScan(root=root, identities=identities, skipped=skipped, empty_identities=empty)
    if not identities:
        raise ValueError(
            f"No usable images under {root} ({len(skipped)} files skipped). Expected <root>/<person_id>/<image> "
            f"with extensions {', '.join(sorted(IMAGE_EXTENSIONS))}."
        )
    return scan
