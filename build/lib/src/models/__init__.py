"""Backbones: image -> L2-agnostic face embedding."""
from src.models.backbone import FaceEmbedder, load_embedder_weights

__all__ = ["FaceEmbedder", "load_embedder_weights"]
