"""Backbones: image -> L2-agnostic face embedding."""
from src.models.backbone import FaceEmbedder, build_embedder, load_embedder_weights
from src.models.iresnet import IResNet

__all__ = ["FaceEmbedder", "IResNet", "build_embedder", "load_embedder_weights"]
