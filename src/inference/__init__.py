"""Using the gallery from Python: load a model, embed images, identify faces, enroll and remove people.

    from src.inference import FaceGallery, load_model

    model = load_model("checkpoints/train/<run>/last.ckpt")           # flip-TTA concat: 1024 dims
    with FaceGallery.open(model, "outputs/train/<run>/gallery.db") as gallery:
        gallery.identify(["probe.png"], top_k=5, threshold=0.4)      # -> [Identification]
        gallery.enroll("alice", ["alice/1.png", "alice/2.png"])
        gallery.remove("alice")

The commands `facerec-embed`, `facerec-identify`, `facerec-enroll` and `facerec-remove` wrap these. The names
are loaded on first use (PEP 562): the commands' modules live in this package, and `facerec-<cmd> --help` must
not wait ~10 s for torch and pymilvus.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from src.embedding.model import FaceModel, load_model
    from src.gallery.face_gallery import UNKNOWN, FaceGallery, Identification, remove_person
    from src.inference.arrays import EmbedResult, save_embeddings
    from src.inference.images import ImageSet, collect_images

_HOMES = {
    "FaceModel": "src.embedding.model", "load_model": "src.embedding.model",
    "UNKNOWN": "src.gallery.face_gallery", "FaceGallery": "src.gallery.face_gallery",
    "Identification": "src.gallery.face_gallery", "remove_person": "src.gallery.face_gallery",
    "EmbedResult": "src.inference.arrays", "save_embeddings": "src.inference.arrays",
    "ImageSet": "src.inference.images", "collect_images": "src.inference.images",
}
__all__ = [
    "UNKNOWN", "EmbedResult", "FaceGallery", "FaceModel", "Identification", "ImageSet", "collect_images",
    "load_model", "remove_person", "save_embeddings",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
