"""Turning images into gallery embeddings: checkpoint loading and flip test-time augmentation."""
from src.embedding.checkpoint import load_embedder
from src.embedding.tta import TTAEmbedder

__all__ = ["TTAEmbedder", "load_embedder"]
