"""Rebuild the face embedder (backbone + neck, no head) from a training checkpoint alone."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from src.datamodules.identities import TrainedOn
from src.embedding.backbone_file import iresnet_from_state_dict, is_bare_state_dict
from src.models.backbone import build_embedder
from src.models.dlib_format import dlib_magic
from src.models.dlib_resnet import DLIB_IMAGE_SIZE, DlibResNet, resolve_dlib_file
from src.utils.checkpoint_file import read_checkpoint

DLIB_TRAINING_SET = "dlib's own training faces (about 3 million faces of ~7,500 people, per dlib; not shipped)"


@dataclass
class LoadedEmbedder:
    """The network plus what identifies it in a gallery (path and a short content hash)."""

    model: torch.nn.Module
    checkpoint: str
    fingerprint: str
    image_size: int | None
    trained_on: TrainedOn | None = None  # the people the checkpoint was trained on (None: bare or older file)


def model_id(loaded: LoadedEmbedder) -> str:
    """How a collection or an evaluation report names the model: architecture and checkpoint content hash."""
    arch = getattr(loaded.model, "arch", "")
    if arch == "dlib":
        return f"dlib-resnet{loaded.model.depth}-{loaded.model.embedding_dim}d@{loaded.fingerprint}"
    family = "iresnet" if arch == "iresnet" else "resnet"  # torchvision ids unchanged
    return f"{family}{loaded.model.depth}-{loaded.model.embedding_dim}d@{loaded.fingerprint}"


def _fingerprint(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_embedder(ckpt_path: str | Path) -> LoadedEmbedder:
    """Load a ``FaceRecognitionModule`` checkpoint's embedder in eval mode on CPU; ``dlib`` names dlib's pretrained
    face ResNet from the installed package, and a dlib ``.dat`` network file loads the same way.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a file that is not a checkpoint
    of this project (no ``hyper_parameters.backbone``).
    """
    path = resolve_dlib_file(ckpt_path) if str(ckpt_path) == "dlib" else Path(ckpt_path).expanduser()
    if path.is_file() and dlib_magic(path):
        model = DlibResNet(pretrained=path).eval()
        # trained on none of the user's people, so held-out evaluation takes every person of a folder
        return LoadedEmbedder(model=model, checkpoint=str(path.resolve()), fingerprint=_fingerprint(path),
                              image_size=DLIB_IMAGE_SIZE, trained_on=TrainedOn(DLIB_TRAINING_SET, frozenset()))
    if not path.is_file():
        raise FileNotFoundError(
            f"Checkpoint not found: {path}. Pass ckpt_path=<.ckpt from checkpoints/> (training writes last.ckpt and "
            f"the best ones there), or ckpt_path=dlib for dlib's pretrained face network."
        )
    checkpoint = read_checkpoint(path)
    if is_bare_state_dict(checkpoint):  # an arcface_torch backbone.pth: architecture from its keys
        model, image_size = iresnet_from_state_dict(checkpoint, str(path))
        return LoadedEmbedder(model=model, checkpoint=str(path.resolve()), fingerprint=_fingerprint(path),
                              image_size=image_size)
    hparams = checkpoint.get("hyper_parameters", {}) if isinstance(checkpoint, dict) else {}
    if "backbone" not in hparams or "state_dict" not in checkpoint:
        raise ValueError(f"{path} is not a facerec training checkpoint (no backbone hyper-parameters).")
    model = build_embedder(**{**hparams["backbone"], "pretrained": None})
    prefix = "embedder."
    state = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    model.load_state_dict(state)
    model.eval()
    return LoadedEmbedder(model=model, checkpoint=str(path.resolve()), fingerprint=_fingerprint(path),
                          image_size=hparams.get("image_size"), trained_on=TrainedOn.from_checkpoint(checkpoint))
