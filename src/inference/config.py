"""What the inference commands read from their Hydra config (conf/embed.yaml, identify.yaml, enroll.yaml)."""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from src.inference.model import FaceModel, load_model


def required(cfg: DictConfig, key: str, usage: str) -> Any:
    """``cfg[key]``, or a ValueError showing the command line when it is missing."""
    value = cfg.get(key)
    if value is None or value == "":
        raise ValueError(f"{key} is required: {usage}")
    return value


def model_from_config(cfg: DictConfig, usage: str) -> FaceModel:
    """The checkpoint's model with ``gallery.tta`` (input size from the checkpoint, else ``data.image_size``);
    ``align=true`` detects and aligns faces first (options: the ``alignment`` group)."""
    return load_model(required(cfg, "ckpt_path", usage), cfg.gallery.tta, fallback_image_size=cfg.data.image_size,
                      align=bool(cfg.get("align", False)), alignment=cfg.get("alignment"))
