"""Face datamodules: an ImageFolder of aligned crops and deterministic synthetic identities.

The names are loaded on first use (PEP 562): the inference commands import this package's small modules
(face_dataset, folder_scan) and must not pay for Lightning (~3 s of a one-photo facerec-identify idle, 23 s of 40
under load on the shared 2-core machine; docs/performance/cli_startup.json).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from src.datamodules.image_folder import FaceImageFolderDataModule
    from src.datamodules.synthetic import SyntheticFacesDataModule

_HOMES = {"FaceImageFolderDataModule": "src.datamodules.image_folder",
          "SyntheticFacesDataModule": "src.datamodules.synthetic"}
__all__ = ["FaceImageFolderDataModule", "SyntheticFacesDataModule"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
