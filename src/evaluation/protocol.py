"""Which people an evaluation uses (and whether they are enough), and their gallery/probe protocol."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from src.datamodules.identities import TrainedOn
from src.datamodules.image_folder import FaceImageFolderDataModule
from src.datamodules.trained_content import match_trained

log = logging.getLogger(__name__)

# Below this many evaluated people one probe moves rank-1 by several points and the FAR-1% threshold rests on a
# handful of non-mated searches (issue 14: 2 of 10 people gave rank-1 1.0): the report says so.
MIN_RELIABLE_IDENTITIES = 10


@dataclass
class EvaluatedPeople:
    """The people of a folder chosen for evaluation, and how they were chosen (for the report)."""

    identities: dict[str, list[Path]]
    which: str
    in_folder: int
    trained_in_folder: int | None  # None: the checkpoint does not say
    trained_from: str  # "checkpoint (image content)", "checkpoint (names)", "data split" or "unknown"
    same_name_new: int = 0  # people named like a training person whose images were not trained on (evaluated)
    renamed_trained: int = 0  # trained people found under another name (excluded with held_out)

    @property
    def reliable(self) -> bool:
        return len(self.identities) >= MIN_RELIABLE_IDENTITIES

    @property
    def excluded(self) -> int:
        """People of the folder left out (trained on with ``held_out``, not trained on with ``train``)."""
        return self.in_folder - len(self.identities)

    @property
    def warning(self) -> str | None:
        """Why the numbers are not reliable, or None."""
        if self.reliable:
            return None
        return (f"Only {len(self.identities)} people evaluated (fewer than {MIN_RELIABLE_IDENTITIES}): rank-1, "
                "DIR@FAR, verification accuracy and the recommended threshold are not reliable. Evaluate a folder "
                f"with at least {MIN_RELIABLE_IDENTITIES} people the model was not trained on.")

    def summary(self) -> dict[str, Any]:
        """The report's ``data`` keys about the people."""
        return {"identities": self.which, "identities_in_folder": self.in_folder,
                "trained_identities_in_folder": self.trained_in_folder,
                "excluded_identities": self.excluded,
                "trained_identities_from": self.trained_from, "same_name_new_identities": self.same_name_new,
                "renamed_trained_identities": self.renamed_trained, "reliable": self.reliable,
                "warning": self.warning}


def evaluated_people(datamodule: FaceImageFolderDataModule, trained_on: TrainedOn | None,
                     which: str) -> EvaluatedPeople:
    """The people of the datamodule's folder to evaluate: with ``held_out`` every person the checkpoint was not
    trained on (``trained_on``, stored in the checkpoint), so a folder of new people is evaluated whole and the
    training folder keeps its held-out people. A checkpoint that predates the stored list falls back to the
    folder's data split (``data.val_fraction``/``seed``), with a warning.
    """
    old = "This checkpoint does not record the people it was trained on (saved before training stored them)"
    scan = datamodule.scan_folder()
    match = None
    if trained_on is not None and trained_on.sketches is not None:
        match = match_trained(scan.identities, trained_on.sketches)
        trained, source = set(match.trained), "checkpoint (image content)"
    elif trained_on is not None:
        trained, source = trained_on.identities, "checkpoint (names)"
    elif which == "all":
        log.warning("%s: if some people of %s were trained on, the numbers are optimistic.", old, datamodule.root)
        trained, source = None, "unknown"
    else:
        log.warning("%s: taking them from the split of %s (data.val_fraction, seed). To evaluate a folder of other "
                    "people pass evaluation.identities=all, or evaluate a checkpoint of a new training run.", old,
                    datamodule.root)
        trained, source = datamodule.trained_on().identities, "data split"
    people = EvaluatedPeople(identities=datamodule.select_identities(which, trained), which=which,
                             in_folder=len(scan.identities),
                             trained_in_folder=None if trained is None else len(set(trained) & set(scan.identities)),
                             trained_from=source, same_name_new=len(match.same_name_new) if match else 0,
                             renamed_trained=len(match.renamed) if match else 0)
    if people.excluded:
        log.info("Evaluating %d of the %d people in %s (%s; %d were trained on).", len(people.identities),
                 people.in_folder, datamodule.root, which, people.trained_in_folder)
    if people.warning:
        log.warning("%s", people.warning)
    return people


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
        raise ValueError("The evaluation gallery is empty: no identity is enrolled. "
                         "Lower evaluation.unenrolled_fraction.")
    if not probes:
        raise ValueError(
            f"No probe images: every identity has at most n_gallery={n_gallery} images. Use identities with more "
            f"images or lower evaluation.n_gallery."
        )
    return GalleryProbeSplit(gallery=gallery, probes=probes, unenrolled=unenrolled)
