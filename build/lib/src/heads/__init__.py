"""Classification heads used during training: CosFace, ArcFace and a plain softmax linear head."""
from src.heads.margin_heads import ArcFaceHead, CosFaceHead, SoftmaxHead

__all__ = ["ArcFaceHead", "CosFaceHead", "SoftmaxHead"]
