"""Instantiate a face datamodule from its Hydra config, ready to use (data prepared and scanned)."""
from __future__ import annotations

import hydra
from omegaconf import DictConfig

from src.datamodules.image_folder import FaceImageFolderDataModule


def build_datamodule(data_cfg: DictConfig) -> FaceImageFolderDataModule:
    """Instantiate with plain Python values (checkpoints then load with ``weights_only``), prepare, scan.

    The folder is split into training and held-out people only when something needs the split (training,
    ``num_classes``, selecting ``train``/``held_out`` people without a checkpoint's list): evaluating or
    exporting a small folder demands no validation split.
    """
    datamodule = hydra.utils.instantiate(data_cfg, _convert_="all")
    datamodule.prepare_data()
    datamodule.scan_folder()
    return datamodule
