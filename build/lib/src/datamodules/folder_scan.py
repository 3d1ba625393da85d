"""Scan an ImageFolder tree (``root/<person_id>/<image>``), checking every file and counting what is skipped."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

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
            log.info("Skipped %s (%s)", path, reason)


def check_image(path: Path, decode: bool) -> str | None:
    """``None`` when the file is a readable image, else the reason it is not."""
    try:
        with Image.open(path) as image:
            if decode:
                image.load()
    except Exception as error:  # PIL raises many types for broken files
        return f"unreadable image: {type(error).__name__}: {error}"
    return None


def check_files(files: list[Path], decode: bool = True, workers: int = 8) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Split ``files`` into readable images (in order) and skipped ``(path, reason)`` pairs."""
    skipped = [(p, "not an image file") for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]
    candidates = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        problems = list(pool.map(lambda p: check_image(p, decode), candidates))
    skipped += [(p, problem) for p, problem in zip(candidates, problems) if problem is not None]
    return [p for p, problem in zip(candidates, problems) if problem is None], skipped


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
        if entry.is_dir():
            files[entry.name] = sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            skipped.append((entry, "not in an identity folder"))
    readable, rejected = check_files([p for paths in files.values() for p in paths], decode, workers)
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
