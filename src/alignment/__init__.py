"""Raw photos in: face detection with five landmarks (the project's batched PyTorch MTCNN, MIT weights shipped in
the package) and alignment onto the ArcFace five-point template.

    from src.alignment import FaceAligner
    crops = FaceAligner(size=112).align_rgb(photo).crops        # largest face first, RGB 112x112
    results = FaceAligner().align_many(photos)                   # many photos, detected in batches

``facerec-align`` (src/align.py) aligns folders; ``AlignedLoader`` is the embedding loader behind ``align=true``.
"""
from src.alignment.aligner import Alignment, FaceAligner
from src.alignment.detector import Face, FaceDetector
from src.alignment.preprocess import UNALIGNED, AlignedLoader
from src.alignment.template import TEMPLATE_NAME

__all__ = ["TEMPLATE_NAME", "UNALIGNED", "AlignedLoader", "Alignment", "Face", "FaceAligner", "FaceDetector"]
