"""LightningModules: face-embedding training with a margin head."""
from src.lightning_modules.face_module import FaceRecognitionModule

__all__ = ["FaceRecognitionModule"]
