"""Gallery/probe protocol for identification and the pairs for verification, from an ImageFolder scan."""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from src.datamodules.folder_scan import FolderScan


@dataclass
class GalleryProbeSplit:
    """Enrolled gallery images, probes of enrolled people and probes of people who are not enrolled."""

    gallery: list[tuple[Path, str]]
    probes: list[tuple[Path, str]]
    unenrolled: set[str]

    @property
    def enrolled(self) -> set[str]:
        return {person for _, person in self.gallery}

    def summary(self) -> dict[str, int]:
        """Counts for the report."""
        return {
            "enrolled_identities": len(self.enrolled),
            "unenrolled_identities": len(self.unenrolled),
            "gallery_images": len(self.gallery),
            "probes": len(self.probes),
            "probes_enrolled": sum(person not in self.unenrolled for _, person in self.probes),
            "probes_unenrolled": sum(person in self.unenrolled for _, person in self.probes),
        }


def split_gallery_probes(
    identities: dict[str, list[Path]], n_gallery: int = 1, unenrolled_fraction: float = 0.2, seed: int = 0
) -> GalleryProbeSplit:
    """Seeded protocol: ``unenrolled_fraction`` of the identities are not enrolled (all their images are
    probes, for open-set rejection); each enrolled identity puts its first ``n_gallery`` images (in a seeded
    order) in the gallery and the rest in the probes. Identities with no image left for probing are enrolled
    but contribute no probe.
    """
    if n_gallery < 1:
        raise ValueError("n_gallery must be at least 1.")
    rng = random.Random(seed)
    names = sorted(identities)
    shuffled = names[:]
    rng.shuffle(shuffled)
    n_out = round(unenrolled_fraction * len(names))
    if unenrolled_fraction > 0 and n_out == 0 and len(names) > 1:
        n_out = 1
    unenrolled = set(shuffled[:n_out])
    gallery: list[tuple[Path, str]] = []
    probes: list[tuple[Path, str]] = []
    for name in names:
        paths = sorted(identities[name])
        rng.shuffle(paths)
        if name in unenrolled:
            probes.extend((p, name) for p in paths)
        else:
            gallery.extend((p, name) for p in paths[:n_gallery])
            probes.extend((p, name) for p in paths[n_gallery:])
    if not gallery:
        raise ValueError("The evaluation gallery is empty: no identity is enrolled. Lower eval.unenrolled_fraction.")
    if not probes:
        raise ValueError(
            f"No probe images: every identity has at most n_gallery={n_gallery} images. Use identities with more "
            f"images or lower eval.n_gallery."
        )
    return GalleryProbeSplit(gallery=gallery, probes=probes, unenrolled=unenrolled)


def select_identities(scan: FolderScan, train_identities: set[str], which: str) -> dict[str, list[Path]]:
    """The identities an evaluation uses: ``held_out`` (not trained on), ``train`` (closed world) or ``all``."""
    if which == "all":
        return dict(scan.identities)
    if which == "held_out":
        chosen = {k: v for k, v in scan.identities.items() if k not in train_identities}
    elif which == "train":
        chosen = {k: v for k, v in scan.identities.items() if k in train_identities}
    else:
        raise ValueError(f"eval.identities must be held_out, train or all, not '{which}'.")
    if not chosen:
        raise ValueError(f"No {which} identities to evaluate in {scan.root}.")
    return chosen
