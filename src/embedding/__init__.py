"""Turning images into gallery embeddings: checkpoint loading, flip test-time augmentation and the loaded model
(:class:`~src.embedding.model.FaceModel`) that every embedding path goes through."""
from src.embedding.checkpoint import load_embedder, model_id
from src.embedding.model import FaceModel, load_model
from src.embedding.tta import TTAEmbedder

__all__ = ["FaceModel", "TTAEmbedder", "load_embedder", "load_model", "model_id"]
