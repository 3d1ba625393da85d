"""Which people a checkpoint was trained on, and which people of a face folder an evaluation or export uses.

Training stores :class:`TrainedOn` in every checkpoint (under :data:`TRAINED_ON_KEY`), so a checkpoint can be
evaluated on any folder: its trained people are excluded by their images' content (by name for older
checkpoints), whatever the folder's split settings.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from src.datamodules.folder_scan import FolderScan

TRAINED_ON_KEY = "facerec_trained_on"
IDENTITY_CHOICES = ("held_out", "train", "all")


@dataclass(frozen=True)
class TrainedOn:
    """The training people (class names) of a checkpoint and the folder they came from."""

    root: str
    identities: frozenset[str]
    # person -> bottom-k sketch of their images' content digests (src/datamodules/trained_content.py); None: the
    # checkpoint predates them (people are then told apart by name only)
    sketches: dict[str, list[str]] | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for the checkpoint (loadable with ``weights_only``)."""
        content = {"image_sketches": self.sketches} if self.sketches is not None else {}
        return {"root": self.root, "identities": sorted(self.identities), **content}

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> TrainedOn | None:
        """What a loaded checkpoint dict was trained on; ``None`` for one saved before training stored it."""
        stored = checkpoint.get(TRAINED_ON_KEY)
        if not stored:
            return None
        return cls(root=str(stored["root"]), identities=frozenset(stored["identities"]),
                   sketches=stored.get("image_sketches"))


def select_identities(scan: FolderScan, trained: Collection[str], which: str) -> dict[str, list[Path]]:
    """The people of ``scan`` an evaluation or export uses: ``held_out`` (not in ``trained``), ``train`` (in it,
    a closed-world check) or ``all``. ValueError when the choice is unknown or leaves nobody."""
    if which not in IDENTITY_CHOICES:
        raise ValueError(f"identities must be one of {IDENTITY_CHOICES} (evaluation.identities / gallery.identities), "
                         f"not '{which}'.")
    if which == "all":
        return dict(scan.identities)
    trained = set(trained)
    keep = (lambda name: name not in trained) if which == "held_out" else (lambda name: name in trained)
    chosen = {name: paths for name, paths in scan.identities.items() if keep(name)}
    if not chosen:
        advice = ("evaluate a folder of people the model was not trained on, or pass evaluation.identities=train "
                  "(closed world) / all" if which == "held_out" else "pass evaluation.identities=held_out or all")
        raise ValueError(f"No {which} identities in {scan.root}: {len(trained & set(scan.identities))} of its "
                         f"{len(scan.identities)} people were trained on; {advice} (gallery.identities for export).")
    return chosen
