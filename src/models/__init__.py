"""Backbones: image -> L2-agnostic face embedding."""
from src.models.backbone import FaceEmbedder, build_embedder, load_embedder_weights
from src.models.dlib_resnet import DlibResNet
from src.models.iresnet import IResNet

__all__ = ["DlibResNet", "FaceEmbedder", "IResNet", "build_embedder", "load_embedder_weights"]
