"""Instantiate a face datamodule from its Hydra config, ready to use (data prepared and scanned)."""
from __future__ import annotations

import hydra
from omegaconf import DictConfig

from src.datamodules.image_folder import FaceImageFolderDataModule


def build_datamodule(data_cfg: DictConfig) -> FaceImageFolderDataModule:
    """Instantiate with plain Python values (checkpoints then load with ``weights_only``), prepare, set up."""
    datamodule = hydra.utils.instantiate(data_cfg, _convert_="all")
    datamodule.prepare_data()
    datamodule.setup()
    return datamodule
