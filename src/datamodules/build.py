"""Instantiate a face datamodule from its Hydra config, ready to use (data prepared and scanned)."""
from __future__ import annotations

import hydra
from omegaconf import DictConfig

from src.datamodules.image_folder import FaceImageFolderDataModule


def build_datamodule(data_cfg: DictConfig) -> FaceImageFolderDataModule:
    """Instantiate with plain Python values (checkpoints then load with ``weights_only``), prepare, scan.

    The folder is split into training and held-out people only when something needs the split (training,
    ``num_classes``, selecting ``train``/``held_out`` people without a checkpoint's list): evaluating or
    exporting a small folder demands no validation split. ``data.align`` is the training commands' step before this
    one (``src.alignment.training_data``): here it must be off.
    """
    if data_cfg.get("align"):
        raise ValueError(f"data.align={data_cfg.align} aligns photos for training (facerec-train); this command reads "
                         "data.root as it is. Embedding commands align raw photos with align=true; or point "
                         "data.root at aligned crops (facerec-align output) and set data.align=false.")
    options = {key: data_cfg[key] for key in data_cfg if key not in ("align", "align_dir")}
    datamodule = hydra.utils.instantiate(options, _convert_="all")
    datamodule.prepare_data()
    datamodule.scan_folder()
    return datamodule
