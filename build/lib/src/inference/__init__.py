"""Using the gallery from Python: load a model, embed images, identify faces, enroll and remove people.

    from src.inference import FaceGallery, load_model

    model = load_model("checkpoints/train/<run>/last.ckpt")           # flip-TTA concat: 1024 dims
    with FaceGallery.open(model, "outputs/train/<run>/gallery.db") as gallery:
        gallery.identify(["probe.png"], top_k=5, threshold=0.4)      # -> [Identification]
        gallery.enroll("alice", ["alice/1.png", "alice/2.png"])
        gallery.remove("alice")

The commands `facerec-embed`, `facerec-identify`, `facerec-enroll` and `facerec-remove` wrap these.
"""
from src.inference.arrays import EmbedResult, save_embeddings
from src.inference.gallery import UNKNOWN, FaceGallery, Identification, remove_person
from src.inference.images import ImageSet, collect_images
from src.inference.model import FaceModel, load_model

__all__ = [
    "UNKNOWN", "EmbedResult", "FaceGallery", "FaceModel", "Identification", "ImageSet", "collect_images",
    "load_model", "remove_person", "save_embeddings",
]
